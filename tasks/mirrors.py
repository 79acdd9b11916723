"""The pull-through mirrors of registry_mirrors on a registry host: each one's configuration directory, its
container on a volume of its own, and the removal of mirrors dropped from the list (their caches are kept).
With users on, each listens on loopback behind the access proxy (tasks/access_proxy.py), which serves its
port; with users off, it serves TLS itself. The health gate (tasks/health.py) checks each one's door."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files as pyinfra_files

from core.data import registry_major
from core.host_files import config_mount_target, files_hash, mirror_files
from core.mirrors import MIRROR_LABEL, UPSTREAM_CA, config_dir_prefix, mirrors
from core.registry_yaml import DATA_ROOT
from ops.container import ContainerSpec, Mount, container, labelled_absent, restarted
from ops.files import files_in_place

from .registry import CONFIG_LABEL


def mirror_spec(name: str, data, mirror, files: dict) -> ContainerSpec:
    target = config_mount_target(data)
    env = {"OTEL_TRACES_EXPORTER": "none"} if registry_major(data) >= 3 else {}
    if UPSTREAM_CA in files:
        # Go reads every certificate in these directories, beside the image's own CA bundle.
        env["SSL_CERT_DIR"] = f"/etc/ssl/certs:{target}"
    return ContainerSpec(
        name=mirror.container,
        image=data.registry_image,
        env=env,
        # The host's network: the upstream's name resolves as it does for the host (and its engine).
        network="host",
        mounts=(Mount("volume", mirror.volume, DATA_ROOT), Mount("bind", mirror.config_dir(data), target, True)),
        labels={CONFIG_LABEL: files_hash(files, files), MIRROR_LABEL: mirror.name},
        stop_timeout=data.registry_drain_timeout + 5,
    )


@deploy("Pull-through mirrors")
def pull_through_mirrors():
    data = host.data
    wanted = mirrors(data)
    for mirror in wanted:
        files = mirror_files(host.name, data, mirror)
        directory = mirror.config_dir(data)
        pyinfra_files.directory(name=f"Mirror {mirror.name}'s configuration directory is root's alone",
                                path=directory, user="root", group="root", mode="700")
        config = files_in_place(name=f"Mirror {mirror.name}'s configuration is in place",
                                files={f"{directory}/{file}": (content, "600") for file, content in files.items()})
        running = container(name=f"Mirror {mirror.name} ({mirror.upstream}) is running",
                            spec=mirror_spec(host.name, data, mirror, files))
        # Files edited on the host and put back: a container that restarted in between runs on the edit.
        restarted(name=f"Mirror {mirror.name} restarts to read its restored configuration",
                  container_name=mirror.container, _if=[config.did_change, running.did_not_change])
    # Their configuration holds the upstream's password: it goes with the container; the cache stays.
    labelled_absent(name="Mirrors no longer in registry_mirrors are removed (their cache volumes are kept)",
                    label=MIRROR_LABEL, keep=[mirror.container for mirror in wanted],
                    directory_prefix=config_dir_prefix(data))
