"""Where the registry keeps its data: the named volume, a host directory, or an S3 bucket (which must exist).
Never removed here, and never swapped unasked for one that holds nothing while the current one holds
repositories."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import files, selinux, server

from core.data import bucket_url
from core.registry_yaml import DATA_ROOT
from ops.container import ContainerState, Mount
from ops.health import HttpCode, http_status_command
from ops.platform import SelinuxEnforcing
from ops.registry_config import StoresInS3
from ops.storage import StorageHoldings, volume_present

# Only root (the registry runs as root in its container) may read the stored images.
BIND_MODE = "0700"


def storage_mount(data) -> Mount | None:
    """The registry's data mount; None on S3 storage, which needs none."""
    if data.registry_storage == "s3":
        return None
    if data.registry_storage == "bind":
        return Mount("bind", data.registry_bind_path, DATA_ROOT)
    return Mount("volume", data.registry_volume, DATA_ROOT)


def place(mount: Mount) -> str:
    """A storage place as the host scripts name it: volume:NAME or bind:PATH."""
    return f"{mount.type}:{mount.source}"


def storage_migration(data) -> tuple[str, str] | None:
    """(from, to) when the registry runs on a place that holds repositories and the data points it at
    another that holds none: a change of place that must be a migration. None otherwise."""
    state = host.get_fact(ContainerState, container=data.registry_container, image=data.registry_image,
                          gateway=False) or {}
    mounts = [m for m in (state.get("container") or {}).get("Mounts") or [] if m.get("Destination") == DATA_ROOT]
    if not mounts:
        return None
    current = place(Mount(mounts[0]["Type"], mounts[0]["Name"] if mounts[0]["Type"] == "volume"
                          else mounts[0]["Source"], DATA_ROOT))
    if data.registry_storage == "s3":
        holdings = host.get_fact(StorageHoldings, places=[current]) or {}
        return (current, f"s3:{bucket_url(data)}") if holdings.get(current) else None
    wanted = place(storage_mount(data))
    if current == wanted:
        return None
    holdings = host.get_fact(StorageHoldings, places=[current, wanted]) or {}
    if host.get_fact(StoresInS3, path=f"{data.registry_config_dir}/writable.yml") and not holdings.get(wanted):
        return ("s3", wanted)
    return (current, wanted) if holdings.get(current) and not holdings.get(wanted) else None


@deploy("Registry storage")
def storage():
    """Make the storage place; refuse to point the registry at an empty place unless a migration is asked for.
    Returns the migration (from, to) the registry task must carry out, or None."""
    data = host.data
    migration = storage_migration(data)
    if migration and data.registry_storage == "s3":
        raise DeployError(
            f"{host.name}: the registry's repositories are in {migration[0]}, and this run would start it on"
            f" {migration[1]}: the deploy does not copy data into S3. Copy docker/registry/v2 into the bucket with"
            f" an S3 tool, then remove the registry container (docker rm -f {data.registry_container}; the"
            f" data stays) and deploy again (nothing was changed)")
    if migration and migration[0] == "s3":
        raise DeployError(
            f"{host.name}: the registry's data is in its S3 bucket, and this run would point it at {migration[1]},"
            f" which holds none: the registry would come up empty. The deploy does not copy data out of S3:"
            f" copy the bucket's docker/registry/v2 there first, or keep registry_storage='s3' (nothing was"
            f" changed)")
    if migration and not data.registry_storage_migrate:
        raise DeployError(
            f"{host.name}: the registry's repositories are in {migration[0]}, and this run would point it at"
            f" {migration[1]}, which holds none: the registry would come up empty. Set"
            f" registry_storage_migrate=True to copy them there (the old copy stays), or point the data back"
            f" (nothing was changed)")
    if data.registry_storage == "s3":
        _bucket_exists(data)
        return None
    if data.registry_storage == "volume":
        volume_present(name=f"Volume {data.registry_volume} exists", volume=data.registry_volume)
        return migration
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
    return migration


BUCKET_CHECK = """case $({probe}) in
    404) echo "{missing}" >&2; exit 1 ;;
    000) echo "{unreachable}" >&2; exit 1 ;;
esac"""


def _bucket_exists(data):
    """The bucket must exist before the registry starts on it: without it /v2/ still answers while every
    push fails with 500 NoSuchBucket. Checked while planning; on a new host (no curl yet) when it runs."""
    url = bucket_url(data)
    missing = (f"the bucket {data.registry_s3_bucket} does not exist at {data.registry_s3_endpoint}: create it"
               f" (the registry does not)")
    unreachable = f"the object store {data.registry_s3_endpoint} does not answer from this host"
    answer = host.get_fact(HttpCode, url=url, head=True, seconds=10)
    if answer is None:
        server.shell(name=f"Bucket {data.registry_s3_bucket} exists",
                     commands=[BUCKET_CHECK.format(probe=http_status_command(url, head=True, seconds=10),
                                                   missing=missing, unreachable=unreachable)])
    elif answer in ("404", "000"):
        raise DeployError(f"{host.name}: {missing if answer == '404' else unreachable} (nothing was changed)")
    else:
        host.noop(f"bucket {data.registry_s3_bucket} exists")
