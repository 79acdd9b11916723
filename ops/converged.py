"""A re-run that finds nothing to do, in one command per host.

pyinfra asks a host each question (a fact) in a command of its own, about 30 round trips a registry host, and
the deploy decides only from those answers and from what it reads on the control machine. So:

- A run that changed nothing on any host and failed nowhere records every fact it got from each host (a run
  that changes nothing runs facts only): its command and a hash of its value; and a digest of everything else it
  decided from: the project's files, every other local file it read and directory it listed (the secrets, an
  operator's certificate, the image archives), each host's data and groups and connector arguments, the
  REGISTRY_*, SANDBOX_* and PYINFRA_* environment, pyinfra's and Python's versions.
- The next run with the same digest asks each host all of its recorded questions in one command (side by side
  on the host), pyinfra's fact classes turning each output into a value. When every value hashes as recorded,
  the deploy would decide exactly as then, when it changed nothing: it says so and stops. The health probe is
  one of the questions, so health is proved as before.
- Any difference (a host drifted, an input changed, a question failed) or a record older than MAX_AGE or past
  the first renewal of a certificate the deploy made: the whole deploy runs as always, and records again if it
  changes nothing.

The record is registry_secrets_dir/converged/<scope>.json (0600): the commands and hashes, never an answer.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import gevent
import gevent.lock
import pyinfra
from pyinfra import context, logger
from pyinfra.api import StringCommand, operation

from core.secrets import SecretStore
from ops.pyinfra_internals import (
    after_run,
    changed_nothing,
    connector_arguments,
    fact_from,
    global_arguments_once,
    inventory_argument,
    record_facts,
)

ROOT = Path(__file__).resolve().parent.parent
# The project's own inputs, hashed whole every run (the deploy imports or reads them): (directory, pattern).
SOURCES = (("", "*.py"), ("", "requirements.txt"), ("core", "**/*"), ("ops", "**/*"), ("tasks", "**/*"),
           ("files", "**/*"), ("group_data", "**/*"), ("inventory", "*.py"))
ENVIRONMENT = ("REGISTRY_", "SANDBOX_", "PYINFRA_")
DISPLAY_ONLY = {"PYINFRA_PROGRESS"}  # set by `--json`
# A safety belt for any decision that depends on the clock: a full run at least this often.
MAX_AGE = datetime.timedelta(hours=24)
# Local files above this size (image archives) are compared by size, modification time and inode, not read.
BIG = 1 << 20
# Not inputs: Python and its packages (their versions are), the kernel's files, temporary files (pyinfra parses
# some facts through one), compiled modules (their sources are).
IGNORED = tuple(os.path.join(p, "") for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, "/proc", "/sys", "/dev",
                                              tempfile.gettempdir()})

_reads: set[str] = set()
_listings: set[str] = set()
_facts: dict[str, list] = {}  # host name -> [(fact class path, args, kwargs, value digest, what it ran)]
_tainted: set[str] = set()
_decided: dict[str, object] = {}
_deciding = gevent.lock.Semaphore()


def _audit(event: str, args: tuple) -> None:
    if event == "open":
        path, mode, flags = args
        writes = any(c in mode for c in "wax+") if mode else flags & (os.O_WRONLY | os.O_RDWR)
        if isinstance(path, (str, bytes, os.PathLike)) and not writes:
            _reads.add(os.path.abspath(os.fsdecode(path)))
    elif event in ("os.listdir", "os.scandir") and isinstance(args[0], (str, bytes, os.PathLike, type(None))):
        _listings.add(os.path.abspath(os.fsdecode(args[0] or ".")))


def watch_local_reads() -> None:
    """From now on, note every local file this process reads and every directory it lists; and which inventory
    pyinfra's command line was given (config.py calls this first, before pyinfra loads the inventory)."""
    _decided["inventory"] = inventory_argument()
    sys.addaudithook(_audit)


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _source_files() -> list[Path]:
    found = {p for directory, pattern in SOURCES for p in (ROOT / directory).glob(pattern)}
    return sorted(p for p in found if p.is_file() and "__pycache__" not in p.parts)


def _file_print(path: str) -> str:
    try:
        stat = os.stat(path)
        if stat.st_size > BIG:
            return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def _listing_print(path: str) -> str:
    try:
        return _digest(sorted(os.listdir(path)))
    except OSError:
        return "unreadable"


def _local(paths: set[str], record_dir: Path, sources: set[str]) -> list[str]:
    outside = (str(record_dir.resolve()), str(ROOT / ".venv"))
    return sorted(p for p in paths
                  if not p.startswith(IGNORED + outside) and p not in sources and "__pycache__" not in p)


def _inputs(hosts) -> str:
    """The digest of what the deploy decides from besides the hosts' answers and the local files it read."""
    parts = [pyinfra.__version__, sys.version,
             [(str(p.relative_to(ROOT)), hashlib.sha256(p.read_bytes()).hexdigest()) for p in _source_files()],
             sorted((k, v) for k, v in os.environ.items() if k.startswith(ENVIRONMENT) and k not in DISPLAY_ONLY)]
    for host in sorted(hosts, key=lambda h: h.name):
        parts.append([host.name, sorted(host.groups), host.data.dict(), connector_arguments(host)])
    return _digest(*parts)


def _store(host) -> SecretStore:
    return SecretStore(host.data.registry_secrets_dir)


def _record_path(hosts) -> Path:
    scope = _digest(_decided["inventory"], sorted(h.name for h in hosts))[:16]
    return _store(hosts[0]).root / "converged" / f"{scope}.json"


def _replay_script(commands: list[str], nonce: str) -> StringCommand:
    """Every command side by side, then each one's output followed by a line `@@<nonce> <index> <exit code>`."""
    bits = ["d=$(mktemp -d) || exit 1;"]
    for index, command in enumerate(commands):
        bits.append(f'{{ ( {command} ) >"$d/{index}" 2>/dev/null </dev/null; echo $? >"$d/{index}.rc"; }} &')
    bits.append(f'wait; for i in $(seq 0 {len(commands) - 1}); do cat "$d/$i";'
                f' printf "\\n@@{nonce} %s %s\\n" "$i" "$(cat "$d/$i.rc")"; done; rm -rf "$d"')
    return StringCommand(*bits)


def _plain(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return repr(value)


def _value(value) -> str:
    """A fact's value as a digest that is the same in every process (sets sorted, dataclasses as dicts)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=_plain).encode()).hexdigest()


def _answers(lines: list[str], nonce: str, commands: list[str]) -> dict[str, tuple[bool, list[str]]]:
    """{command: (exit code 0, its output lines as pyinfra reads a command's)} from the replay's output."""
    found, chunk = {}, []
    for line in lines:
        if line.startswith(f"@@{nonce} "):
            _, index, code = line.split(" ")
            if chunk and chunk[-1] == "":
                chunk.pop()  # the newline the marker's line starts with
            found[commands[int(index)]] = (code == "0", chunk)
            chunk = []
        else:
            chunk.append(line)
    return found


def _fact_class(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _differs(host, entry: dict) -> str | None:
    """The first recorded question `host` now answers otherwise (all asked in one command), or None."""
    nonce = secrets.token_hex(8)
    ok, output = host.run_shell_command(_replay_script(entry["commands"], nonce), **connector_arguments(host))
    if not ok:
        return "one command asking everything"
    answers = _answers(output.stdout_lines, nonce, entry["commands"])
    for path, args, kwargs, recorded in entry["facts"]:
        try:
            value = fact_from(host, _fact_class(path), args, kwargs, answers)
        except Exception:  # noqa: BLE001 (any failure to answer as before is an answer that differs)
            return path
        if _value(value) != recorded:
            return f"{path.split(':')[1]} {json.dumps(kwargs or args)[:80]}"
    return None


def _same_as_recorded(hosts, inputs: str) -> tuple[bool, str]:
    path = _record_path(hosts)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False, "no run that changed nothing is on record for these hosts"
    if datetime.datetime.now(datetime.UTC) >= datetime.datetime.fromisoformat(record["until"]):
        return False, "the last run that changed nothing is too long ago, or a certificate is due"
    if record["inputs"] != inputs:
        return False, "the project, the data or the environment changed since the last run that changed nothing"
    changed = [p for p, f in record["reads"].items() if _file_print(p) != f]
    changed += [p for p, f in record["listings"].items() if _listing_print(p) != f]
    if changed:
        return False, f"{changed[0]} changed since the last run that changed nothing"
    by_name = {h.name: h for h in hosts}
    with global_arguments_once():
        jobs = {name: gevent.spawn(_differs, by_name[name], entry) for name, entry in record["hosts"].items()}
        gevent.joinall(list(jobs.values()))
    for name, job in sorted(jobs.items()):
        if not job.successful() or job.value:
            why = job.value or job.exception
            return False, f"{name} answers otherwise than in the last run that changed nothing: {why}"
    asked = sum(len(entry["facts"]) for entry in record["hosts"].values())
    return True, f"every host answers as in the last run that changed nothing ({asked} facts, one command a host)"


def converged_since_last_run() -> bool:
    """Whether every active host answers as in the last run that changed nothing, the inputs being the same
    (decided once for all hosts, asked of each in one command). Otherwise the run records what it asks."""
    with _deciding:  # pyinfra loads deploy.py for every host at once, in greenlets: the first one decides
        if "same" not in _decided:
            _decide()
    return bool(_decided["same"])


def _decide() -> None:
    hosts = context.state.inventory.get_active_hosts()
    if not _decided.get("inventory") or not hosts:
        _decided.update(same=False)  # run through pyinfra's API (the plan tests): nothing to compare or record
        return
    inputs = _inputs(hosts)  # as the run decides from them: what a record of this run is kept with
    same, why = _same_as_recorded(hosts, inputs)
    _decided.update(same=same, why=why, inputs=inputs)
    logger.info(f"--> {'Nothing to do: ' if same else 'Full run: '}{why}")
    if not same:
        record_facts(_note)
        after_run(_record)


def _note(host, cls, args, kwargs, asked: list, value) -> None:
    if cls is None or any(hidden for _, hidden, _ in asked):
        _tainted.add(host.name)  # a command or a file outside a fact; a secret in a question
        return
    _facts.setdefault(host.name, []).append(
        (f"{cls.__module__}:{cls.__qualname__}", args, kwargs, _value(value), asked))


def _entry(host) -> tuple[dict | None, str]:
    """What to record of `host`: the distinct facts it was asked, and their commands; or None, and why not."""
    defaults = _digest(connector_arguments(host))
    facts: dict[str, list] = {}
    commands: dict[str, None] = {}
    for path, args, kwargs, value, asked in _facts.get(host.name, []):
        try:
            key = json.dumps([path, args, kwargs])
        except TypeError:
            return None, f"{path} was asked with arguments that are not data"
        if any(_digest(arguments) != defaults for _, _, arguments in asked):
            return None, f"{path} was asked with other connector arguments (sudo, user, shell)"
        if facts.get(key, [value])[-1] != value:
            return None, f"{host.name} answered {path} {json.dumps(kwargs or args)[:80]} twice, otherwise"
        facts[key] = [path, args, kwargs, value]
        commands.update((raw, None) for raw, _, _ in asked)
    return {"commands": list(commands), "facts": list(facts.values())}, ""


def _record(state) -> None:
    """Keep what this run asked and read, if it changed nothing and every question can be asked again as is."""
    hosts = state.inventory.get_active_hosts()
    if not changed_nothing(state):
        return
    entries, why = {}, f"a command or a file outside a fact, or a hidden value in one, on {sorted(_tainted)}"
    for host in [] if _tainted else hosts:
        entries[host.name], why = _entry(host)
        if entries[host.name] is None:
            break
    if _tainted or None in entries.values():
        logger.info(f"--> Not recorded for a one-command re-run (the next one is a full run too): {why}")
        return
    store = _store(hosts[0])
    path = _record_path(hosts)
    if store.is_copy():
        return  # the scheduler's copy of the secrets: nothing is written there
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # listed as it will be from now on
    sources = {str(p) for p in _source_files()} | {str(ROOT / d) for d, pattern in SOURCES if pattern != "*.py"}
    until = datetime.datetime.now(datetime.UTC) + MAX_AGE
    renewal = store.first_renewal()
    record = {
        "until": min(until, renewal).isoformat() if renewal else until.isoformat(),
        "inputs": _decided["inputs"],
        "reads": {p: _file_print(p) for p in _local(_reads, path.parent, sources)},
        "listings": {p: _listing_print(p) for p in _local(_listings, path.parent, sources | {str(ROOT)})},
        "hosts": entries,
    }
    store.write_private(str(path.relative_to(store.root)), json.dumps(record, indent=1).encode())
    for other in path.parent.glob("*.json"):  # records of other host sets, too old to be used
        if time.time() - other.stat().st_mtime > MAX_AGE.total_seconds():
            other.unlink(missing_ok=True)


@operation()
def nothing_to_do():
    """
    Every host answered as in the last run that changed nothing, the inputs being the same: say so, change
    nothing.
    """
    context.host.noop(str(_decided.get("why", "")))
    yield from ()
