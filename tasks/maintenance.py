"""Maintenance: the registry's stop-the-world chores as safe single commands, and scheduled GC.

The sequence lives once, in files/registry-maintenance.sh.j2, placed on each host by the deploy; gc.py,
delete_repos.py, prune_repos.py and the registry-gc timer all run it.
"""

import logging
import shlex

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import File
from pyinfra.operations import files, python, server, systemd

from ops.data import repository_names
from ops.facts import HttpGet

from .registry import config_mount_target

SCRIPT = "/usr/local/sbin/registry-maintenance"
UNITS = "/etc/systemd/system"

logger = logging.getLogger("pyinfra")


@deploy("Maintenance tools")
def maintenance_tools():
    data = host.data
    files.template(
        name="Maintenance script is in place",
        src="files/registry-maintenance.sh.j2",
        dest=SCRIPT,
        mode="0755",
        create_remote_dir=False,  # /usr/local/sbin is part of every supported OS
        container=data.registry_container,
        port=data.registry_port,
        config_dir=data.registry_config_dir,
        config_target=config_mount_target(data.registry_image),
        health_timeout=data.health_timeout,
    )
    if data.gc_schedule is None:
        _timer_absent()
    else:
        _timer_enabled(data)


def _timer_enabled(data):
    service = files.template(
        name="Scheduled GC service unit is in place",
        src="files/registry-gc.service.j2",
        dest=f"{UNITS}/registry-gc.service",
        script=SCRIPT,
        delete_untagged=data.gc_delete_untagged,
    )
    timer = files.template(
        name="Scheduled GC timer unit is in place",
        src="files/registry-gc.timer.j2",
        dest=f"{UNITS}/registry-gc.timer",
        schedule=data.gc_schedule,
    )
    systemd.service(
        name="Scheduled GC timer is enabled",
        service="registry-gc.timer",
        running=True,
        enabled=True,
        daemon_reload=service.will_change or timer.will_change,
    )


def _timer_absent():
    # Read once: on hosts that never had the timer (most), removing it costs no further command.
    units = [unit for unit in ("registry-gc.timer", "registry-gc.service")
             if host.get_fact(File, path=f"{UNITS}/{unit}")]
    if not units:
        host.noop("no scheduled GC")
        return
    systemd.service(
        name="Scheduled GC timer is disabled", service="registry-gc.timer", running=False, enabled=False
    )
    for unit in units:
        files.file(name=f"{unit} unit is absent", path=f"{UNITS}/{unit}", present=False)
    systemd.daemon_reload(name="systemd forgets the scheduled GC")


def _report(op):
    for line in op.stdout_lines:
        if line.startswith("registry-maintenance: "):
            logger.info(f"{host.print_prefix}{line.removeprefix('registry-maintenance: ')}")


def run_maintenance(name: str, *args: str):
    """Run the maintenance script on the host and show what it reported."""
    op = server.shell(name=name, commands=[shlex.join([SCRIPT, *args])])
    python.call(name=f"{name}: report", function=_report, op=op)


@deploy("Garbage collection")
def collect_garbage():
    data = host.data
    args = ["gc"] + (["--dry-run"] if data.gc_dry_run else []) + (
        ["--delete-untagged"] if data.gc_delete_untagged else [])
    run_maintenance("Garbage is collected" + (" (dry run)" if data.gc_dry_run else ""), *args)


def _missing(data, names) -> list:
    urls = [f"http://127.0.0.1:{data.registry_port}/v2/{name}/tags/list" for name in names]
    answers = host.get_fact(HttpGet, urls=urls) or []
    if len(answers) != len(names) or any(a["status"] not in (200, 404) for a in answers):
        raise DeployError(f"{host.name}: the registry did not answer whether {', '.join(names)} exist: {answers}")
    return [name for name, answer in zip(names, answers) if answer["status"] == 404]


@deploy("Delete repositories")
def delete_repositories():
    """Delete the repositories in data `repositories`; refused, removing nothing, unless all exist."""
    data = host.data
    names = repository_names(data.repositories)
    if not names:
        raise DeployError("Name the repositories to delete: --data repositories=team/app,other")
    if not data.registry_delete_enabled:
        raise DeployError(f"{host.name}: registry_delete_enabled is False: deleting repositories is refused")
    missing = _missing(data, names)
    if missing:
        raise DeployError(f"{host.name}: no such repository: {', '.join(missing)}; nothing was deleted")
    run_maintenance(f"Repositories {', '.join(names)} are deleted", "delete-repos", *names)


@deploy("Prune empty repositories")
def prune_repositories():
    run_maintenance("Repositories with no tag left are pruned", "prune")
