"""The deploy's own scripts on each host (files/registry-*.sh) and what they read: the configuration
directory and the client settings probes use. Placed before anything they manage."""

import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files

from ops.data import managed_containers
from ops.hostscripts import COMMON_LIBRARY, CONTAINER_SCRIPT, LOCK, MAINTENANCE_SCRIPT, READ_ONLY_MARK

from .registry_files import client_curlrc, config_mount_target, probe_urls


def template_values(name: str, data) -> dict:
    """files/registry-common.sh.j2's settings from a host's name and data, each quoted for the shell."""
    registry_url, ui_url = probe_urls(name, data)
    values = dict(
        registry_container=data.registry_container,
        registry_image=data.registry_image,
        ui_container=data.ui_container if data.ui_enabled else "",
        containers=" ".join(managed_containers(data)),
        config_dir=data.registry_config_dir,
        config_target=config_mount_target(data.registry_image),
        registry_url=registry_url,
        ui_url=ui_url,
        health_timeout=data.health_timeout,
        lock_timeout=data.maintenance_lock_timeout,
        lock=LOCK,
        read_only_mark=READ_ONLY_MARK,
    )
    return {key: shlex.quote(str(value)) for key, value in values.items()}


@deploy("Host tools")
def host_tools():
    data = host.data
    files.directory(
        name="Registry configuration directory exists, root only",
        path=data.registry_config_dir, user="root", group="root", mode="0700",
    )
    files.put(
        name="Client settings for the deploy's own probes are in place",
        src=StringIO(client_curlrc(host.name, data)),
        dest=f"{data.registry_config_dir}/client.curlrc",
        user="root", group="root", mode="0600",
    )
    files.template(
        name="Settings shared by the host scripts are in place",
        src="files/registry-common.sh.j2",
        dest=COMMON_LIBRARY,
        mode="0644",
        **template_values(host.name, data),
    )
    for src, dest in (("files/registry-container.sh", CONTAINER_SCRIPT),
                      ("files/registry-maintenance.sh", MAINTENANCE_SCRIPT)):
        files.put(name=f"{dest} is in place", src=src, dest=dest, mode="0755")
