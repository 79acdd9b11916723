"""Maintenance: the registry's stop-the-world chores as safe single commands, and scheduled GC.

The sequences live once, in files/registry-maintenance.sh, placed on each host by tasks/tools.py; gc.py,
delete_repos.py, prune_repos.py and the registry-gc timer all run it, under the host's maintenance lock.
"""

import getpass
import shlex
import socket

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import files, python, server, systemd
from pyinfra.operations.util import any_changed

from ops.data import repository_names
from ops.facts import CalendarExpression
from ops.files import FileStates
from ops.hostscripts import MAINTENANCE_SCRIPT
from ops.report import log_lines

UNITS = "/etc/systemd/system"


@deploy("Scheduled GC")
def gc_timer():
    data = host.data
    if data.gc_schedule is None:
        _timer_absent()
    else:
        _timer_enabled(data)


def _timer_enabled(data):
    calendar = host.get_fact(CalendarExpression, expression=data.gc_schedule)
    if calendar and not calendar["valid"]:
        raise DeployError(f"{host.name}: gc_schedule={data.gc_schedule!r}: systemd-analyze calendar refuses it:"
                          f" {calendar['said']} (nothing was changed)")
    service = files.template(
        name="Scheduled GC service unit is in place",
        src="files/registry-gc.service.j2",
        dest=f"{UNITS}/registry-gc.service",
        script=MAINTENANCE_SCRIPT,
        delete_untagged=data.gc_delete_untagged,
        timeout=data.maintenance_timeout,
    )
    timer = files.template(
        name="Scheduled GC timer unit is in place",
        src="files/registry-gc.timer.j2",
        dest=f"{UNITS}/registry-gc.timer",
        schedule=data.gc_schedule,
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


def run_chore(name: str, *args: str):
    """Run the maintenance script on the host, then say what it reported; the script's operation."""
    command = f"REGISTRY_MAINTENANCE_BY={shlex.quote(_invoked_by())} {shlex.join([MAINTENANCE_SCRIPT, *args])}"
    op = server.shell(name=name, commands=[command])
    python.call(name=f"{name}: report", function=log_lines, op=op)
    return op


@deploy("Garbage collection")
def collect_garbage():
    data = host.data
    args = ["gc"] + (["--dry-run"] if data.gc_dry_run else []) + (
        ["--delete-untagged"] if data.gc_delete_untagged else [])
    run_chore("Garbage is collected" + (" (dry run)" if data.gc_dry_run else ""), *args)


@deploy("Delete repositories")
def delete_repositories():
    """Delete the repositories in data `repositories`; refused, removing nothing, unless all exist."""
    data = host.data
    names = repository_names(data.repositories)
    if not names:
        raise DeployError("Name the repositories to delete: --data repositories=team/app,other")
    if not data.registry_delete_enabled:
        raise DeployError(f"{host.name}: registry_delete_enabled is False: deleting repositories is refused")
    run_chore(f"Repositories {', '.join(names)} are deleted", "delete-repos", *names)


@deploy("Prune empty repositories")
def prune_repositories():
    run_chore("Repositories with no tag left are pruned", "prune")
