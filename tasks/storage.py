"""Where the registry keeps its data: the named volume, or a host directory. Never removed here."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import docker, files, selinux

from ops.container import Mount
from ops.facts import SelinuxEnforcing

REGISTRY_DATA = "/var/lib/registry"
# Only root (the registry runs as root in its container) may read the stored images.
BIND_MODE = "0700"


def storage_mount(data) -> Mount:
    if data.registry_storage == "bind":
        return Mount("bind", data.registry_bind_path, REGISTRY_DATA)
    return Mount("volume", data.registry_volume, REGISTRY_DATA)


@deploy("Registry storage")
def registry_storage():
    data = host.data
    if data.registry_storage == "volume":
        docker.volume(name=f"Volume {data.registry_volume} exists", volume=data.registry_volume, present=True)
        return
    path = data.registry_bind_path
    files.directory(
        name=f"Registry directory {path} exists", path=path, user="root", group="root", mode=BIND_MODE
    )
    if host.get_fact(SelinuxEnforcing):
        selinux.file_context_mapping(
            name=f"{path} is labelled for containers (persistently)",
            target=f"{path}(/.*)?",
            se_type="container_file_t",
        )
        selinux.file_context(
            name=f"{path} is labelled for containers", path=path, se_type="container_file_t"
        )
