"""The deploy's data, checked once before any host is touched, and what follows from it.

Every problem names the key, the value and what is allowed. Patterns are matched whole (`fullmatch`), so
a trailing newline never slips through.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

from . import mirrors, registry_yaml, topology
from .access import problems as access_problems
from .archives import archive_name
from .openpgp import normalise
from .secrets import DEPLOY_USER, PULL_USER, S3_SECRET_VARIABLE, SecretStore, provided_problems, scheduler_copy

CHOICES = {
    "registry_storage": ("volume", "bind", "s3"),
    "registry_image_source": ("pull", "archives"),
    "registry_docker_package_source": ("distribution", "docker-ce", "installed"),
    "registry_tls": ("self-signed", "provided", "off"),
    "registry_auth": ("htpasswd", "none"),
    "registry_status_format": ("table", "json"),
}
BOOLEANS = ("registry_delete_enabled", "registry_ui_enabled", "registry_ui_delete_images",
            "registry_firewalld_open_ports", "registry_gc_dry_run", "registry_gc_delete_untagged",
            "registry_docker_repo_allow_http", "registry_storage_migrate", "registry_retention_apply",
            "registry_restore_force", "registry_s3_redirect", "registry_allow_downgrade")
PORTS = ("registry_port", "registry_ui_port", "registry_lb_port", "registry_lb_stats_port", "registry_backend_port",
         "registry_readonly_port", "registry_metrics_port", "registry_lb_metrics_port", "registry_node_exporter_port")
POSITIVE = ("registry_health_timeout", "registry_docker_log_max_file", "registry_maintenance_lock_timeout",
            "registry_maintenance_timeout", "registry_drain_timeout")
HOST_PATHS = ("registry_bind_path", "registry_config_dir")
NAMES = ("registry_container", "registry_ui_container", "registry_volume", "registry_auth_proxy_container")
# Directories a bind path or the configuration directory must never be: the deploy chowns and chmods them.
SYSTEM_DIRECTORIES = {"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
                      "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp",
                      "/usr", "/usr/bin", "/usr/lib", "/usr/local", "/usr/local/bin", "/usr/local/sbin",
                      "/usr/sbin", "/usr/share", "/var", "/var/lib", "/var/lib/docker", "/var/log", "/var/run",
                      "/var/tmp", "/etc/docker"}

DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
# An image reference with an explicit tag: [registry/]path:tag (a digest pin is accepted too).
DIGEST = r"@sha256:[0-9a-f]{64}"
IMAGE_REF = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._/-][a-z0-9]+)*)?"
                       rf"(?::[\w][\w.-]{{0,127}}(?:{DIGEST})?|{DIGEST})")
# A tag that says which registry an image is: 2, 2.8, 2.8.3, v3.1.1, 3.0.0-rc.1, 3.1-alpine.
VERSION_TAG = re.compile(r"v?([0-9]+)(?:[.-][\w.-]*)?")
# The registry lines the deploy knows how to configure (and the path each one reads its config.yml from).
REGISTRY_MAJORS = (2, 3)
SIZE = re.compile(r"[0-9]+[kmg]")
# The distribution spec's repository name: lowercase path components joined by "/".
REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
DNS_NAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
# S3 bucket names (the rules AWS and Ceph share), regions, access keys.
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
ACCESS_KEY = re.compile(r"[A-Za-z0-9+/=_.-]{1,128}")
USER = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# A systemd calendar expression: printable, no control characters (systemd-analyze checks the rest).
CALENDAR = re.compile(r"[A-Za-z0-9*,./:~ -]{1,200}")
# daemon.json keys set from their own variables.
OWN_DAEMON_KEYS = {"log-driver", "log-opts", "registry-mirrors", "insecure-registries"}
# What the UI's own templating (sed with "~" and "&", HTML) cannot carry.
TITLE_FORBIDDEN = set('~&<>"\n\r')


def proxied(data) -> bool:
    """Whether an access proxy stands in front of the registry (users on): it serves TLS on registry_port and
    checks who may do what; the registry itself listens on 127.0.0.1:registry_backend_port only."""
    return auth_on(data)


def managed_containers(data) -> list[str]:
    """The containers the deploy runs on a host: the registry, its access proxy with users on, and the UI
    when it is enabled."""
    return ([data.registry_container] + ([data.registry_auth_proxy_container] if proxied(data) else [])
            + ([data.registry_ui_container] if data.registry_ui_enabled else []))


def wanted_images(data) -> list[str]:
    """The images those containers run."""
    return ([data.registry_image] + ([data.registry_auth_proxy_image] if proxied(data) else [])
            + ([data.registry_ui_image] if data.registry_ui_enabled else []))


def repository_names(value) -> list:
    """`registry_repositories` as a list: a list, or a comma-separated string as --data gives it."""
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return list(value or [])


def image_tag(image: str) -> str:
    """An image reference's tag ("" when it has none): registry:3.1.1@sha256:... -> 3.1.1."""
    return image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]


def tag_major(image: str) -> int | None:
    """The registry line an image's tag names (registry:3.1.1 -> 3), or None when the tag does not tell
    (latest, a digest alone, a name of the operator's own)."""
    match = VERSION_TAG.fullmatch(image_tag(image))
    return int(match.group(1)) if match and int(match.group(1)) in REGISTRY_MAJORS else None


def registry_major(data) -> int:
    """The registry line the deploy configures for (2 or 3): registry_major_version, else the image's tag.
    Validation makes sure one of them tells; the host checks the image agrees before running it."""
    return data.get("registry_major_version") or tag_major(data.get("registry_image"))


def tls_on(data) -> bool:
    return data.registry_tls != "off"


def auth_on(data) -> bool:
    return data.registry_auth == "htpasswd"


def bucket_url(data) -> str:
    """The S3 bucket the registry keeps its data in, as a URL (registry_storage s3)."""
    return f"{data.registry_s3_endpoint.rstrip('/')}/{data.registry_s3_bucket}"


def scheme(data) -> str:
    return "https" if tls_on(data) else "http"


def registry_name(name: str, data) -> str:
    """The name clients reach the registry by."""
    return data.registry_name or name


def public_urls(name: str, data) -> tuple[str, str]:
    """The URLs operators use for the registry and the UI. A URL given as //host:port takes its scheme
    from registry_tls."""
    host = registry_name(name, data)
    urls = (data.registry_public_url or f"//{host}:{data.registry_port}",
            data.registry_ui_public_url or f"//{host}:{data.registry_ui_port}")
    return tuple(f"{scheme(data)}:{url}" if url.startswith("//") else url for url in urls)


def public_name(name: str, data) -> str:
    """The host name in the registry's public URL: what its certificate must cover."""
    return urlsplit(public_urls(name, data)[0]).hostname


def is_address(value) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


# Every variable of the project starts with registry_, so that none collides with another deploy's data in
# a shared inventory. These were named without it before: an old name still works, with a warning, for one
# release (an inventory written for the last release deploys unchanged while its owner renames); both names
# set to different values is refused.
UNPREFIXED = (
    "docker_package_source", "docker_io_version", "docker_ce_version", "docker_ce_repo_url",
    "docker_ce_key_fingerprints", "docker_repo_allow_http", "centos_vault_baseurl", "docker_daemon_options",
    "docker_registry_mirrors", "docker_insecure_registries", "docker_log_max_size", "docker_log_max_file",
    "ui_image", "image_source", "image_archive_dir", "lb_port", "lb_stats_port", "auth_proxy_image",
    "auth_proxy_container", "auth_cache_seconds", "ui_enabled", "ui_container", "ui_port", "ui_title",
    "ui_delete_images", "ui_public_url", "firewalld_open_ports", "maintenance_lock_timeout", "maintenance_timeout",
    "gc_dry_run", "gc_delete_untagged", "gc_schedule", "repositories", "retention_rules", "retention_apply",
    "backup_dir", "backup_host_dir", "backup_archive", "restore_force", "health_timeout",
)
RENAMED = {old: f"registry_{old}" for old in UNPREFIXED}


def carry_renamed(layers: list) -> tuple[dict, list[str], list[str]]:
    """From the data's layers, highest priority first (pyinfra's: --data, the host, its groups, then
    group_data/all.py): the registry_ values the old, unprefixed names give where the layer that decides
    sets the old name, a warning for each old name, and a problem for each layer setting both differently."""
    carried, warnings, found = {}, [], []
    for old, new in RENAMED.items():
        if not any(old in layer for layer in layers):
            continue
        deciding = next(layer for layer in layers if old in layer or new in layer)
        if old in deciding and new in deciding and deciding[old] != deciding[new]:
            found.append(f"{old}={deciding[old]!r} and {new}={deciding[new]!r}: {old} is the old name of {new};"
                         f" set {new} only")
        elif old in deciding:
            carried[new] = deciding[old]
            warnings.append(f"{old} is now named {new}: the old name works for this release only, rename it")
        else:
            warnings.append(f"{old} is now named {new}, which is set where it overrides {old}: {old} is ignored,"
                            " remove it")
    return carried, warnings, found


class DataError(ValueError):
    """The deploy's data is invalid; nothing was changed on any host (pyinfra says so as its own error:
    ops/pyinfra_internals.py)."""


class _Checker:
    def __init__(self, data):
        self.data = data
        self.found: list[str] = []

    def bad(self, key, allowed):
        self.found.append(f"{key}={self.data.get(key)!r}: {allowed}")

    def value(self, key):
        return self.data.get(key)

    def is_int(self, key) -> bool:
        return isinstance(self.value(key), int) and not isinstance(self.value(key), bool)

    def string_list(self, key) -> list | None:
        value = self.value(key)
        if isinstance(value, str):  # --data gives a comma-separated string
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            self.bad(key, "must be a list of non-empty strings")
            return None
        return list(value)


def _basic(c: _Checker):
    for key, choices in CHOICES.items():
        if c.value(key) not in choices:
            c.bad(key, "must be one of " + ", ".join(choices))
    for key in BOOLEANS:
        if not isinstance(c.value(key), bool):
            c.bad(key, "must be True or False")
    for key in PORTS:
        if not c.is_int(key) or not 1 <= c.value(key) <= 65535:
            c.bad(key, "must be a port number from 1 to 65535")
    if c.value("registry_ui_enabled") and c.value("registry_port") == c.value("registry_ui_port"):
        c.bad("registry_ui_port", "must differ from registry_port")
    if c.value("registry_backend_port") in (c.value("registry_port"), c.value("registry_ui_port")):
        c.bad("registry_backend_port", "must differ from registry_port and registry_ui_port")
    seconds = c.value("registry_auth_cache_seconds")
    if not c.is_int("registry_auth_cache_seconds") or not 0 <= seconds <= 3600:
        c.bad("registry_auth_cache_seconds", "must be a whole number of seconds from 0 to 3600")
    for key in POSITIVE:
        if not c.is_int(key) or c.value(key) < 1:
            c.bad(key, "must be a whole number of at least 1")
    for key in NAMES:
        if not isinstance(c.value(key), str) or not DOCKER_NAME.fullmatch(c.value(key)):
            c.bad(key, "must be a Docker name: letters, digits, '_', '.', '-'")
    containers = [c.value(key) for key in ("registry_container", "registry_auth_proxy_container")] + (
        [c.value("registry_ui_container")] if c.value("registry_ui_enabled") else [])
    if len(set(containers)) < len(containers):
        c.bad("registry_ui_container" if c.value("registry_ui_container") in containers[:2]
              else "registry_auth_proxy_container",
              "must differ from the other containers' names (registry_container, registry_auth_proxy_container,"
              " registry_ui_container)")
    title = c.value("registry_ui_title")
    if not isinstance(title, str) or TITLE_FORBIDDEN & set(title):
        c.bad("registry_ui_title",
              "must be a string without ~ & < > \" or a line break (the UI's templating breaks on them)")
    if not SIZE.fullmatch(str(c.value("registry_docker_log_max_size"))):
        c.bad("registry_docker_log_max_size", "must be a size like 10m, 512k or 1g")
    if not isinstance(c.value("registry_docker_ce_version"), str) or not c.value("registry_docker_ce_version"):
        c.bad("registry_docker_ce_version", "must be the package version as the package manager spells it")
    if c.value("registry_docker_io_version") is not None and not isinstance(c.value("registry_docker_io_version"), str):
        c.bad("registry_docker_io_version", "must be None or a Debian package version")
    options = c.value("registry_docker_daemon_options")
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        c.bad("registry_docker_daemon_options", "must be a mapping of daemon.json keys to values")
    elif OWN_DAEMON_KEYS & options.keys():
        c.bad("registry_docker_daemon_options", f"must not set {', '.join(sorted(OWN_DAEMON_KEYS & options.keys()))}:"
                                                 " set registry_docker_log_*, registry_docker_registry_mirrors,"
                                                 " registry_docker_insecure_registries")
    else:
        try:
            json.dumps(options)
        except (TypeError, ValueError):
            c.bad("registry_docker_daemon_options",
                  "must hold only JSON values (strings, numbers, booleans, lists, mappings)")


# A Prometheus duration as its configuration and rules take it: 15s, 1m, 2h.
DURATION = re.compile(r"[0-9]+(?:ms|s|m|h|d)")


def _metrics(c: _Checker):
    address = c.value("registry_metrics_address")
    if address is not None and not (isinstance(address, str) and is_address(address)):
        c.bad("registry_metrics_address", "must be None (no metrics) or an IP address like 127.0.0.1 or 0.0.0.0")
    taken = {c.value(key): key for key in ("registry_port", "registry_ui_port", "registry_backend_port")}
    for key in ("registry_readonly_port", "registry_metrics_port", "registry_node_exporter_port"):
        if c.value(key) in taken:
            c.bad(key, f"must differ from {taken[c.value(key)]}")
        taken[c.value(key)] = key
    if c.value("registry_lb_metrics_port") in (c.value("registry_lb_port"), c.value("registry_lb_stats_port")):
        c.bad("registry_lb_metrics_port", "must differ from registry_lb_port and registry_lb_stats_port")
    if c.value("registry_node_exporter") not in (None, True, False):
        c.bad("registry_node_exporter", "must be None (with a registry_monitor group), True or False")
    listen = c.value("registry_prometheus_listen")
    address, _, port = listen.rpartition(":") if isinstance(listen, str) else ("", "", "")
    if not (is_address(address) and port.isdigit() and 1 <= int(port) <= 65535):
        c.bad("registry_prometheus_listen", "must be ADDRESS:PORT, like 127.0.0.1:9090")
    if not isinstance(c.value("registry_prometheus_interval"), str) \
            or not DURATION.fullmatch(c.value("registry_prometheus_interval")):
        c.bad("registry_prometheus_interval", "must be a Prometheus duration like 15s or 1m")
    quota = c.value("registry_s3_quota_bytes")
    if quota is not None and (not c.is_int("registry_s3_quota_bytes") or quota < 1):
        c.bad("registry_s3_quota_bytes", "must be None or the bucket's capacity in bytes (a whole number)")
    rules = c.value("registry_alert_rules")
    if not isinstance(rules, str) or not Path(rules).is_file():
        c.bad("registry_alert_rules", "must be a readable file on the control machine (Prometheus alert rules)")
    alert_for = c.value("registry_alert_for")
    if alert_for is not None and not (isinstance(alert_for, str) and DURATION.fullmatch(alert_for)):
        c.bad("registry_alert_for", "must be None (the shipped rules' own) or a Prometheus duration like 5s or 2m")


def _urls(c: _Checker):
    allowed = ("https", "http") if c.value("registry_docker_repo_allow_http") else ("https",)
    for key in ("registry_docker_ce_repo_url", "registry_centos_vault_baseurl"):
        url = c.value(key)
        if url is None and key == "registry_centos_vault_baseurl":
            continue
        parts = urlsplit(url) if isinstance(url, str) else None
        if not parts or parts.scheme not in allowed or not parts.hostname or any(ch.isspace() for ch in url):
            c.bad(key,
                  f"must be a {' or '.join(allowed)}:// URL (plain http:// needs registry_docker_repo_allow_http=True)")
    fingerprints = c.string_list("registry_docker_ce_key_fingerprints")
    if fingerprints is not None and (not fingerprints or not all(
            re.fullmatch(r"[0-9A-F]{40}", normalise(f)) for f in fingerprints)):
        c.bad("registry_docker_ce_key_fingerprints",
              "must list at least one key fingerprint of 40 hex digits (spaces allowed)")
    for mirror in c.string_list("registry_docker_registry_mirrors") or []:
        parts = urlsplit(mirror)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            c.found.append(f"registry_docker_registry_mirrors: {mirror!r} must be a URL like https://mirror.local:5000"
                           " (the engine refuses to start on anything else)")
    for registry in c.string_list("registry_docker_insecure_registries") or []:
        host = registry.rsplit(":", 1)[0] if ":" in registry and not is_address(registry) else registry
        try:
            ipaddress.ip_network(registry)
            continue
        except ValueError:
            pass
        if not (DNS_NAME.fullmatch(host) or is_address(host)) or "/" in registry:
            c.found.append(f"registry_docker_insecure_registries: {registry!r} must be host[:port] or a CIDR like"
                           " 10.0.0.0/8")


def _paths(c: _Checker):
    for key in HOST_PATHS:
        path = c.value(key)
        if not isinstance(path, str) or not path.startswith("/") or any(ch in path for ch in ",\n\r\t\0"):
            c.bad(key, "must be an absolute path without ',' or control characters")
            continue
        normal = posixpath.normpath(path).replace("//", "/")
        if ".." in PurePosixPath(path).parts or path != normal:
            c.bad(key, f"must be written in normal form, e.g. {normal!r} (no '..', '.', '//' or trailing '/')")
        elif path in SYSTEM_DIRECTORIES:
            c.bad(key, "must not be a system directory: the deploy makes it root-only")
    if c.value("registry_bind_path") == c.value("registry_config_dir"):
        c.bad("registry_bind_path", "must differ from registry_config_dir")
    if not isinstance(c.value("registry_secrets_dir"), str) or not c.value("registry_secrets_dir"):
        c.bad("registry_secrets_dir", "must be a directory on the control machine")


def _maintenance(c: _Checker):
    for key in ("registry_gc_schedule", "registry_retention_schedule"):
        schedule = c.value(key)
        if schedule is not None and (not isinstance(schedule, str) or not CALENDAR.fullmatch(schedule)):
            c.bad(key, "must be None or a systemd OnCalendar expression like 'Sun *-*-* 03:00:00'")
    hostname = c.value("registry_scheduler_ssh_hostname")
    if hostname is not None and not (isinstance(hostname, str)
                                     and (DNS_NAME.fullmatch(hostname) or is_address(hostname))):
        c.bad("registry_scheduler_ssh_hostname", "must be None (the host's inventory name) or a DNS name or IP address")
    port = c.value("registry_scheduler_ssh_port")
    if not (isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535):
        c.bad("registry_scheduler_ssh_port", "must be a port number from 1 to 65535")
    repositories = c.value("registry_repositories")
    if not isinstance(repositories, (str, list, tuple)):
        c.bad("registry_repositories", "must be a list or a comma-separated string of repository names")
        return
    for name in repository_names(repositories):
        if len(name) > 255 or not isinstance(name, str) or not REPOSITORY.fullmatch(name):
            c.found.append(f"registry_repositories: {name!r} is not a repository name (lowercase letters, digits,"
                           " '.', '_', '-' in components joined by '/'; no '..', no leading '/')")


def _retention_and_backup(c: _Checker):
    rules = c.value("registry_retention_rules")
    allowed = {"repositories", "keep_last", "keep_days", "keep_tags"}
    if not isinstance(rules, (list, tuple)):
        c.bad("registry_retention_rules", "must be a list of rules")
        rules = []
    for rule in rules:
        if not isinstance(rule, dict) or not isinstance(rule.get("repositories"), str) or set(rule) - allowed:
            c.found.append(f"registry_retention_rules: {rule!r} must be a mapping with 'repositories' (a glob) and"
                           " any of keep_last, keep_days, keep_tags")
            continue
        counts = [rule.get(key) for key in ("keep_last", "keep_days") if rule.get(key) is not None]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            c.found.append(f"registry_retention_rules: {rule!r}: keep_last and keep_days must be whole numbers of 0"
                           " or more")
        if not counts and not rule.get("keep_tags"):
            c.found.append(f"registry_retention_rules: {rule!r} keeps nothing: give keep_last, keep_days or keep_tags")
        keep_tags = rule.get("keep_tags") or []
        if not isinstance(keep_tags, (list, tuple)) or not all(isinstance(t, str) and t for t in keep_tags):
            c.found.append(f"registry_retention_rules: {rule!r}: keep_tags must be a list of tag globs")
    if c.value("registry_retention_schedule") is not None and not rules:
        c.bad("registry_retention_schedule", "needs registry_retention_rules: a scheduled retention applies them")
    for key in ("registry_backup_dir",):
        if not isinstance(c.value(key), str) or not c.value(key):
            c.bad(key, "must be a directory on the control machine")
    host_dir = c.value("registry_backup_host_dir")
    if host_dir is not None and (not isinstance(host_dir, str) or not host_dir.startswith("/")
                                 or host_dir != posixpath.normpath(host_dir) or host_dir in SYSTEM_DIRECTORIES):
        c.bad("registry_backup_host_dir", "must be None or an absolute path in normal form, not a system directory")
    archive = c.value("registry_backup_archive")
    if archive is not None and (not isinstance(archive, str) or not Path(archive).is_file()):
        c.bad("registry_backup_archive", "must be None or a backup archive on the control machine")


def _object_store(c: _Checker):
    if c.value("registry_storage") != "s3":
        return
    parts = urlsplit(c.value("registry_s3_endpoint")) if isinstance(c.value("registry_s3_endpoint"), str) else None
    if not parts or parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or any(ch.isspace() for ch in c.value("registry_s3_endpoint")):
        c.bad("registry_s3_endpoint", "must be the object store's URL, like https://s3.example.com or"
                                      " http://10.0.0.5:7480, while registry_storage is s3")
    for key, pattern, allowed in (
            ("registry_s3_bucket", BUCKET, "an S3 bucket name: 3-63 lowercase letters, digits, '.', '-'"),
            ("registry_s3_region", REGION, "a region name like us-east-1"),
            ("registry_s3_access_key", ACCESS_KEY, "the object store's access key")):
        if not isinstance(c.value(key), str) or not pattern.fullmatch(c.value(key)):
            c.bad(key, f"must be {allowed} while registry_storage is s3")
    secrets_dir = c.value("registry_secrets_dir")
    if isinstance(secrets_dir, str) and secrets_dir and not SecretStore(secrets_dir).s3_secret_key():
        c.found.append(f"registry_storage='s3' needs the object store's secret key: set ${S3_SECRET_VARIABLE}"
                       f" or write it to {Path(secrets_dir) / 's3-secret-key'}")
    if c.value("registry_storage_migrate"):
        c.bad("registry_storage_migrate", "cannot move data into S3: copy docker/registry/v2 into the bucket"
                                          " with an S3 tool, then deploy without it")


def _config(c: _Checker):
    config_src = Path(str(c.value("registry_config_src")))
    if not config_src.is_file():
        c.bad("registry_config_src", "must be a readable file (relative to the directory pyinfra runs in)")
        return
    try:
        config_problems = registry_yaml.problems(registry_yaml.load(str(config_src)))
    except yaml.YAMLError as error:
        config_problems = [f"is not valid YAML: {error}"]
    for problem in config_problems:
        c.bad("registry_config_src", problem)


def _images(c: _Checker):
    images = ["registry_image"] + (["registry_auth_proxy_image"] if proxied(c.data) else []) + (
        ["registry_ui_image"] if c.value("registry_ui_enabled") else [])
    for key in images:
        if not isinstance(c.value(key), str) or not IMAGE_REF.fullmatch(c.value(key)):
            c.bad(key, "must be an image reference pinned by tag or digest, like registry:2.8.3 or"
                       " registry:2.8.3@sha256:<64 hex digits>")
    _registry_major(c)
    if c.value("registry_image_source") == "archives":
        archive_dir = Path(str(c.value("registry_image_archive_dir")))
        for key in images:
            if "@" in str(c.value(key)):
                c.bad(key, "must name a tag, not a digest, with registry_image_source = 'archives': an archive holds no"
                           " registry digest; the image ID inside it is what the host is checked against")
                continue
            archive = archive_dir / archive_name(str(c.value(key)))
            if not archive.is_file() and not scheduler_copy(c.data):  # the scheduler's chores load no image
                c.bad(key, f"needs the archive {archive} (registry_image_source is archives)")


def _registry_major(c: _Checker):
    declared, image = c.value("registry_major_version"), c.value("registry_image")
    if declared is not None and (isinstance(declared, bool) or declared not in REGISTRY_MAJORS):
        c.bad("registry_major_version", "must be None (read from registry_image's tag), 2 or 3")
        return
    if not isinstance(image, str) or not IMAGE_REF.fullmatch(image):
        return  # reported by _images
    from_tag = tag_major(image)
    if declared is None and from_tag is None:
        c.bad("registry_image", "does not say which registry it is (2 or 3): pin a version tag like"
                                " registry:3.1.1 or registry:2.8.3, or set registry_major_version")
    elif declared is not None and from_tag is not None and declared != from_tag:
        c.bad("registry_major_version", f"says {declared}, but registry_image's tag says {from_tag}")
    elif (declared or from_tag) == 2 and c.value("registry_gc_delete_untagged") is True:
        c.bad("registry_gc_delete_untagged", "must be False on registry 2: its collector deletes the platform manifests"
                                    " of every multi-arch image (they have no tag), and the image's tag stops"
                                    " pulling; registry 3 keeps them (registry_image = 'registry:3.1.1')")


def _security(c: _Checker, public_name: str | None):
    name = c.value("registry_name")
    if name is not None and (not isinstance(name, str) or not (DNS_NAME.fullmatch(name) or is_address(name))):
        c.bad("registry_name", "must be None or a DNS name or IP address")
    address = c.value("registry_bind_address")
    if address is not None and not (isinstance(address, str) and is_address(address)):
        c.bad("registry_bind_address", "must be None (all addresses) or an IP address like 127.0.0.1")
    elif address is not None and c.value("registry_ui_enabled"):
        c.bad("registry_bind_address", "must be None while registry_ui_enabled: the UI reaches the registry through the"
                                       " Docker bridge gateway (or set registry_ui_enabled=False)")
    names = c.string_list("registry_tls_names") or []
    for extra in names:
        if not (DNS_NAME.fullmatch(extra) or is_address(extra)):
            c.found.append(f"registry_tls_names: {extra!r} must be a DNS name or an IP address")
    users = c.value("registry_users")
    if not isinstance(users, (list, tuple)) or not all(isinstance(u, str) and USER.fullmatch(u) for u in users):
        c.bad("registry_users", "must be a list of user names: lowercase letters, digits, '.', '_', '-'")
        users = []
    elif {DEPLOY_USER, PULL_USER} & set(users):
        c.bad("registry_users", f"must not name {DEPLOY_USER!r} or {PULL_USER!r}: the deploy's own users")
    if c.value("registry_auth") == "htpasswd":
        if not users:
            c.bad("registry_users", "must name at least one user while registry_auth is htpasswd"
                                    " (registry_auth='none' runs an open registry)")
        if c.value("registry_tls") == "off":
            c.bad("registry_auth", "htpasswd needs TLS: passwords would cross the network in clear"
                                   " (set registry_tls, or registry_auth='none')")
        c.found += access_problems(c.data)
    login = c.value("registry_client_login")
    if login is not None and login not in [*users, PULL_USER]:
        c.bad("registry_client_login", f"must be None, {PULL_USER!r} (pull only) or one of registry_users")
    if c.value("registry_tls") == "provided" and not scheduler_copy(c.data):
        _provided(c, public_name)
    elif c.value("registry_tls") == "self-signed" and c.value("registry_tls_ca"):
        c.bad("registry_tls_ca", "goes with registry_tls='provided' (self-signed makes its own CA)")


def _provided(c: _Checker, public_name: str | None):
    cert, key, ca = c.value("registry_tls_cert"), c.value("registry_tls_key"), c.value("registry_tls_ca")
    for k, path in (("registry_tls_cert", cert), ("registry_tls_key", key)):
        if not isinstance(path, str) or not Path(path).is_file():
            c.bad(k, "must be a readable file on the control machine while registry_tls is provided")
    if ca is not None and (not isinstance(ca, str) or not Path(ca).is_file()):
        c.bad("registry_tls_ca", "must be None or a readable file on the control machine")
    if isinstance(cert, str) and isinstance(key, str) and Path(cert).is_file() and Path(key).is_file() and public_name:
        c.found += provided_problems(cert, key, public_name)


def problems(data, public_name: str | None = None) -> list[str]:
    """Every problem in `data` (anything with .get); `public_name`: the host name clients use, which a
    provided certificate must cover."""
    checker = _Checker(data)
    for check in (_basic, _metrics, _urls, _paths, _maintenance, _retention_and_backup, _object_store, _config,
                  _images):
        check(checker)
    _security(checker, public_name)
    if not checker.found:  # the mirrors' checks read the registry's image, ports and TLS, all good by now
        checker.found += mirrors.problems(data, registry_major(data))
    return checker.found


def validate(host, layers: list | None = None) -> list[str]:
    """Raise DataError naming every problem in the host's data; return what to warn about (old names).
    `layers`: the data's layers, highest priority first (ops.pyinfra_internals.data_layers), by which an old
    name is carried to its new one; by default the data itself, as one layer."""
    if layers is None:
        layers = [host.data if isinstance(host.data, dict) else host.data.dict()]
    carried, warnings, found = carry_renamed(layers)
    for name, value in carried.items():
        if isinstance(host.data, dict):
            host.data[name] = value
        else:
            setattr(host.data, name, value)  # pyinfra's HostData: over every other layer, for this run
    found += topology.membership_problems(host)
    if not isinstance(host.name, str) or not (DNS_NAME.fullmatch(host.name) or is_address(host.name)):
        found.append(f"the host's name {host.name!r} must be a DNS name or an IP address (it goes into HAProxy's"
                     " configuration, client settings, certificates and backup names)")
    try:
        name = public_name(host.name, host.data)
    except (TypeError, ValueError, AttributeError):
        name = None  # a malformed registry_public_url: reported below
    url = host.data.get("registry_public_url")
    if url is not None and (not isinstance(url, str) or not urlsplit(url).hostname):
        found.append(f"registry_public_url={url!r}: must be None or a URL like https://registry.example.com:5000")
    found += problems(host.data, name)
    found += topology.store_problems(host)
    found += topology.scheduler_problems(host)
    found += topology.monitor_problems(host)
    if not found and topology.is_registry(host):
        own = {(address.lower(), host.data.registry_port)
               for address in (host.name, registry_name(host.name, host.data), name or "", "localhost", "127.0.0.1")}
        found += mirrors.own_registry_problems(mirrors.mirrors(host.data), own)
    if found:
        raise DataError(f"Invalid data for host {host.name}:\n  " + "\n  ".join(found))
    return warnings
