"""Images: how an image maps to its offline archive, and loading it onto a host only when needed."""

import shlex
from pathlib import Path

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, operation

from core.archives import archive_image_id
from ops.container import api_answers, docker_api


class ImageId(FactBase):
    """The ID of the image the engine has under `image`, or None (not there, or no engine answering)."""

    def requires_command(self, image) -> str:
        return "curl"

    def command(self, image) -> str:
        return docker_api(f"/images/{image}/json")

    def process(self, output):
        found = (api_answers(output) or [None])[0]
        return found["Id"] if found else None


@operation()
def loaded_from_archive(image: str, archive: str):
    """
    Ensure `image` on the host is the one in the local `docker save` archive, uploading and loading
    it only when the host lacks that exact image (compared by image ID, not only by tag). It is staged in
    pyinfra's upload directory (only the login user may enter it), and what was loaded is checked: an
    image other than the archive's under that name fails the operation.
    """
    wanted = archive_image_id(Path(archive))
    if host.get_fact(ImageId, image=image) == wanted:
        host.noop(f"image {image} is loaded ({wanted[7:19]})")
        return
    remote = host.get_temp_filename(f"{image}-{wanted}") + ".tar"
    yield FileUploadCommand(archive, remote)
    remote, name = shlex.quote(remote), shlex.quote(image)
    yield (f"docker load --input {remote}; status=$?; rm -f {remote}; [ $status = 0 ] || exit $status;"
           f" loaded=$(docker image inspect --format '{{{{.Id}}}}' {name});"
           f' [ "$loaded" = {wanted} ] ||'
           f' {{ echo "{image} is $loaded after loading the archive of {wanted}" >&2; exit 1; }}')
