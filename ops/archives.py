"""Images: how an image maps to its offline archive, and loading it onto a host only when needed."""

import shlex
from pathlib import Path

from pyinfra import host
from pyinfra.api import FileUploadCommand, operation
from pyinfra.facts.docker import DockerImage

from core.archives import archive_image_id


@operation()
def loaded_from_archive(image: str, archive: str):
    """
    Ensure `image` on the host is the one in the local `docker save` archive, uploading and loading
    it only when the host lacks that exact image (compared by image ID, not only by tag). It is staged in
    pyinfra's upload directory (only the login user may enter it), and what was loaded is checked: an
    image other than the archive's under that name fails the operation.
    """
    wanted = archive_image_id(Path(archive))
    present = host.get_fact(DockerImage, object_id=image)
    if present and present[0]["Id"] == wanted:
        host.noop(f"image {image} is loaded ({wanted[7:19]})")
        return
    remote = host.get_temp_filename(f"{image}-{wanted}") + ".tar"
    yield FileUploadCommand(archive, remote)
    remote, name = shlex.quote(remote), shlex.quote(image)
    yield (f"docker load --input {remote}; status=$?; rm -f {remote}; [ $status = 0 ] || exit $status;"
           f" loaded=$(docker image inspect --format '{{{{.Id}}}}' {name});"
           f' [ "$loaded" = {wanted} ] ||'
           f' {{ echo "{image} is $loaded after loading the archive of {wanted}" >&2; exit 1; }}')
