"""The registry container, with files/config.yml mounted read-only where its image reads it."""

import hashlib
from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files

from ops.container import ContainerSpec, Mount, container

from .storage import storage_mount

CONFIG = Path(__file__).resolve().parent.parent / "files" / "config.yml"
# Carries the hash of the config the container was made for, so a changed config is seen as drift.
CONFIG_LABEL = "io.registry-deploy.config-sha256"


def config_mount_target(image: str) -> str:
    """registry:3 (distribution 3) reads /etc/distribution; registry:2 /etc/docker/registry."""
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return "/etc/distribution" if tag.split(".")[0] == "3" else "/etc/docker/registry"


def registry_spec(data) -> ContainerSpec:
    return ContainerSpec(
        name=data.registry_container,
        image=data.registry_image,
        env={"REGISTRY_STORAGE_DELETE_ENABLED": str(data.registry_delete_enabled).lower()},
        ports={5000: data.registry_port},
        mounts=(
            storage_mount(data),
            Mount("bind", data.registry_config_dir, config_mount_target(data.registry_image), True),
        ),
        labels={CONFIG_LABEL: hashlib.sha256(CONFIG.read_bytes()).hexdigest()},
    )


@deploy("Registry")
def registry():
    data = host.data
    config = files.put(
        name="Registry configuration is in place",
        src=str(CONFIG),
        dest=f"{data.registry_config_dir}/config.yml",
        user="root",
        group="root",
        mode="0644",
    )
    container(
        name="Registry container is running",
        spec=registry_spec(data),
        restart_after=config,
    )
