"""Pull-through mirrors (registry_mirrors): each entry a registry in proxy mode on every registry host, caching
one upstream, with storage of its own and the registry's TLS and users.

What distribution does with a mirror's cache, from its code (registry/proxy/proxyregistry.go, 2.8 and 3.1
alike): every blob and manifest it caches is scheduled to expire (a week; 3.x: `proxy.ttl`), and on expiry
the mirror itself deletes the manifest and removes the blob's data (`Vacuum.RemoveBlob`). The cache so cleans
up after itself, which needs `storage.delete` on and nothing else; the garbage collector is never run on a
mirror's storage (it would need the mirror read-only, and a mirror cannot be switched read-only and still
fill its cache), and no chore of this project reads or writes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from . import registry_yaml
from .secrets import SecretStore, mirror_password_variable, scheduler_copy

# The fields an entry may have; "name", "upstream" and "port" are required.
FIELDS = {"name", "upstream", "port", "backend_port", "username", "ca", "ttl", "docker_hub", "allow_http"}
# Docker Hub's registry API, as distribution's docs name it for a mirror, and the names it goes by.
DOCKER_HUB_HOSTS = {"registry-1.docker.io", "index.docker.io", "docker.io"}
NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
# A Go duration, as proxy.ttl takes it: 168h, 90m, 1h30m; "0" keeps the cache for ever.
GO_DURATION = re.compile(r"0|(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h))+")
# The default distance from a mirror's port to the loopback port its registry listens on behind the proxy.
BACKEND_OFFSET = 1000
# Carries the mirror's name on its container, so one dropped from registry_mirrors is found and removed.
MIRROR_LABEL = "io.registry-deploy.mirror"
# What a mirror's container and cache volume are named, after this and the mirror's name.
NAME_PREFIX = "registry-mirror-"
# The file in a mirror's configuration directory that holds the upstream's CA, when the entry names one.
UPSTREAM_CA = "upstream-ca.crt"


@dataclass(frozen=True)
class Mirror:
    name: str
    upstream: str
    port: int
    backend_port: int
    username: str | None
    ca: str | None
    ttl: str | None
    docker_hub: bool

    @property
    def container(self) -> str:
        return NAME_PREFIX + self.name

    @property
    def volume(self) -> str:
        """Its cache, never the registry's or another mirror's."""
        return NAME_PREFIX + self.name

    def config_dir(self, data) -> str:
        return config_dir_prefix(data) + self.name


def config_dir_prefix(data) -> str:
    """A mirror's configuration directory is this and its name: beside the registry's."""
    return f"{data.registry_config_dir}-mirror-"


def _is_hub(upstream: str) -> bool:
    return (urlsplit(upstream).hostname or "") in DOCKER_HUB_HOSTS


def mirrors(data) -> list[Mirror]:
    """registry_mirrors as checked entries (problems() has refused anything else)."""
    found = []
    for entry in data.get("registry_mirrors") or []:
        upstream = entry["upstream"].rstrip("/")
        found.append(Mirror(name=entry["name"], upstream=upstream, port=entry["port"],
                            backend_port=entry.get("backend_port") or entry["port"] + BACKEND_OFFSET,
                            username=entry.get("username"), ca=entry.get("ca"), ttl=entry.get("ttl"),
                            docker_hub=entry.get("docker_hub", _is_hub(upstream))))
    return found


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry_problems(index: int, entry, data, major: int) -> list[str]:
    where = f"registry_mirrors[{index}]"
    copy = scheduler_copy(data)  # the scheduler's data: checked where the password and the CA file are
    if not isinstance(entry, dict):
        return [f"{where}: must be a mapping like {{'name': 'hub', 'upstream': 'https://registry-1.docker.io',"
                f" 'port': 5010}}"]
    found = [f"{where}: unknown field {key!r} (fields: {', '.join(sorted(FIELDS))})"
             for key in sorted(set(entry) - FIELDS, key=str)]
    found += [f"{where}: needs {key!r}" for key in ("name", "upstream", "port") if key not in entry]
    name = entry.get("name")
    if "name" in entry and not (isinstance(name, str) and NAME.fullmatch(name)):
        found.append(f"{where}: name={name!r} must be lowercase letters, digits and '-' (up to 32; it names the"
                     " mirror's container and volume)")
    upstream = entry.get("upstream")
    parts = urlsplit(upstream) if isinstance(upstream, str) else None
    allowed = ("https", "http") if entry.get("allow_http") is True else ("https",)
    if "upstream" in entry and (not parts or parts.scheme not in allowed or not parts.hostname
                                or parts.path.strip("/") or parts.query or any(c.isspace() for c in upstream)):
        found.append(f"{where}: upstream={upstream!r} must be a {' or '.join(allowed)}:// URL of a registry's root"
                     + ("" if "http" in allowed else " (plain http:// needs 'allow_http': True: the mirror's"
                        " pulls, and the upstream password, would cross the network unencrypted)"))
    for key in ("port", "backend_port"):
        if key in entry and not (_is_int(entry[key]) and 1 <= entry[key] <= 65535):
            found.append(f"{where}: {key}={entry[key]!r} must be a port number from 1 to 65535")
    if _is_int(entry.get("port")) and "backend_port" not in entry and entry["port"] + BACKEND_OFFSET > 65535:
        found.append(f"{where}: port={entry['port']} leaves no default backend_port (port + {BACKEND_OFFSET}):"
                     " set backend_port")
    for key in ("allow_http", "docker_hub"):
        if key in entry and not isinstance(entry[key], bool):
            found.append(f"{where}: {key}={entry[key]!r} must be True or False")
    username = entry.get("username")
    if username is not None and not (isinstance(username, str) and username and ":" not in username):
        found.append(f"{where}: username={username!r} must be None or the upstream user's name")
    elif username and isinstance(name, str) and NAME.fullmatch(name) and not copy \
            and SecretStore(data.get("registry_secrets_dir")).mirror_password(name) is None:
        found.append(f"{where}: username {username!r} needs its password in ${mirror_password_variable(name)}"
                     f" or the file {data.get('registry_secrets_dir')}/mirrors/{name}")
    ca = entry.get("ca")
    if ca is not None and not (isinstance(ca, str) and (copy or Path(ca).is_file())):
        found.append(f"{where}: ca={ca!r} must be None (the public CAs) or a PEM file on the control machine")
    ttl = entry.get("ttl")
    if ttl is not None:
        if not (isinstance(ttl, str) and GO_DURATION.fullmatch(ttl)):
            found.append(f"{where}: ttl={ttl!r} must be a duration like 168h or 30m, or \"0\" (never expire)")
        elif major < 3:
            found.append(f"{where}: ttl needs registry 3 (registry 2 keeps its cache a week, fixed)")
    return found


def problems(data, major: int) -> list[str]:
    """Every problem in registry_mirrors, each naming the entry and the field; `major`: the registry's line."""
    entries = data.get("registry_mirrors")
    if entries is None:
        return []
    if not isinstance(entries, (list, tuple)):
        return [f"registry_mirrors={entries!r}: must be a list of mirrors"]
    found = []
    for index, entry in enumerate(entries):
        found += _entry_problems(index, entry, data, major)
    if found:
        return found
    if entries and data.get("registry_tls") == "off":
        return ["registry_mirrors: need registry_tls (a mirror serves TLS as the registry does; without it"
                " every client would need it in insecure-registries)"]
    taken = {data.get("registry_port"): "registry_port", data.get("registry_backend_port"): "registry_backend_port",
             data.get("registry_readonly_port"): "registry_readonly_port",
             data.get("registry_metrics_port"): "registry_metrics_port",
             data.get("registry_node_exporter_port"): "registry_node_exporter_port"}
    if data.get("registry_ui_enabled"):
        taken[data.get("registry_ui_port")] = "registry_ui_port"
    names = set()
    for mirror in mirrors(data):
        if mirror.name in names:
            found.append(f"registry_mirrors: two mirrors are named {mirror.name!r}")
        names.add(mirror.name)
        for key, port in (("port", mirror.port), ("backend_port", mirror.backend_port)):
            if port in taken:
                found.append(f"registry_mirrors: {mirror.name}'s {key} {port} is already {taken[port]}'s")
            taken[port] = f"mirror {mirror.name}'s {key}"
    return found


def own_registry_problems(mirror_list: list[Mirror], own_addresses: set[tuple[str, int]]) -> list[str]:
    """A mirror whose upstream is this host's own registry (by any name it answers to) would ask itself."""
    found = []
    for mirror in mirror_list:
        parts = urlsplit(mirror.upstream)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if ((parts.hostname or "").lower(), port) in own_addresses:
            found.append(f"registry_mirrors: {mirror.name}'s upstream {mirror.upstream} is this host's own"
                         " registry: a mirror must cache another registry")
    return found


def mirror_config(source: dict, data, mirror: Mirror, tls_dir: str | None, listen: str) -> dict:
    """The mirror's config.yml: the operator's registry configuration (filesystem storage in the mirror's own
    volume), deletes on (the cache's expiry deletes), listening on `listen` (it runs on the host's network,
    resolving the upstream's name as the host does), TLS when it serves it itself, and the proxy section
    with the upstream's credentials."""
    config = registry_yaml.writable(source, True, data.registry_drain_timeout, tls_dir=tls_dir)
    config["http"]["addr"] = listen
    proxy = {"remoteurl": mirror.upstream}
    if mirror.username:
        proxy["username"] = mirror.username
        proxy["password"] = SecretStore(data.registry_secrets_dir).mirror_password(mirror.name)
    if mirror.ttl is not None:
        proxy["ttl"] = mirror.ttl
    config["proxy"] = proxy
    return config
