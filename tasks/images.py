"""The registry and UI images: pulled, or loaded from offline archives (air-gapped sites)."""

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import docker

from core.archives import archive_name
from core.data import wanted_images
from ops.archives import loaded_from_archive


@deploy("Images")
def images():
    data = host.data
    for image in wanted_images(data):
        if data.registry_image_source == "archives":
            loaded_from_archive(
                name=f"Image {image} is loaded from its archive",
                image=image,
                archive=str(Path(data.registry_image_archive_dir) / archive_name(image)),
            )
        else:
            docker.image(name=f"Image {image} is present", image=image, present=True)
