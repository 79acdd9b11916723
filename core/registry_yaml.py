"""The registry's config.yml: the operator's file with the settings the deploy owns laid over it, and its
read-only twin, which maintenance switches to while it collects garbage."""

from __future__ import annotations

import copy

import yaml

# Inside the registry container: where it listens and where the storage mount is.
LISTEN = ":5000"
# Its debug server, serving its Prometheus metrics at METRICS_PATH (and Go's pprof): published only on
# registry_metrics_address, never on the public port.
DEBUG_PORT = 5001
METRICS_PATH = "/metrics"
DATA_ROOT = "/var/lib/registry"
HEADER = "# Rendered by the registry deploy from {src}; edit that file, not this one.\n"


def load(path: str) -> dict:
    with open(path) as source:
        return yaml.safe_load(source)


def problems(config) -> list[str]:
    """What in the operator's config.yml the deploy cannot work with, each saying why."""
    if not isinstance(config, dict):
        return ["must be a YAML mapping (a registry config.yml)"]
    found = []
    storage = config.get("storage")
    if not isinstance(storage, dict):
        return found + ["needs a 'storage' mapping"]
    filesystem = storage.get("filesystem")
    if not isinstance(filesystem, dict):
        found.append("storage must use the 'filesystem' driver (the volume or bind mount)")
    elif filesystem.get("rootdirectory", DATA_ROOT) != DATA_ROOT:
        found.append(f"storage.filesystem.rootdirectory must be {DATA_ROOT}, where the data is mounted")
    maintenance = storage.get("maintenance") or {}
    if isinstance(maintenance, dict) and "readonly" in maintenance:
        found.append("storage.maintenance.readonly is switched by the maintenance chores; remove it")
    if "delete" in storage:
        found.append("storage.delete is set from registry_delete_enabled; remove it")
    http = config.get("http") or {}
    if isinstance(http, dict) and http.get("addr", LISTEN) != LISTEN:
        found.append(f"http.addr must be {LISTEN}: the deploy publishes that port (set registry_port)")
    if isinstance(http, dict) and "debug" in http:
        found.append("http.debug is set from registry_metrics_address (metrics off the public port); remove it")
    if isinstance(http, dict) and "tls" in http:
        found.append("http.tls is set from registry_tls; remove it")
    if isinstance(http, dict) and "draintimeout" in http:
        found.append("http.draintimeout is set from registry_drain_timeout; remove it")
    if isinstance(http, dict) and "secret" in http:
        found.append("http.secret is made by the deploy (in registry_secrets_dir); remove it")
    if "auth" in config:
        found.append("auth is set from registry_auth and registry_users; remove it")
    return found


def _merge(base: dict, overlay: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def s3_storage(endpoint: str, bucket: str, region: str, access_key: str, secret_key: str, redirect: bool) -> dict:
    """The storage settings for an S3 bucket: path-style addressing at `endpoint`, pulls served by the
    registry unless `redirect` (clients reach the store themselves), and the storage driver health-checked,
    so a broken store answers 503 instead of a healthy /v2/."""
    return {"s3": {"regionendpoint": endpoint.rstrip("/"), "bucket": bucket, "region": region,
                   "accesskey": access_key, "secretkey": secret_key, "secure": endpoint.startswith("https://"),
                   "forcepathstyle": True},
            "redirect": {"disable": not redirect}}


STORAGE_HEALTH = {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}}


def writable(config: dict, delete_enabled: bool, drain_seconds: int = 30, secret: str = "",
             tls_dir: str | None = None, s3: dict | None = None, metrics: bool = False) -> dict:
    """The operator's config with what the deploy owns: the listen address, whether deletes work, how long
    a stopping registry lets requests in flight finish, the secret that signs upload state, and when
    given, TLS (registry.crt and registry.key in `tls_dir`), S3 storage (from s3_storage) in place of the
    filesystem, and the debug server with Prometheus metrics."""
    if s3:
        config = copy.deepcopy(config)
        config["storage"].pop("filesystem", None)
    owned = {"http": {"addr": LISTEN, "draintimeout": f"{drain_seconds}s"},
             "storage": {"delete": {"enabled": delete_enabled}, **(s3 or {})}}
    if s3:
        owned["health"] = STORAGE_HEALTH
    if secret:
        owned["http"]["secret"] = secret
    if metrics:
        owned["http"]["debug"] = {"addr": f":{DEBUG_PORT}", "prometheus": {"enabled": True, "path": METRICS_PATH}}
    if tls_dir:
        owned["http"]["tls"] = {"certificate": f"{tls_dir}/registry.crt", "key": f"{tls_dir}/registry.key"}
    return _merge(config, owned)


def read_only(config: dict) -> dict:
    """The same config in read-only mode; any other storage.maintenance setting (uploadpurging) is kept."""
    return _merge(config, {"storage": {"maintenance": {"readonly": {"enabled": True}}}})


def dump(config: dict, src: str) -> str:
    return HEADER.format(src=src) + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
