"""Plan a deploy for a fake host: facts in, commands out, with nothing connected or run.

The deploy file runs in pyinfra's API mode against a host whose facts come from a table; a fact the
table lacks fails the test, naming it, so no command is ever planned on a guessed fact.
"""

from __future__ import annotations

import runpy
from contextlib import contextmanager

from pyinfra.api import Config, FileUploadCommand, Inventory, State, StringCommand
from pyinfra.api.host import Host
from pyinfra.connectors.util import CommandOutput
from pyinfra.context import ctx_host, ctx_state

from sandbox.config import ROOT
from tests.support import group_defaults


class MissingFact(AssertionError):
    pass


def fact_key(cls, **kwargs):
    """How the table names a fact: its class name and its arguments (lists as tuples)."""
    return (cls.__name__, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items())))


@contextmanager
def _facts_from(table, monkeypatch):
    def get_fact(self, cls, *args, **kwargs):
        assert not args, f"{cls.__name__} asked with positional arguments {args}"
        key = fact_key(cls, **kwargs)
        if key not in table:
            raise MissingFact(f"the plan asked for a fact the table lacks: {key}")
        return table[key]

    monkeypatch.setattr(Host, "get_fact", get_fact)
    yield


def _describe(command) -> str:
    if isinstance(command, FileUploadCommand):
        return f"upload {command.dest}"
    if isinstance(command, StringCommand):
        return command.get_raw_value()
    return str(command)


def _planned(facts: dict, monkeypatch, data: dict) -> list:
    inventory = Inventory((["planned-host"], {**group_defaults(), **data}))
    state = State(inventory, Config())
    host = inventory.get_host("planned-host")
    with _facts_from(facts, monkeypatch), ctx_state.use(state), ctx_host.use(host):
        runpy.run_path(str(ROOT / "deploy.py"), run_name="deploy")
        # Commands are generated as a run would: the health gate probes and `_if` conditions are
        # evaluated only while executing, and each operation is complete (as if its commands
        # succeeded) before the next one is planned.
        state.is_executing = True
        commands = []
        for op_hash in state.get_op_order():
            op_data = state.get_op_data_for_host(host, op_hash)
            planned = list(op_data.command_generator())
            op_data.operation_meta.set_complete(True, planned, CommandOutput([]))
            commands += planned
    return commands


def plan(facts: dict, monkeypatch, **data) -> list[str]:
    """Every command deploy.py would send to a host with these facts and this data, in order."""
    return [_describe(c) for c in _planned(facts, monkeypatch, data)]


def uploads(facts: dict, monkeypatch, **data) -> dict[str, bytes]:
    """The content of every file the plan uploads, by remote path."""
    found = {}
    for command in _planned(facts, monkeypatch, data):
        if isinstance(command, FileUploadCommand):
            src = command.src
            if hasattr(src, "read"):
                src.seek(0)
                content = src.read()
            else:
                with open(src, "rb") as f:
                    content = f.read()
            found[command.dest] = content.encode() if isinstance(content, str) else content
    return found
