"""The scheduler (core/scheduler.py): on the registry_scheduler host, when a chore is scheduled, python3 from
the distribution, the project's copy and its virtualenv, the inventory it runs with, the secrets the chores
read, its SSH key and the other hosts' host keys, and a systemd timer per chore; on every host, the
scheduler's key authorized exactly when the scheduler runs chores on it, and no scheduler's files on a host
that is not (or no longer) the scheduler."""

from __future__ import annotations

import getpass

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from core import scheduler as sched
from core import topology
from core.data import auth_on
from core.host_files import private_ca
from core.secrets import SecretStore
from ops.files import files_in_place
from ops.maintenance import check_calendar
from ops.packages import deb_pinned, rpm_pinned
from ops.platform import distribution, os_family
from ops.scheduler import SchedulerTraces, scheduler_install, scheduler_traces


def login_user(target) -> str:
    """Whom pyinfra logs in to `target` as (and so the scheduler too)."""
    return target.data.get("ssh_user") or getpass.getuser()


@deploy("Scheduler")
def scheduler():
    """Every host: the scheduler's key and files as they should be; the scheduler host: the scheduler."""
    runner = topology.scheduler(inventory)
    chores = topology.scheduled_chores(inventory) if runner else {}
    here = bool(chores) and topology.is_scheduler(host)
    key = None
    if chores and host.name in {target.name for target in topology.scheduler_targets(inventory)}:
        public = SecretStore(host.data.registry_secrets_dir).scheduler_key()[1]
        key = f"restrict {public} {sched.KEY_COMMENT}@{runner.name}"
    keep = [sched.CONFIG, sched.HOME, *sched.unit_files(chores, 0)] if here else []
    scheduler_traces(name="The scheduler's key is authorized here exactly when it runs chores here, and only"
                          " the scheduler host holds its files", user=login_user(host), key=key, keep=keep)
    if here:
        _scheduler_host(chores)


def _scheduler_host(chores: dict[str, str]):
    data = host.data
    for chore, schedule in chores.items():
        check_calendar(f"registry_{chore}_schedule", schedule)
    if os_family(distribution(host)) == "debian":
        deb_pinned(name="python3 and the SSH client are installed",
                   packages={"python3": None, "python3-venv": None, "openssh-client": None})
    else:
        rpm_pinned(name="python3 and the SSH client are installed",
                   packages={"python3": None, "openssh-clients": None})
    scheduler_install(name="The scheduler's copy of the project and its virtualenv are in place",
                      project=sched.project_archive(), requirements=sched.requirements())
    files.directory(name="The scheduler's configuration directory exists, root only", path=sched.CONFIG,
                    user="root", group="root", mode="0700")
    units = sched.unit_files(chores, data.registry_maintenance_timeout)
    placed = files_in_place(name="The scheduler's inventory, secrets, SSH key, host keys and units are in place",
                            files={**_configuration(data), **units})
    # A timer whose schedule changed is armed anew by the reload alone.
    systemd.daemon_reload(name="systemd reads the scheduler's units", _if=any_changed(placed))
    for unit in [f"{sched.unit_name(chore)}.timer" for chore in chores]:
        systemd.service(name=f"{unit} is enabled", service=unit, running=True, enabled=True)


def _configuration(data) -> dict[str, tuple[bytes, str]]:
    """The scheduler's own files: hosts.json, the secrets' copy, its SSH key, the targets' host keys, the
    registry's configuration source."""
    registries = topology.registries(inventory)
    first = registries[0].data
    store = SecretStore(data.registry_secrets_dir)
    copy = store.copy_for_scheduler(s3=topology.shared_store(inventory), auth=auth_on(first),
                                    own_ca=private_ca(first))
    sudo = (host.state.config.SUDO, host.state.config.SUDO_USER)  # the deploy's --sudo, --sudo-user
    groups = {group: [[t.name, sched.host_data(t, t.data.dict(), login_user(t), topology.node_exporter(t), sudo)]
                      for t in members]
              for group, members in ((topology.REGISTRIES, registries),
                                     (topology.BALANCERS, topology.balancers(inventory)))}
    host_keys = {}
    for target in topology.scheduler_targets(inventory):
        traces = target.get_fact(SchedulerTraces, user=login_user(target)) or {}
        host_keys[sched.reach(target)] = traces.get("host_keys", [])
    private, _ = store.scheduler_key()
    found = {
        sched.HOSTS_FILE: (sched.hosts_file(groups), "600"),
        sched.KEY_FILE: (private, "600"),
        sched.KNOWN_HOSTS: (sched.known_hosts(host_keys), "644"),
        sched.CONFIG_SRC: (sched.config_source(first), "644"),
    }
    found.update({f"{sched.SECRETS_DIR}/{path}": (content, "600") for path, content in copy.items()})
    return found
