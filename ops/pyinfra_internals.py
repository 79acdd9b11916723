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
- `record_facts`, `fact_from`, `global_arguments_once`, `after_run`, `changed_nothing`, `connector_arguments`
  (ops/converged.py): facts come through `Host.get_fact`, which runs their command through
  `Host.run_shell_command` (as every command is run), files move through `Host.put_file`/`get_file`;
  `Host.disconnect` triggers the state's `host_disconnect` callbacks after the results are printed; the stage
  is `StateStage.Disconnect` only once `run_ops` returned; `state.ops[host]` holds each operation's
  `OperationMeta`; `pop_global_arguments` gives the connector arguments a fact runs with, and
  `pyinfra.api.facts` calls it by that name for every fact. If one of these moves, a re-run either never takes
  the one-command path (tests/e2e/test_deploy.py::test_a_no_op_rerun_asks_each_host_once_and_a_drift_still_gets
  _the_full_run fails) or takes it from a run that did not change nothing (the same test fails on the drift it
  makes).
- `inventory_argument`: the INVENTORY argument of pyinfra's CLI, read from its click context while
  config.py runs. If the parameter is renamed, `pyinfra inventory deploy.py` falls back to pyinfra's own
  traceback: tests/unit/test_entry.py fails.
"""

from __future__ import annotations

from contextlib import contextmanager

import click
import gevent
from pyinfra import context, logger
from pyinfra.api import facts as pyinfra_facts
from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS, pop_global_arguments
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host, extract_callable_datas
from pyinfra.api.state import BaseStateCallback, StateStage
from pyinfra.connectors.util import CommandOutput, OutputLine

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


def _raw(command) -> tuple[str, bool]:
    """(the command as the host runs it, whether it holds a hidden value)."""
    if hasattr(command, "get_raw_value"):
        return command.get_raw_value(), command.get_raw_value() != command.get_masked_value()
    return str(command), False


def record_facts(record) -> None:
    """Call `record(host, cls, args, kwargs, asked, value)` after every fact pyinfra gets from a host through
    `host.get_fact`, `asked` being what it ran there: [(command, holds a hidden value, connector arguments)];
    and `record(host, None, (), {}, asked, None)` for a command run or a file moved outside a fact."""
    get, run, put, download = Host.get_fact, Host.run_shell_command, Host.put_file, Host.get_file
    asking: dict = {}  # greenlet -> what the fact it is getting ran

    def get_and_record(self, cls, *args, **kwargs):
        mine = asking[gevent.getcurrent()] = []
        try:
            value = get(self, cls, *args, **kwargs)
        finally:
            del asking[gevent.getcurrent()]
        record(self, cls, args, kwargs, mine, value)
        return value

    def run_and_record(self, command, *args, **kwargs):
        asked = (*_raw(command), {k: v for k, v in kwargs.items() if k in CONNECTOR_ARGUMENT_KEYS})
        if gevent.getcurrent() in asking:
            asking[gevent.getcurrent()].append(asked)
        else:
            record(self, None, (), {}, [asked], None)
        return run(self, command, *args, **kwargs)

    def moved(original):
        def move_and_record(self, *args, **kwargs):
            record(self, None, (), {}, [("file", False, {})], None)
            return original(self, *args, **kwargs)
        return move_and_record

    Host.get_fact, Host.run_shell_command = get_and_record, run_and_record
    Host.put_file, Host.get_file = moved(put), moved(download)


def fact_from(host, cls, args, kwargs, answers: dict[str, tuple[bool, list[str]]]):
    """`host.get_fact(cls, *args, **kwargs)`, each command it runs answered from `answers` ({command: (ok, stdout
    lines)}) instead of by the host; KeyError for a command not there."""
    def answer(command, *_, **__):
        ok, lines = answers[_raw(command)[0]]
        return ok, CommandOutput([OutputLine("stdout", line) for line in lines])

    host.run_shell_command = answer
    try:
        return host.get_fact(cls, *args, **kwargs)
    finally:
        del host.run_shell_command


@contextmanager
def global_arguments_once():
    """While it lasts, pyinfra works out each host's global arguments (sudo, shell, environment: from its data
    and the config) for a fact once, not for every fact: they are the same for every fact asked outside an
    operation, and working them out was most of what a replayed fact cost (8 hosts: about 0.3 s a run)."""
    original = pyinfra_facts.pop_global_arguments
    found: dict = {}

    def once(state, host, kwargs):
        if any(key.startswith("_") for key in kwargs):  # a fact given global arguments of its own
            return original(state, host, kwargs)
        if host.name not in found:
            found[host.name] = original(state, host, kwargs)
        arguments, keys = found[host.name]
        return dict(arguments), list(keys)

    pyinfra_facts.pop_global_arguments = once
    try:
        yield
    finally:
        pyinfra_facts.pop_global_arguments = original


def after_run(then) -> None:
    """Call `then(state)` once, as pyinfra disconnects from the hosts at the end of the run (whatever its end)."""
    state = context.state
    called = []

    class Disconnected(BaseStateCallback):
        @staticmethod
        def host_disconnect(state, host):
            if not called:
                called.append(host)
                then(state)

    state.add_callback_handler(Disconnected())


def changed_nothing(state) -> bool:
    """Whether the run got through its operations (not --dry, not stopped) and every operation on every host
    succeeded without changing anything."""
    if state.current_stage != StateStage.Disconnect or state.failed_hosts:
        return False
    metas = [data.operation_meta for host in state.inventory.get_active_hosts() for data in state.ops[host].values()]
    return all(meta.is_complete() and meta.did_succeed() and not meta.did_change() for meta in metas)


def connector_arguments(host) -> dict:
    """The connector arguments (sudo, su, shell, environment...) a fact runs with on `host` when no operation
    or deploy overrides them."""
    arguments, _ = pop_global_arguments(context.state, host, {})
    return {k: v for k, v in arguments.items() if k in CONNECTOR_ARGUMENT_KEYS}
