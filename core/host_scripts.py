"""What the deploy's host scripts (files/registry-*.sh) read on each host: their shared settings
(files/registry-common.sh.j2, rendered from the host's data) and the client settings their probes use."""

from __future__ import annotations

import shlex

import jinja2

from . import ROOT
from .data import managed_containers, proxied, registry_major
from .haproxy_files import READMIT_SECONDS
from .host_files import client_curlrc, config_mount_target, mirror_urls, probe_urls, s3_curlrc
from .host_paths import (
    CHORE_METRICS,
    CHORE_RESULTS,
    COMMON_LIBRARY,
    CONTAINER_SCRIPT,
    HOLD,
    LAST_CHORE,
    LAST_GC,
    LOCK,
    MAINTENANCE_SCRIPT,
    MIGRATION_INCOMPLETE,
    PROXY_SOCKET_NAME,
    READ_ONLY_MARK,
    SERVED_BY,
    TEXTFILE_DIR,
    proxy_runtime_volume,
)
from .registry_yaml import DATA_ROOT


def template_values(name: str, data, in_turn: bool = False, metrics: bool = False) -> dict:
    """files/registry-common.sh.j2's settings from a host's name and data, each quoted for the shell;
    `in_turn`: the registry is replaced in turn with other replicas (core.topology.replaced_in_turn);
    `metrics`: the chores write their metrics for the node exporter (core.topology.node_exporter)."""
    registry_url, public_url, ui_url = probe_urls(name, data)
    values = dict(
        registry_container=data.registry_container,
        registry_image=data.registry_image,
        ui_container=data.registry_ui_container if data.registry_ui_enabled else "",
        containers=" ".join(managed_containers(data)),
        config_dir=data.registry_config_dir,
        config_target=config_mount_target(data),
        registry_major=registry_major(data),
        allow_downgrade=data.registry_allow_downgrade,
        registry_url=registry_url,
        proxy_url=public_url if proxied(data) else "",
        proxy_container=data.registry_auth_proxy_container if proxied(data) else "",
        proxy_volume=proxy_runtime_volume(data) if proxied(data) else "",
        proxy_socket=PROXY_SOCKET_NAME,
        readonly_container=f"{data.registry_container}-readonly",
        readonly_port=data.registry_readonly_port,
        ui_url=ui_url,
        mirror_urls=" ".join(mirror_urls(name, data)),
        health_timeout=data.registry_health_timeout,
        lock_timeout=data.registry_maintenance_lock_timeout,
        maintenance_timeout=data.registry_maintenance_timeout,
        data_root=DATA_ROOT,
        storage=data.registry_storage,
        s3_endpoint=(data.registry_s3_endpoint or "").rstrip("/"),
        s3_bucket=data.registry_s3_bucket or "",
        lock=LOCK,
        hold=HOLD,
        read_only_mark=READ_ONLY_MARK,
        served_by=SERVED_BY,
        migration_incomplete=MIGRATION_INCOMPLETE,
        last_chore=LAST_CHORE,
        chore_results=CHORE_RESULTS,
        last_gc=LAST_GC,
        chore_metrics=f"{TEXTFILE_DIR}/{CHORE_METRICS}" if metrics else "",
        s3_quota=data.registry_s3_quota_bytes or "",
        readmit_seconds=READMIT_SECONDS if in_turn else 0,
    )
    return {key: shlex.quote(str(value)) for key, value in values.items()}


def script_files(name: str, data, in_turn: bool, metrics: bool = False) -> dict:
    """The scripts, their shared settings, the probes' client settings and with S3 storage how the chores
    reach the bucket: path -> (content, mode)."""
    common = jinja2.Template((ROOT / "files/registry-common.sh.j2").read_text(), keep_trailing_newline=True)
    s3 = {f"{data.registry_config_dir}/s3.curlrc": (s3_curlrc(data).encode(), "600")} \
        if data.registry_storage == "s3" else {}
    return {**s3,
        COMMON_LIBRARY: (common.render(**template_values(name, data, in_turn, metrics)).encode(), "644"),
        CONTAINER_SCRIPT: ((ROOT / "files/registry-container.sh").read_bytes(), "755"),
        MAINTENANCE_SCRIPT: ((ROOT / "files/registry-maintenance.sh").read_bytes(), "755"),
        f"{data.registry_config_dir}/client.curlrc": (client_curlrc(name, data).encode(), "600"),
    }
