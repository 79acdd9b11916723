"""The deploy's own scripts on each host (files/registry-*.sh) and what they read: the configuration
directory and the client settings probes use. Placed before anything they manage."""

import shlex

import jinja2
from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.operations import files

from core import ROOT, topology
from core.data import managed_containers, proxied, registry_major
from core.host_files import client_curlrc, config_mount_target, probe_urls, s3_curlrc
from core.registry_yaml import DATA_ROOT
from ops.files import files_in_place, private_upload_directory
from ops.host_scripts import COMMON_LIBRARY, CONTAINER_SCRIPT, HOLD, LOCK, MAINTENANCE_SCRIPT, READ_ONLY_MARK, SERVED_BY
from ops.lb import READMIT_SECONDS


def template_values(name: str, data, in_turn: bool = False) -> dict:
    """files/registry-common.sh.j2's settings from a host's name and data, each quoted for the shell;
    `in_turn`: the registry is replaced in turn with other replicas (core.topology.replaced_in_turn)."""
    registry_url, public_url, ui_url = probe_urls(name, data)
    values = dict(
        registry_container=data.registry_container,
        registry_image=data.registry_image,
        ui_container=data.ui_container if data.ui_enabled else "",
        containers=" ".join(managed_containers(data)),
        config_dir=data.registry_config_dir,
        config_target=config_mount_target(data),
        registry_major=registry_major(data),
        allow_downgrade=data.registry_allow_downgrade,
        registry_url=registry_url,
        proxy_url=public_url if proxied(data) else "",
        proxy_container=data.auth_proxy_container if proxied(data) else "",
        ui_url=ui_url,
        health_timeout=data.health_timeout,
        lock_timeout=data.maintenance_lock_timeout,
        maintenance_timeout=data.maintenance_timeout,
        data_root=DATA_ROOT,
        storage=data.registry_storage,
        s3_endpoint=(data.registry_s3_endpoint or "").rstrip("/"),
        s3_bucket=data.registry_s3_bucket or "",
        lock=LOCK,
        hold=HOLD,
        read_only_mark=READ_ONLY_MARK,
        served_by=SERVED_BY,
        readmit_seconds=READMIT_SECONDS if in_turn else 0,
    )
    return {key: shlex.quote(str(value)) for key, value in values.items()}


def script_files(name: str, data, in_turn: bool) -> dict:
    """The scripts, their shared settings, the probes' client settings and with S3 storage how the chores
    reach the bucket: path -> (content, mode)."""
    common = jinja2.Template((ROOT / "files/registry-common.sh.j2").read_text(), keep_trailing_newline=True)
    s3 = {f"{data.registry_config_dir}/s3.curlrc": (s3_curlrc(data).encode(), "600")} \
        if data.registry_storage == "s3" else {}
    return {**s3,
        COMMON_LIBRARY: (common.render(**template_values(name, data, in_turn)).encode(), "644"),
        CONTAINER_SCRIPT: ((ROOT / "files/registry-container.sh").read_bytes(), "755"),
        MAINTENANCE_SCRIPT: ((ROOT / "files/registry-maintenance.sh").read_bytes(), "755"),
        f"{data.registry_config_dir}/client.curlrc": (client_curlrc(name, data).encode(), "600"),
    }


@deploy("Host scripts")
def host_scripts():
    data = host.data
    files.directory(
        name="Registry configuration directory exists, root only",
        path=data.registry_config_dir, user="root", group="root", mode="0700",
    )
    files_in_place(name="The host scripts, their settings and the probes' client settings are in place",
                   files=script_files(host.name, data, topology.replaced_in_turn(inventory, data)))


@deploy("Uploads")
def private_uploads():
    """First on every host of every entry script: the directory pyinfra stages uploads in is the login
    user's alone before anything, secret or not, is uploaded."""
    private_upload_directory(name="pyinfra's upload directory is the login user's alone")
