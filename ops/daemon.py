"""/etc/docker/daemon.json, merged: the deploy sets the keys it owns and keeps every other key the host's
engine already has (data-root, bip, live-restore, ...), so that a restart never loses the operator's
settings. geerlingguy's role writes the whole file from its data; keeping what is there is safer on hosts
whose engine someone already configured."""

from __future__ import annotations

import json
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, operation
from pyinfra.api.exceptions import DeployError

from .report import log_once

DAEMON_JSON = "/etc/docker/daemon.json"
# Beside it while a new daemon.json is not yet applied: what the engine has to do ("reload" or "restart").
# Written before the new file is moved in and removed once the engine applied it, so a run cut off between
# the two leaves it for the next run, which applies what the file already holds.
PENDING = f"{DAEMON_JSON}.pending"
# Lists the deploy adds to without dropping the host's own entries.
UNION_KEYS = ("insecure-registries", "registry-mirrors")


# The keys dockerd applies on SIGHUP (`systemctl reload docker`), its running containers untouched (dockerd's
# "configuration reload behavior"); a change to any other key needs a restart, which stops every container.
RELOADABLE = frozenset({"debug", "labels", "live-restore", "max-concurrent-downloads", "max-concurrent-uploads",
                        "max-download-attempts", "shutdown-timeout", "insecure-registries", "registry-mirrors",
                        "default-runtime", "runtimes", "authorization-plugins"})


class DaemonJson(FactBase):
    """{"config": the host's daemon.json parsed: a dict, {} when there is none, a str (the raw text) when it is
    not JSON; "pending": what a run that wrote it left for the engine to do ("reload", "restart"), or None}."""

    def command(self) -> str:
        return f"cat {DAEMON_JSON} 2>/dev/null; [ -e {PENDING} ] && echo \"@pending $(cat {PENDING})\"; true"

    def process(self, output):
        pending = [line.split(" ", 1)[1].strip() for line in output if line.startswith("@pending ")]
        text = "\n".join(line for line in output if not line.startswith("@pending "))
        # Anything but "reload" (a marker cut short) asks for the safe one: a restart.
        state = {"config": {}, "pending": None if not pending else "reload" if pending[0] == "reload" else "restart"}
        if text.strip():
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            state["config"] = parsed if isinstance(parsed, dict) else text
        return state


def _apply(action: str) -> str:
    """The command that makes a running engine apply daemon.json, then forgets that it had to."""
    verb = "try-restart" if action == "restart" else "try-reload-or-restart"
    return f"systemctl {verb} docker.service && rm -f {PENDING}"


def merged(current: dict, wanted: dict) -> dict:
    """`current` with `wanted` laid over it: owned lists gain our entries, owned mappings our keys."""
    result = dict(current)
    for key, value in wanted.items():
        if key in UNION_KEYS and isinstance(current.get(key), list):
            result[key] = current[key] + [v for v in value if v not in current[key]]
        elif isinstance(value, dict) and isinstance(current.get(key), dict):
            result[key] = {**current[key], **value}
        else:
            result[key] = value
    return result


def restart_keys(current: dict, wanted: dict) -> list[str]:
    """The keys whose change from `current` to `wanted` the engine applies only on a restart; [] when a reload
    applies every change (or nothing changes)."""
    return sorted(key for key in set(current) | set(wanted)
                  if wanted.get(key) != current.get(key) and key not in RELOADABLE)


def render(config: dict) -> str:
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


@operation()
def daemon_json(settings: dict):
    """
    Ensure daemon.json holds `settings`, keeping every key of the host's own, and a running engine applies
    it: reloaded (SIGHUP: running containers keep running) when every changed key is one it reloads, else
    restarted, saying which keys before. The merged file is checked by the engine itself (`dockerd
    --validate`, Docker 23+) before it replaces the live one. A `data-root` that would change is refused: the
    engine would come back on an empty directory. An engine that is not running reads the file when it starts.

    + settings: the keys the deploy sets (lists in UNION_KEYS are added to, mappings merged)
    """
    state = host.get_fact(DaemonJson) or {"config": {}, "pending": None}
    current, pending = state["config"], state["pending"]
    if isinstance(current, str):
        raise DeployError(f"{host.name}: {DAEMON_JSON} is not a JSON object; fix or remove it (nothing was changed)")
    wanted = merged(current, settings)
    if "data-root" in current and wanted.get("data-root") != current["data-root"]:
        raise DeployError(f"{host.name}: registry_docker_daemon_options would move data-root from"
                          f" {current['data-root']} to {wanted['data-root']}: the engine would restart on an empty"
                          " directory. Move the data first, or drop data-root from registry_docker_daemon_options"
                          " (nothing was changed)")
    if render(wanted) == render(current):
        if pending:
            log_once(f"{DAEMON_JSON}: the run that wrote it ended before the engine applied it: the engine"
                     f" {'restarts' if pending == 'restart' else 'reloads'} now")
            yield _apply(pending)
            return
        host.noop(f"{DAEMON_JSON} has the deploy's settings")
        return
    kept = sorted(set(current) - set(settings))
    if kept:
        log_once(f"{DAEMON_JSON}: keeping the host's own {', '.join(kept)}")
    # Said before the first command: a dry run stops there.
    restart_for = restart_keys(current, wanted)
    action = "restart" if restart_for or pending == "restart" else "reload"
    if restart_for:
        log_once(f"{DAEMON_JSON}: {', '.join(restart_for)} changed: the engine restarts (its containers restart)")
    else:
        log_once(f"{DAEMON_JSON}: only keys the engine reloads changed: it reloads, its containers keep running")
    staged = f"{DAEMON_JSON}.next"
    yield "mkdir -p /etc/docker"
    yield FileUploadCommand(StringIO(render(wanted)), staged)
    yield (f"if dockerd --help 2>/dev/null | grep -q -- --validate; then dockerd --validate --config-file {staged}"
           f" >/dev/null || {{ rm -f {staged}; exit 1; }}; fi; chmod 644 {staged}"
           f" && echo {action} > {PENDING} && mv -f {staged} {shlex.quote(DAEMON_JSON)}")
    yield _apply(action)
