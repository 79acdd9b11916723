"""Every use of a pyinfra internal, in one place. Checked against pyinfra 3.10.0 (requirements.txt pins it).

pyinfra has no public hook that runs once the inventory and its data are loaded but before it connects,
and no public way to plan a deploy against a table of facts. If an upgrade breaks either, it breaks here:

- `check_data_before_connect`: pyinfra's CLI loads `config.py`, then the inventory, then calls
  `State.init(inventory, ...)` and only then connects. We wrap `init` of the state the CLI made
  (`pyinfra.context.state`). If `State.init` is renamed or no longer called before connecting, bad data
  would reach the hosts: tests/e2e/test_deploy.py::test_bad_data_is_refused_before_connecting fails.
- `plan_commands` (tests/plan): runs every operation's command generator in order as if executing, and
  marks each complete with the commands it produced, so `_if=` and `did_change()` see earlier results.
  It relies on `State.get_op_order`, `State.get_op_data_for_host`, `StateOperationHostData
  .command_generator`, `OperationMeta.set_complete`, `State.is_executing` and on `Host.get_fact` being
  the one door facts come through (`facts_from`).
- `inventory_argument`: the INVENTORY argument of pyinfra's CLI, read from its click context while
  config.py runs. If the parameter is renamed, `pyinfra inventory deploy.py` falls back to pyinfra's own
  traceback: tests/unit/test_entry.py fails.
"""

from __future__ import annotations

from contextlib import contextmanager

import click
from pyinfra import context, logger
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host, extract_callable_datas
from pyinfra.connectors.util import CommandOutput

from core.data import DataError, validate


def data_layers(host) -> list[dict]:
    """The host's data as pyinfra layers it, highest priority first: --data, the host's own, its groups',
    group_data/all.py's."""
    return list(extract_callable_datas(host.data.datas))


def validate_host(host) -> list[str]:
    """core.data.validate, with the data's layers (an old variable name counts where its layer decides)."""
    return validate(host, data_layers(host))


def check_data_before_connect(check) -> None:
    """Call `check(host)` for every host of this pyinfra run once its data is loaded, before connecting, and
    log each warning it returns once, naming the hosts it concerns."""
    if not context.ctx_state.isset():
        return  # loaded outside a pyinfra run: nothing to guard
    state = context.state
    init = state.init

    def init_then_check(inventory, *args, **kwargs):
        init(inventory, *args, **kwargs)
        warned: dict[str, list[str]] = {}
        for host in inventory:
            try:
                for warning in check(host) or ():
                    warned.setdefault(warning, []).append(host.name)
            except DataError as e:  # said as pyinfra says its own errors: one message, no traceback
                raise PyinfraError(str(e)) from None
        for warning, hosts in warned.items():
            logger.warning(f"WARNING: {warning} ({', '.join(hosts)})")

    state.init = init_then_check


@contextmanager
def facts_from(answer):
    """Answer every `host.get_fact(cls, **kwargs)` with `answer(cls, kwargs)` instead of asking a host."""
    original = Host.get_fact
    Host.get_fact = lambda self, cls, *args, **kwargs: answer(cls, args, kwargs)
    try:
        yield
    finally:
        Host.get_fact = original


def plan_commands(state, host) -> list:
    """The commands each operation of the loaded deploy would run on `host`, in order, as if each succeeded."""
    state.is_executing = True
    commands = []
    for op_hash in state.get_op_order():
        op_data = state.get_op_data_for_host(host, op_hash)
        planned = list(op_data.command_generator())
        op_data.operation_meta.set_complete(True, planned, CommandOutput([]))
        commands += planned
    return commands


def inventory_argument() -> str | None:
    """The inventory pyinfra's CLI was given (None outside the CLI)."""
    context = click.get_current_context(silent=True)
    return context.params.get("inventory") if context else None
