"""Where the registry keeps its data: the named volume, or a host directory. Never removed here, and never
swapped unasked for one that holds nothing while the current one holds repositories."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import docker, files, selinux

from ops.container import Mount
from ops.facts import ContainerState, SelinuxEnforcing, StorageHoldings
from ops.registry_yaml import DATA_ROOT

# Only root (the registry runs as root in its container) may read the stored images.
BIND_MODE = "0700"


def storage_mount(data) -> Mount:
    if data.registry_storage == "bind":
        return Mount("bind", data.registry_bind_path, DATA_ROOT)
    return Mount("volume", data.registry_volume, DATA_ROOT)


def place(mount: Mount) -> str:
    """A storage place as the host scripts name it: volume:NAME or bind:PATH."""
    return f"{mount.type}:{mount.source}"


def storage_switch(data) -> tuple[str, str] | None:
    """(from, to) when the registry runs on a place that holds repositories and the data points it at
    another that holds none: a switch that must be a migration. None otherwise."""
    state = host.get_fact(ContainerState, container=data.registry_container, image=data.registry_image,
                          gateway=False) or {}
    mounts = [m for m in (state.get("container") or {}).get("Mounts") or [] if m.get("Destination") == DATA_ROOT]
    if not mounts:
        return None
    current = place(Mount(mounts[0]["Type"], mounts[0]["Name"] if mounts[0]["Type"] == "volume"
                          else mounts[0]["Source"], DATA_ROOT))
    wanted = place(storage_mount(data))
    if current == wanted:
        return None
    holdings = host.get_fact(StorageHoldings, places=[current, wanted]) or {}
    return (current, wanted) if holdings.get(current) and not holdings.get(wanted) else None


@deploy("Registry storage")
def storage():
    """Make the storage place; refuse a switch to an empty place unless a migration is asked for. Returns the
    switch (from, to) the registry task must carry out, or None."""
    data = host.data
    switch = storage_switch(data)
    if switch and not data.registry_storage_migrate:
        raise DeployError(
            f"{host.name}: the registry's repositories are in {switch[0]}, and this run would point it at"
            f" {switch[1]}, which holds none: the registry would come up empty. Set"
            f" registry_storage_migrate=True to copy them there (the old copy stays), or point the data back"
            f" (nothing was changed)")
    if data.registry_storage == "volume":
        docker.volume(name=f"Volume {data.registry_volume} exists", volume=data.registry_volume, present=True)
        return switch
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
    return switch
