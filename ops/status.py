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
from core.scheduler import unit_name
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


class ScheduledRuns(FactBase):
    """The scheduler's chores as systemd knows them: {chore: {"timer": the timer's state, "running": whether
    a run is under way, "started", "ended": the last run's times (epoch) or None, "result": how it ended
    (systemd's Result: success, exit-code, signal, timeout), "status": its exit status, "next": the next run
    (epoch) or None}}."""

    def requires_command(self, chores) -> str:
        return "systemctl"

    def command(self, chores) -> str:
        units = " ".join(f"{unit_name(chore)}.service {unit_name(chore)}.timer" for chore in chores)
        # The next run is printed as a date whatever --timestamp says: in UTC, to be read back as one.
        return ("TZ=UTC systemctl show --timestamp=unix -p Id -p ActiveState -p Result -p ExecMainStartTimestamp"
                f" -p ExecMainExitTimestamp -p ExecMainStatus -p NextElapseUSecRealtime {units}")

    def process(self, output):
        units, current = {}, {}
        for line in [*output, ""]:
            key, _, value = line.partition("=")
            if not line.strip():
                if current.get("Id"):
                    units[current["Id"]] = current
                current = {}
            else:
                current[key] = value.strip()

        def epoch(value):
            if value and value.startswith("@") and value[1:].isdigit():
                return int(value[1:])
            try:
                return int(datetime.strptime(value or "", "%a %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC).timestamp())
            except ValueError:
                return None

        found = {}
        for unit_id, service in units.items():
            if not unit_id.endswith(".service"):
                continue
            chore = unit_id.removesuffix(".service").removeprefix(unit_name(""))
            timer = units.get(unit_id.replace(".service", ".timer"), {})
            started = epoch(service.get("ExecMainStartTimestamp"))
            found[chore] = {"timer": timer.get("ActiveState"), "running": service.get("ActiveState") == "activating",
                            "started": started, "ended": epoch(service.get("ExecMainExitTimestamp")),
                            "result": service.get("Result") if started else None,
                            "status": service.get("ExecMainStatus"), "next": epoch(timer.get("NextElapseUSecRealtime"))}
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
            topology.is_balancer(of)), ("client", topology.is_client(of)), ("monitor", topology.is_monitor(of)),
            ("scheduler", topology.is_scheduler(of))) if member]


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
    chores = topology.scheduled_chores(inventory) if topology.is_scheduler(host) else {}
    if chores:
        runs = host.get_fact(ScheduledRuns, chores=sorted(chores)) or {}
        status["scheduled"] = [{"chore": chore, "schedule": schedule, "unit": f"{unit_name(chore)}.service",
                                **runs.get(chore, {})}
                               for chore, schedule in chores.items()]
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
