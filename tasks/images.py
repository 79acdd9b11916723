"""The registry and UI images: pulled, or loaded from offline archives (air-gapped sites)."""

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import docker

from ops.archives import archive_name, loaded_from_archive
from ops.data import wanted_images


@deploy("Images")
def images():
    data = host.data
    for image in wanted_images(data):
        if data.image_source == "archives":
            loaded_from_archive(
                name=f"Image {image} is loaded from its archive",
                image=image,
                archive=str(Path(data.image_archive_dir) / archive_name(image)),
            )
        else:
            docker.image(name=f"Image {image} is present", image=image, present=True)
