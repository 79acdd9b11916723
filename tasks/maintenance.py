"""Maintenance: the registry's stop-the-world chores as safe single commands, and scheduled GC.

The sequences live once, in files/registry-maintenance.sh, placed on each host by tasks/host_scripts.py; gc.py,
delete_repos.py, prune_repos.py and the registry-gc timer all run it, under the host's maintenance lock.
On S3 storage the replicas share the data, so a chore runs across all of them (across_replicas).
"""

import getpass
import secrets
import shlex
import socket
import time

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import files, python, server, systemd
from pyinfra.operations.util import any_changed

from core import topology
from core.data import proxied, repository_names
from core.host_paths import MAINTENANCE_SCRIPT, SYSTEMD_UNITS
from ops.barrier import barrier
from ops.files import FileStates
from ops.lb import balanced, serving_all
from ops.maintenance import check_calendar
from ops.report import log_lines

UNITS = SYSTEMD_UNITS
# One name per run for a chore across replicas (this module is imported once per run): each replica holds
# its lock for it, and each step checks it still does.
CHORE = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
# Chores whose shared step collects garbage: they mark the bucket first, every replica still writable.
COLLECTING = ("gc", "delete-repos", "prune", "delete-manifests")


@deploy("Scheduled GC")
def gc_timer():
    data = host.data
    if data.registry_gc_schedule is None or topology.shared_store(inventory):  # replicas: tasks/scheduler.py
        _timer_absent()
    else:
        _timer_enabled(data)


def _timer_enabled(data):
    check_calendar("registry_gc_schedule", data.registry_gc_schedule)
    service = files.template(
        name="Scheduled GC service unit is in place",
        src="files/registry-gc.service.j2",
        dest=f"{UNITS}/registry-gc.service",
        script=MAINTENANCE_SCRIPT,
        delete_untagged=data.registry_gc_delete_untagged,
        timeout=data.registry_maintenance_timeout,
    )
    timer = files.template(
        name="Scheduled GC timer unit is in place",
        src="files/registry-gc.timer.j2",
        dest=f"{UNITS}/registry-gc.timer",
        schedule=data.registry_gc_schedule,
    )
    systemd.daemon_reload(name="systemd reads the scheduled GC units", _if=any_changed(service, timer))
    systemd.service(name="Scheduled GC timer is enabled", service="registry-gc.timer", running=True, enabled=True)
    systemd.service(name="Scheduled GC timer restarts on its new schedule", service="registry-gc.timer",
                    running=None, restarted=True, _if=timer.did_change)


def _timer_absent():
    # Read once: on hosts that never had the timer (most), removing it costs no further command.
    present = host.get_fact(FileStates, paths=[f"{UNITS}/registry-gc.timer", f"{UNITS}/registry-gc.service"]) or {}
    units = [unit for unit in ("registry-gc.timer", "registry-gc.service") if f"{UNITS}/{unit}" in present]
    if not units:
        host.noop("no scheduled GC")
        return
    systemd.service(
        name="Scheduled GC timer is disabled", service="registry-gc.timer", running=False, enabled=False
    )
    for unit in units:
        files.file(name=f"{unit} unit is absent", path=f"{UNITS}/{unit}", present=False)
    systemd.daemon_reload(name="systemd forgets the scheduled GC")


def _invoked_by() -> str:
    """Who runs a chore, as the lock names them to whoever has to wait."""
    return f"pyinfra on {getpass.getuser()}@{socket.gethostname()}"


def run_chore(name: str, *args: str, **arguments):
    """Run the maintenance script on the host, then say what it reported; the script's operation.
    `arguments`: pyinfra's own (_run_once, _ignore_errors), for both."""
    command = f"REGISTRY_MAINTENANCE_BY={shlex.quote(_invoked_by())} {shlex.join([MAINTENANCE_SCRIPT, *args])}"
    op = server.shell(name=name, commands=[command], **arguments)
    python.call(name=f"{name}: report", function=log_lines, op=op,
                **{key: value for key, value in arguments.items() if key == "_run_once"})
    return op


def chore(name: str, *args: str, read_only: bool = True):
    """Run a chore: on each registry host of its own, or on a shared store across the replicas, or, when it
    changes nothing (`read_only` False), on one replica."""
    if not topology.shared_store(inventory):
        if topology.is_registry(host):
            run_chore(name, *args)
    elif read_only:
        across_replicas(name, *args)
    elif topology.is_registry(host):
        run_chore(name, *args, _run_once=True)


def across_replicas(name: str, *args: str, after: tuple = ()):
    """
    A chore on replicas that share one store, which needs every one of them read-only while it removes
    anything: each replica takes its maintenance lock, then one replica at a time is drained from the load
    balancers, switched read-only and put back; one replica (pyinfra's run-once) proves every replica
    refuses uploads and does the chore; then one at a time each is switched back the same way, and the
    locks are let go. A chore that collects garbage has that replica mark the bucket first, before any
    replica is switched, so that inside the window it reads only what changed since. pyinfra orders the
    steps across hosts through the `barrier` points they all share.

    Interrupted anywhere, a replica left read-only keeps its mark, and its lock goes with the run's SSH
    connection: the next chore or deploy switches it back. A replica left drained is put back by the next
    deploy or chore.

    `after`: the chore's part that runs, on the same replica, once every replica is writable again and
    before the locks go (a backup's copy of the blobs, a restore's proof); its operation is returned.
    """
    replica = topology.is_registry(host)
    balancer = topology.is_balancer(host)
    members = topology.replicas(inventory)  # as the load balancers name them
    urls = ",".join(member["url"] for member in members)
    if replica:
        run_chore(f"{name}: this replica holds its maintenance lock", "hold", CHORE)
    if balancer:  # a replica an interrupted chore left drained would leave too few serving
        serving_all(name=f"{name}: no replica is left drained")
    barrier(name=f"{name}: every replica holds its lock", point="every replica holds its maintenance lock")
    if replica and args[0] in COLLECTING:
        # Failed, the shared step marks inside the window instead (slower, as safe).
        run_chore(f"{name}: the bucket is marked, every replica writable", "mark", CHORE,
                  *[arg for arg in args if arg == "--delete-untagged"], _run_once=True, _ignore_errors=True)
    # Behind their access proxies every replica keeps serving while it switches (its read-only twin takes
    # the requests meanwhile): all switch at once. Without, one at a time, drained from the load balancers.
    at_once = all(proxied(member["host"].data) for member in members)
    for mode in host.loop(("read-only", "writable")):
        if at_once:
            if replica:
                run_chore(f"{name}: this replica is {mode}, its twin serving meanwhile", "switch", CHORE, mode)
            barrier(name=f"{name}: every replica is switched {mode}", point=f"every replica is switched {mode}")
        for member in host.loop([] if at_once else members):
            subject = member["host"]
            if balancer:
                drained = balanced(name=f"{name}: {subject.name} is drained from the load balancer",
                                   server=member["id"], state="drain", seconds=subject.data.registry_drain_timeout)
                python.call(name=f"{name}: {subject.name} is drained: report", function=log_lines, op=drained)
            barrier(name=f"{name}: {subject.name} is drained", point=f"{subject.name} is drained")
            if host.name == subject.name:
                run_chore(f"{name}: this replica is {mode}", "switch", CHORE, mode)
            barrier(name=f"{name}: {subject.name} is {mode}", point=f"{subject.name} is {mode}")
            if balancer:
                balanced(name=f"{name}: {subject.name} is back in the load balancer", server=member["id"],
                         state="ready", seconds=subject.data.registry_health_timeout)
            barrier(name=f"{name}: {subject.name} is back", point=f"{subject.name} is back in the balance")
        if mode == "read-only" and replica:
            # A failure is kept for the release step, so that every replica is switched back first.
            run_chore(name, "shared", CHORE, urls, *args, _run_once=True, _ignore_errors=True)
        barrier(name=f"{name}: every replica is {mode}", point=f"every replica is {mode}")
    finished = None
    if after and replica:
        finished = run_chore(f"{name}: finished with every replica writable", "after", CHORE, *after,
                             _run_once=True, _ignore_errors=True)
    if replica:
        run_chore(f"{name}: this replica lets its lock go", "release", CHORE)
    return finished


@deploy("Garbage collection")
def collect_garbage():
    data = host.data
    args = ["gc"] + (["--dry-run"] if data.registry_gc_dry_run else []) + (
        ["--delete-untagged"] if data.registry_gc_delete_untagged else [])
    chore("Garbage is collected" + (" (dry run)" if data.registry_gc_dry_run else ""), *args,
          read_only=not data.registry_gc_dry_run)


@deploy("Delete repositories")
def delete_repositories():
    """Delete the repositories in data `registry_repositories`; refused, removing nothing, unless all exist."""
    data = host.data
    names = repository_names(data.registry_repositories)
    if not names:
        raise DeployError("Name the repositories to delete: --data registry_repositories=team/app,other")
    if not data.registry_delete_enabled:
        raise DeployError(f"{host.name}: registry_delete_enabled is False: deleting repositories is refused")
    chore(f"Repositories {', '.join(names)} are deleted", "delete-repos", *names)


@deploy("Prune empty repositories")
def prune_repositories():
    chore("Repositories with no tag left are pruned", "prune")
