"""The scheduler (the registry_scheduler group): one host that runs the chores on a schedule across the
registry's hosts, with pyinfra itself, exactly as an operator runs gc.py and retention.py.

Why a host of the inventory runs pyinfra rather than a timer on each registry host: on a shared store a chore
has to switch every replica read-only and have the load balancers drain each in turn, step by step across
hosts (tasks/maintenance.py's across_replicas), and retention decides in Python from what every replica
stores. A timer on one replica could do neither without a second copy of that sequence. The scheduler holds
a copy of this project (core, ops, tasks, files and the two chore scripts), a virtualenv built from the
wheels the control machine downloads for it (the host needs no package index), an inventory of the registry
and load balancer hosts as it reaches them (`registry_scheduler_ssh_hostname`, `registry_scheduler_ssh_port`)
with every host's data as the control machine resolved it, their SSH host keys, an SSH key of its own that
each of those hosts authorizes, and the few secrets the chores read. It never holds the CA's key or any
user's password but the deploy's own.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from . import ROOT
from . import data as settings
from .host_paths import SYSTEMD_UNITS

HOME = "/opt/registry-scheduler"
CONFIG = "/etc/registry-scheduler"
HOSTS_FILE = f"{CONFIG}/hosts.json"
SECRETS_DIR = f"{CONFIG}/secrets"
KEY_FILE = f"{CONFIG}/id_ed25519"
KNOWN_HOSTS = f"{CONFIG}/known_hosts"
CONFIG_SRC = f"{CONFIG}/config.yml"
# Held by each scheduled run: two chores due at once run one after the other. Started together, each would
# take the maintenance lock of some replicas and wait for the other's until both timed out. In a directory
# only root may write to (not the world-writable /run/lock, where another user could take it first and
# hold every scheduled run back).
RUN_LOCK = f"{HOME}/run.lock"
# How inventory/_scheduled.py finds the hosts it names (set by the units).
HOSTS_VARIABLE = "REGISTRY_SCHEDULER_HOSTS"
# The comment the scheduler's key carries in each host's authorized_keys: how a deploy finds it to replace
# or remove it.
KEY_COMMENT = "registry-scheduler"
UNITS = SYSTEMD_UNITS
# What the scheduler's copy of the project holds: what gc.py and retention.py import and read, and no
# inventory but its own (an operator's inventory directory may hold the secrets directory).
PROJECT = ("core", "ops", "tasks", "files", "group_data/all.py", "gc.py", "retention.py", "config.py",
           "requirements.txt", "inventory/_scheduled.py")
# Each chore the scheduler may run: its script and the data it runs with.
CHORES = {
    "gc": ("gc.py", []),
    "retention": ("retention.py", ["--data", "registry_retention_apply=True"]),
}
# Connection data the scheduler sets itself; every other key of a host's data is carried as it resolved.
CONNECTION = ("ssh_hostname", "ssh_port", "ssh_key", "ssh_key_password", "ssh_password", "ssh_known_hosts_file",
              "ssh_strict_host_key_checking", "ssh_config_file", "ssh_paramiko_connect_kwargs")


def scheduled_chores(data, shared_store: bool) -> dict[str, str]:
    """{chore: OnCalendar expression} the scheduler runs for registries with this data: retention whenever
    it is scheduled, GC when the registries share a store (each host of its own runs its registry-gc timer)."""
    chores = {}
    if data.get("registry_gc_schedule") is not None and shared_store:
        chores["gc"] = data.get("registry_gc_schedule")
    if data.get("registry_retention_schedule") is not None:
        chores["retention"] = data.get("registry_retention_schedule")
    return chores


def unit_name(chore: str) -> str:
    return f"registry-scheduled-{chore}"


def project_archive() -> bytes:
    """The scheduler's copy of the project as one tar, the same bytes for the same files (sorted, no times or
    owners), so that a run with nothing changed uploads nothing."""
    paths = []
    for part in PROJECT:
        path = ROOT / part
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        paths += [p for p in found if "__pycache__" not in p.parts and p.suffix != ".pyc"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(paths):
            content = path.read_bytes()
            info = tarfile.TarInfo(path.relative_to(ROOT).as_posix())
            info.size, info.mode, info.mtime = len(content), 0o755 if path.stat().st_mode & 0o100 else 0o644, 0
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


def requirements() -> bytes:
    return (ROOT / "requirements.txt").read_bytes()


def reach(target) -> tuple[str, int]:
    """(host name or address, port) the scheduler reaches `target` at over SSH."""
    return (target.data.get("registry_scheduler_ssh_hostname") or target.name,
            target.data.get("registry_scheduler_ssh_port"))


def host_data(target, data: dict, user: str, node_exporter: bool, sudo: tuple = (False, None)) -> dict:
    """`target`'s data as the scheduler's inventory gives it: as it resolved on the control machine (`data`,
    old names carried to their new ones), with the scheduler's own connection as `user` (with sudo as the
    deploy used it: in the data, or `sudo` = its run's --sudo and --sudo-user), secrets and configuration
    file, and whether it runs the node exporter decided here (the scheduler's inventory holds no Prometheus
    host to decide it by)."""
    carried = {key: value for key, value in data.items()
               if key not in CONNECTION and key not in settings.RENAMED and not key.startswith("_")}
    hostname, port = reach(target)
    carried.update(
        ssh_hostname=hostname, ssh_port=port, ssh_user=user, ssh_key=KEY_FILE, ssh_known_hosts_file=KNOWN_HOSTS,
        ssh_strict_host_key_checking="yes", registry_secrets_dir=SECRETS_DIR, registry_config_src=CONFIG_SRC,
        registry_node_exporter=node_exporter,
    )
    for key, given in zip(("_sudo", "_sudo_user"), sudo, strict=True):
        if data.get(key) is not None or given:
            carried[key] = data[key] if data.get(key) is not None else given
    return carried


def hosts_file(groups: dict[str, list]) -> bytes:
    """inventory/_scheduled.py's input: {group: [[name, data], ...]}, data as JSON (refused otherwise)."""
    try:
        return (json.dumps(groups, indent=1, sort_keys=True) + "\n").encode()
    except TypeError as error:
        raise settings.DataError(f"the scheduler's inventory carries every host's data as JSON: {error}") from None


def known_hosts(keys: dict[tuple[str, int], list[str]]) -> bytes:
    """known_hosts lines for {(host, port): [host keys as "type base64"]}."""
    lines = []
    for (name, port), found in sorted(keys.items()):
        label = name if port == 22 else f"[{name}]:{port}"
        lines += [f"{label} {key}" for key in found]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def service_unit(chore: str, timeout: int) -> bytes:
    script, arguments = CHORES[chore]
    command = " ".join(["/usr/bin/flock", RUN_LOCK, f"{HOME}/venv/bin/pyinfra", "-y", "inventory/_scheduled.py",
                        script, *arguments])
    return (
        f"# Managed by the registry deploy: {chore} across the registry's hosts on a schedule, as the operator's\n"
        f"# pyinfra {script} would run it (logged to the journal).\n"
        "[Unit]\n"
        f"Description=Scheduled registry {chore} (pyinfra {script}) across the registry's hosts\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        "[Service]\nType=oneshot\n"
        f"WorkingDirectory={HOME}/project\n"
        f"Environment={HOSTS_VARIABLE}={HOSTS_FILE}\n"
        # Its SSH sessions go with it, and with them the replicas' locks; the read-only marks it may leave are
        # switched back by the next chore or deploy.
        f"ExecStart={command}\n"
        f"TimeoutStartSec={timeout}\n"
    ).encode()


def timer_unit(chore: str, schedule: str) -> bytes:
    return (
        f"# Managed by the registry deploy (registry_{chore}_schedule).\n"
        f"[Unit]\nDescription=Scheduled registry {chore} across the registry's hosts\n\n"
        # Not Persistent: a run missed while the scheduler was down is not made up at its boot (while the
        # replicas may be starting too), but waits for the next time; status.py shows when each last ran.
        f"[Timer]\nOnCalendar={schedule}\n\n"
        "[Install]\nWantedBy=timers.target\n"
    ).encode()


def unit_files(chores: dict[str, str], timeout: int) -> dict[str, tuple[bytes, str]]:
    files = {}
    for chore, schedule in chores.items():
        files[f"{UNITS}/{unit_name(chore)}.service"] = (service_unit(chore, timeout), "644")
        files[f"{UNITS}/{unit_name(chore)}.timer"] = (timer_unit(chore, schedule), "644")
    return files


def config_source(data) -> bytes:
    return Path(data.registry_config_src).read_bytes()
