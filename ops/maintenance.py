"""The maintenance chores as seen from a deploy: wait for a running one, repair what a killed one left."""

from __future__ import annotations

import base64
import shlex

from pyinfra import host
from pyinfra.api import FactBase, operation
from pyinfra.api.exceptions import DeployError

from core.host_paths import LOCK, MAINTENANCE_SCRIPT, READ_ONLY_MARK
from core.retention_rules import Tag, children

from .report import log_once


class MaintenanceState(FactBase):
    """
    {"running": who holds the maintenance lock, or None; "read_only": the read-only mark a chore left
    (who and when), or None}. It asks with a shared lock for an instant (a chore holds it exclusively), so
    another question asked at the same time does not read as a chore.
    """

    def requires_command(self) -> str:
        return "flock"

    def command(self) -> str:
        return (f"if [ -e {LOCK} ] && ! flock -n -s {LOCK} true; then echo \"@running $(cat {LOCK})\"; fi; "
                f"if [ -e {READ_ONLY_MARK} ]; then echo \"@read-only $(cat {READ_ONLY_MARK})\"; fi")

    def process(self, output):
        found = {"running": None, "read_only": None}
        for line in output:
            for key in found:
                if line.startswith(f"@{key.replace('_', '-')} "):
                    found[key] = line.split(" ", 1)[1]
        return found


class RegistryReport(FactBase):
    """
    What `registry-maintenance report` says of the registry on this host, taking no lock: {"running": the
    lock's holder or None, "read_only": the mark or None, "last_chore": (chore, "started"|"ok"|"failed",
    epoch) or None, "image", "state" (the container's), "stored" ("N blobs, B bytes"), "tags": (repositories
    with a tag, tags) or None}; None before the deploy placed the script.
    """

    def requires_command(self) -> str:
        return MAINTENANCE_SCRIPT

    def command(self) -> str:
        return f"{MAINTENANCE_SCRIPT} report"

    def process(self, output):
        found = dict.fromkeys(("running", "read_only", "last_chore", "image", "state", "stored", "tags"))
        for line in output:
            key, _, value = line.partition(" ")
            key = key.removeprefix("@").replace("-", "_")
            if key in found:
                found[key] = value.strip() or None
        if found["last_chore"]:
            chore, how, when = found["last_chore"].split()
            found["last_chore"] = (chore, how, int(when))
        if found["tags"]:
            repositories, tags = found["tags"].split()
            found["tags"] = (int(repositories), int(tags))
        return found


class StoredTags(FactBase):
    """Every tag the registry stores with its digest and push time, and every manifest of each repository:
    {"tags": [Tag], "manifests": {repository: {digest: [platform manifest digests]}}}."""

    def requires_command(self) -> str:
        return MAINTENANCE_SCRIPT

    def command(self) -> str:
        return f"{MAINTENANCE_SCRIPT} tags"

    def process(self, output):
        tags, manifests = [], {}
        for line in output:
            kind, *fields = line.split(" ")
            if kind == "@tag" and len(fields) == 4:
                pushed, repository, name, digest = fields
                tags.append(Tag(repository, name, digest, float(pushed)))
            elif kind == "@manifest" and len(fields) == 3:
                repository, digest, encoded = fields
                manifests.setdefault(repository, {})[digest] = children(base64.b64decode(encoded))
        return {"tags": tags, "manifests": manifests}


class CalendarExpression(FactBase):
    """What `systemd-analyze calendar` makes of an OnCalendar expression: {"valid": bool, "said": its output}."""

    def requires_command(self, expression) -> str:
        return "systemd-analyze"

    def command(self, expression) -> str:
        return f"systemd-analyze calendar -- {shlex.quote(expression)} 2>&1 && echo @valid || true"

    def process(self, output):
        return {"valid": "@valid" in output, "said": " ".join(line.strip() for line in output if line != "@valid")}


def check_calendar(key: str, expression: str) -> None:
    """Refuse, changing nothing, an OnCalendar expression (data `key`) that this host's systemd refuses."""
    calendar = host.get_fact(CalendarExpression, expression=expression)
    if calendar and not calendar["valid"]:
        raise DeployError(f"{host.name}: {key}={expression!r}: systemd-analyze calendar refuses it: {calendar['said']}"
                          " (nothing was changed)")


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
    log_once(f"migrating the registry's data from {source} to {destination}")
    yield shlex.join([MAINTENANCE_SCRIPT, "migrate", source, destination, *spec.create_arguments()])
