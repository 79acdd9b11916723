"""status.py's facts, and what it prints once every host has answered (changing nothing on any host)."""

from __future__ import annotations

import atexit
import re
import shlex
import sys
from datetime import UTC, datetime

from pyinfra import host
from pyinfra.api import FactBase

from core import topology
from core.data import bucket_url, tls_on
from core.haproxy_files import BACKEND, LB_PEM
from core.mirrors import NAME_PREFIX, mirrors
from core.status import as_json, table, when

from .lb import BalancedServers
from .maintenance import RegistryReport


class CertificateEnd(FactBase):
    """When the certificate in `path` (PEM, its first certificate) expires, as openssl prints it; None
    without the file."""

    def requires_command(self, path) -> str:
        return "openssl"

    def command(self, path) -> str:
        return f"openssl x509 -enddate -noout -in {shlex.quote(path)} 2>/dev/null || true"

    def process(self, output):
        found = [line.removeprefix("notAfter=") for line in output if line.startswith("notAfter=")]
        return found[0] if found else None


class MirrorStates(FactBase):
    """Each pull-through mirror's container state ("running", "exited", ..., "missing") and the bytes its cache
    volume holds (None when there is no volume): {name: (state, bytes)}."""

    def requires_command(self, names) -> str:
        return "docker"

    def command(self, names) -> str:
        named = shlex.quote(NAME_PREFIX) + '"$n"'
        return (f"for n in {' '.join(shlex.quote(name) for name in names)}; do"
                f" s=$(docker container inspect --format '{{{{.State.Status}}}}' {named} 2>/dev/null"
                " || echo missing);"
                f" d=$(docker volume inspect --format '{{{{.Mountpoint}}}}' {named} 2>/dev/null);"
                ' b=$([ -n "$d" ] && du -sb "$d" 2>/dev/null | cut -f1); echo "$n $s ${b:--}"; done')

    def process(self, output):
        found = {}
        for line in output:
            name, state, size = (line.split() + ["", "", ""])[:3]
            found[name] = (state, int(size) if size.isdigit() else None)
        return found


def _expiry(text: str) -> datetime:
    """openssl's "Mar  1 12:00:00 2029 GMT" as a time."""
    return datetime.strptime(re.sub(r"\s+", " ", text).strip(), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)


def _storage(data) -> str:
    if data.registry_storage == "s3":
        return f"s3 {bucket_url(data)}"
    return f"volume {data.registry_volume}" if data.registry_storage == "volume" else f"bind {data.registry_bind_path}"


def roles(of) -> list[str]:
    return [role for role, member in (("registry", topology.is_registry(of)), ("load balancer",
            topology.is_balancer(of)), ("client", topology.is_client(of)), ("monitor", topology.is_monitor(of)))
            if member]


def host_status(inventory) -> dict:
    """The current host's status, read from the host itself."""
    data = host.data
    status = {"host": host.name, "roles": roles(host)}
    certificate = None
    if topology.is_registry(host):
        report = host.get_fact(RegistryReport) or {}
        status["registry"] = {"storage": _storage(data), **{key: report.get(key) for key in (
            "image", "state", "stored", "tags", "read_only", "running", "last_chore")}}
        if tls_on(data):
            certificate = f"{data.registry_config_dir}/registry.crt"
        wanted = mirrors(data)
        states = host.get_fact(MirrorStates, names=[mirror.name for mirror in wanted]) if wanted else {}
        status["mirrors"] = []
        for mirror in wanted:
            state, cached = states.get(mirror.name, ("missing", None))
            status["mirrors"].append({"name": mirror.name, "upstream": mirror.upstream, "port": mirror.port,
                                      "state": state, "cache_bytes": cached})
    if topology.is_balancer(host):
        names = {server["id"]: f"{server['address']}:{server['port']}" for server in topology.replicas(inventory)}
        found = host.get_fact(BalancedServers, backend=BACKEND) or {}
        status["replicas"] = {f"{server} {names.get(server, '')}".strip(): state for server, state in found.items()}
        if tls_on(data):
            certificate = LB_PEM
    ends = host.get_fact(CertificateEnd, path=certificate) if certificate else None
    if ends:
        expires = _expiry(ends)
        status["certificate"] = {"expires": when(int(expires.timestamp())),
                                 "days_left": (expires - datetime.now(UTC)).days}
    return status


_statuses: dict[str, dict] = {}
_shown_at_exit = False


def collect(inventory, data) -> None:
    """Gather the current host's status; the first call arranges for every host's to be printed (in the
    format `registry_status_format` names) when the run ends, on stdout. (Hosts are prepared side by side:
    another host's call may come while this one waits on its facts.)"""
    global _shown_at_exit
    if not _shown_at_exit:
        _shown_at_exit = True
        every = [h for h in inventory if inventory.state.is_host_in_limit(h)]
        fmt = data.registry_status_format

        def show():
            statuses = [_statuses.get(h.name) or {"host": h.name, "roles": roles(h), "unreachable":
                        "no status: pyinfra could not reach it or it failed (see above)"} for h in every]
            sys.stdout.write((as_json(statuses) if fmt == "json" else table(statuses)) + "\n")

        atexit.register(show)
    _statuses[host.name] = host_status(inventory)
