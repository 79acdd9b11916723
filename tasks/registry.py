"""The registry container, reading its configuration directory (writable.yml, and readonly.yml while a
chore collects garbage) mounted read-only where its image reads it."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import python

from ops.config import content_hash, registry_config
from ops.container import ContainerSpec, Mount, container, restarted
from ops.maintenance import settled
from ops.report import log_lines

from .registry_files import config_files, config_mount_target
from .storage import storage_mount

# Carries the hash of the configuration the container was made for, so a changed one is seen as drift.
CONFIG_LABEL = "io.registry-deploy.config-sha256"


def registry_spec(data) -> ContainerSpec:
    return ContainerSpec(
        name=data.registry_container,
        image=data.registry_image,
        ports={5000: data.registry_port},
        mounts=(
            storage_mount(data),
            Mount("bind", data.registry_config_dir, config_mount_target(data.registry_image), True),
        ),
        labels={CONFIG_LABEL: content_hash(config_files(data))},
    )


@deploy("Registry")
def registry():
    data = host.data
    chores = settled(name="No maintenance chore is running or left the registry read-only")
    python.call(name="Say what the maintenance recovery did", function=log_lines, op=chores,
                _if=chores.did_change)
    config = registry_config(
        name="Registry configuration is in place",
        files=config_files(data),
        directory=data.registry_config_dir,
    )
    running = container(name="Registry container is running", spec=registry_spec(data))
    restarted(
        name="Registry restarts to read its restored configuration",
        container_name=data.registry_container,
        _if=[config.did_change, running.did_not_change],
    )
