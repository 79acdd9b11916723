"""The registry container, with its config.yml (files/config.yml by default) mounted read-only where its
image reads it."""

import hashlib
from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy

from ops.config import checked_config
from ops.container import ContainerSpec, Mount, container

from .storage import storage_mount

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
        labels={CONFIG_LABEL: hashlib.sha256(Path(data.registry_config_src).read_bytes()).hexdigest()},
    )


@deploy("Registry")
def registry():
    data = host.data
    config = checked_config(
        name="Registry configuration is in place",
        src=data.registry_config_src,
        dest=f"{data.registry_config_dir}/config.yml",
        image=data.registry_image,
        target=config_mount_target(data.registry_image),
    )
    container(
        name="Registry container is running",
        spec=registry_spec(data),
        restart_after=config,
    )
