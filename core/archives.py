"""How an image maps to its offline archive, and what the archive holds (read on the control machine)."""

import json
import tarfile
from pathlib import Path


def archive_name(image: str) -> str:
    """The file an image is saved to and loaded from: `registry:2.8.3` -> `registry_2.8.3.tar`."""
    return image.replace("/", "_").replace(":", "_") + ".tar"


def archive_image_id(path: Path) -> str:
    """The image ID (`sha256:...`) inside a `docker save` archive, read from its manifest."""
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    config = manifest[0]["Config"]
    return "sha256:" + Path(config).name.removesuffix(".json").removeprefix("sha256:")
