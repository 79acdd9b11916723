"""Plan a deploy for a fake host: facts in, commands out, with nothing connected or run.

deploy.py (or a chore's file) runs in pyinfra's API mode against a host whose facts come from a table; a
fact the table lacks fails the test, naming it, so no command is ever planned on a guessed fact. A table
entry keyed by the fact's class alone answers it whatever its arguments (for facts whose arguments are
pyinfra's own business, like the regex apt.repo builds).

What a plan is read for is behaviour: packages and versions installed, files written and their content,
services restarted, containers created and how. Never pyinfra's temporary file names or our own shell.
"""

from __future__ import annotations

import runpy
import shlex
import tempfile
from dataclasses import dataclass

from pyinfra.api import Config, FileUploadCommand, Inventory, State, StringCommand
from pyinfra.context import ctx_host, ctx_inventory, ctx_state

from core.host_paths import CONTAINER_SCRIPT, MAINTENANCE_SCRIPT
from dev.operator import group_defaults
from ops.files import UPLOAD_DIR
from ops.pyinfra_internals import facts_from, plan_commands
from sandbox.settings import ROOT


class MissingFact(AssertionError):
    pass


def fact_key(cls, **kwargs):
    """How the table names a fact: its class name and its arguments (lists as tuples)."""
    return (cls.__name__, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items())))


def any_arguments(cls):
    """A table key answering `cls` whatever its arguments."""
    return (cls.__name__, "*")


def _content(command: FileUploadCommand) -> bytes:
    src = command.src
    if hasattr(src, "read"):
        src.seek(0)
        content = src.read()
    else:
        with open(src, "rb") as f:
            content = f.read()
    return content.encode() if isinstance(content, str) else content


@dataclass
class Plan:
    commands: list[str]  # shell commands, and "upload DEST" for each file upload
    uploads: dict[str, bytes]  # DEST -> content

    def index(self, predicate) -> int:
        """Position of the first command the predicate accepts (fails the test when there is none)."""
        for position, command in enumerate(self.commands):
            if predicate(command):
                return position
        raise AssertionError("no planned command matches; the plan was:\n  " + "\n  ".join(self.commands))

    def installed(self) -> set[str]:
        """Packages the plan installs, as pinned: `name=version` (apt) or `name-version` (yum/dnf)."""
        found = set()
        for command in self.commands:
            words = shlex.split(command)
            if "install" in words and words[0] in ("yum", "dnf", "DEBIAN_FRONTEND=noninteractive"):
                found |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
        return found

    def written(self, path: str) -> bytes:
        """The content the plan gives the file at `path`, whether uploaded there or staged beside it first
        (as `path.new` or `path.next`, or `dir.next/name` for a whole directory)."""
        directory, name = path.rsplit("/", 1)
        for dest in (path, f"{path}.new", f"{path}.next", f"{directory}.next/{name}"):
            if dest in self.uploads:
                return self.uploads[dest]
        raise AssertionError(f"the plan writes no {path}; it uploads {sorted(self.uploads)}")

    def reloaded(self) -> list[str]:
        """Services the plan reloads (systemctl reload, or try-reload-or-restart: a running one reloads)."""
        return [shlex.split(c)[2] for c in self.commands if not c.startswith("upload ")
                and shlex.split(c)[:2] in (["systemctl", "reload"], ["systemctl", "try-reload-or-restart"])]

    def restarted(self) -> list[str]:
        """Services and containers the plan restarts."""
        found = []
        for command in self.commands:
            words = shlex.split(command) if not command.startswith("upload ") else []
            if words[:2] in (["systemctl", "restart"], ["systemctl", "try-restart"], [CONTAINER_SCRIPT, "restart"]):
                found.append(words[2])
        return found

    def containers(self) -> dict[str, list[str]]:
        """Containers the plan creates or replaces: name -> their `docker create` arguments."""
        found = {}
        for command in self.commands:
            if command.startswith(f"{CONTAINER_SCRIPT} replace "):
                words = shlex.split(command)
                found[words[2]] = words[3:]
        return found

    def ran(self, *words: str) -> bool:
        """Whether a command starting with these words is planned."""
        return any(shlex.split(c)[:len(words)] == list(words) for c in self.commands if not c.startswith("upload "))

    def chores(self) -> list[list[str]]:
        """Maintenance script runs: their arguments."""
        found = []
        for command in self.commands:
            words = shlex.split(command) if MAINTENANCE_SCRIPT in command else []
            if words:
                found.append(words[words.index(MAINTENANCE_SCRIPT) + 1:])
        return found


# Secrets the plans make (a CA, passwords) go here, never into the repository's inventory/.
SECRETS = tempfile.mkdtemp(prefix="plan-secrets-")


def plan_data(**data) -> dict:
    return {**group_defaults(), "registry_secrets_dir": SECRETS, **data}


def plan(facts: dict, file: str = "deploy.py", groups=None, **data) -> Plan:
    """Everything `file` would do to a host with these facts and this data, in order. `groups`: the
    inventory's groups (name -> host names); by default planned-host alone, as a registry host."""
    groups = groups or {"registry_hosts": ["planned-host"]}
    names = sorted({name for members in groups.values() for name in members})
    inventory = Inventory((names, plan_data(**data)), **{group: (members, {}) for group, members in groups.items()})
    state = State(inventory, Config(TEMP_DIR=UPLOAD_DIR))  # as config.py sets it
    host = inventory.get_host("planned-host")

    def answer(cls, args, kwargs):
        assert not args, f"{cls.__name__} asked with positional arguments {args}"
        for key in (fact_key(cls, **kwargs), any_arguments(cls)):
            if key in facts:
                return facts[key]
        raise MissingFact(f"the plan asked for a fact the table lacks: {fact_key(cls, **kwargs)}")

    with facts_from(answer), ctx_state.use(state), ctx_inventory.use(inventory), ctx_host.use(host):
        runpy.run_path(str(ROOT / file), run_name="deploy")
        planned = plan_commands(state, host)
    commands, uploads = [], {}
    for command in planned:
        if isinstance(command, FileUploadCommand):
            commands.append(f"upload {command.dest}")
            uploads[command.dest] = _content(command)
        elif isinstance(command, StringCommand):
            commands.append(command.get_raw_value())
        else:
            commands.append(str(command))
    return Plan(commands, uploads)
