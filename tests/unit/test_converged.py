"""The one-command re-run (ops/converged.py): the commands asked side by side in one script, under dash and
bash, answer each exactly as that command run alone does, as pyinfra reads a command's output; a fact's value
hashes the same in every process."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from ops.converged import _answers, _replay_script, _value

# Outputs that tell a careless split apart: none, no final newline, blank lines, a line like another's marker,
# an exit code, an `exit` inside a command (as ops/registry_config.py's fact has), stderr, a slow one.
COMMANDS = [
    "true",
    "printf a",
    "printf 'a\\n'",
    "printf 'a\\n\\n'",
    "printf '\\n'",
    "printf '@@0123456789abcdef 0 0\\nafter\\n'",
    "echo out; exit 3",
    "cd /nonexistent 2>/dev/null || exit 0; echo never",
    "echo to-stderr >&2; echo kept",
    "sleep 0.3; echo late",
    "if command -v nosuchcommand >/dev/null 2>&1; then ( nosuchcommand ); else echo '##PYINFRA_NOCMD##'; fi",
]


def alone(shell: str, command: str) -> tuple[bool, list[str]]:
    """What pyinfra reads of a command it runs: exit code 0, and stdout's lines without their newline."""
    done = subprocess.run([shell, "-c", command], capture_output=True, text=True)
    return done.returncode == 0, [line.rstrip("\n") for line in done.stdout.splitlines(keepends=True)]


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_commands_asked_together_answer_each_as_alone(shell):
    if not shutil.which(shell):
        pytest.skip(f"no {shell} here")
    nonce = "0123456789abcdee"
    script = _replay_script(COMMANDS, nonce).get_raw_value()
    done = subprocess.run([shell, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    together = _answers([line.rstrip("\n") for line in done.stdout.splitlines(keepends=True)], nonce, COMMANDS)
    assert together == {command: alone(shell, command) for command in COMMANDS}


def test_the_commands_run_side_by_side():
    script = _replay_script(["sleep 1; echo a", "sleep 1; echo b", "sleep 1; echo c"], "0123456789abcdee")
    started = time.monotonic()
    subprocess.run(["sh", "-c", script.get_raw_value()], check=True, capture_output=True, timeout=30)
    assert time.monotonic() - started < 2.5  # one after another: 3 s


def test_a_fact_value_hashes_the_same_in_every_process():
    program = ("from dataclasses import dataclass; from ops.converged import _value\n"
               "@dataclass\nclass Spec:\n    names: set\n"
               "print(_value({'b': {'x', 'y', 'z', 'w'}, 'a': [Spec({'p', 'q', 'r'}), frozenset({'m', 'n'})]}))")
    seen = {subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3, 4)}
    assert len(seen) == 1
    assert _value({"a": 1}) != _value({"a": 2})
