"""The maintenance chores as seen from a deploy: wait for a running one, repair what a killed one left."""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import operation

from .facts import MaintenanceState
from .hostscripts import MAINTENANCE_SCRIPT
from .report import log_once


@operation()
def settled():
    """
    Ensure no maintenance chore is running and none left the registry read-only.

    A running chore is waited for (bounded by the script's lock timeout) rather than interrupted: the
    registry is read-only only while it collects, and a deploy that restarted it meanwhile could let
    uploads land in the middle of a sweep. A read-only state left by a chore that was killed (SIGKILL,
    a reboot) is switched back, and the switch proved by an accepted upload.
    """
    state = host.get_fact(MaintenanceState) or {}
    if state.get("running"):
        log_once(f"a maintenance chore is running, waiting for it: {state['running']}")
    elif state.get("read_only"):
        log_once(f"a maintenance chore left the registry read-only: {state['read_only']}")
    else:
        host.noop("no maintenance chore is running or left the registry read-only")
        return
    yield shlex.join([MAINTENANCE_SCRIPT, "recover"])


@operation(is_idempotent=False)
def migrated(source: str, destination: str, spec):
    """
    Move the registry's data from `source` to `destination` (volume:NAME or bind:PATH): copied with the
    registry read-only, every tag's digest and every blob's size compared, the registry replaced by `spec`
    (which mounts `destination`), every tag asked for through the API, then writable again. `source` is
    left as it was. Only ever asked for when the data says so (registry_storage_migrate).
    """
    log_once(f"moving the registry's data from {source} to {destination}")
    yield shlex.join([MAINTENANCE_SCRIPT, "migrate", source, destination, *spec.create_arguments()])
