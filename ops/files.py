"""Files the deploy writes whole, many at once, read in one command: pyinfra's files.put reads three facts
per file, which made a no-op run's round trips grow with every file."""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from io import BytesIO

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, operation


class FileStates(FactBase):
    """{path: "SHA1 MODE USER:GROUP"} for each of `paths` that is a file; missing ones are left out."""

    def command(self, paths) -> str:
        quoted = " ".join(shlex.quote(path) for path in paths)
        return (f"for f in {quoted}; do [ -f \"$f\" ] && echo \"$f $(sha1sum < \"$f\" | cut -c1-40)"
                f" $(stat -c '%a %U:%G' \"$f\")\"; done; true")

    def process(self, output):
        states = {}
        for line in output:
            path, _, state = line.partition(" ")
            states[path] = state
        return states


def _in_place(state: str | None, content: bytes, mode: str) -> bool:
    """Whether a FileStates entry says the file holds `content`, root-owned, with `mode`."""
    return state == f"{hashlib.sha1(content).hexdigest()} {mode} root:root"


def _write(path: str, content: bytes, mode: str):
    """The commands that write a file whole, root-owned, with `mode`."""
    yield f"mkdir -p {shlex.quote(posixpath.dirname(path))}"
    yield FileUploadCommand(BytesIO(content), path)
    yield f"chown root:root {shlex.quote(path)} && chmod {mode} {shlex.quote(path)}"


@operation()
def files_in_place(files: dict):
    """
    Ensure each file holds its content, owned by root, with its mode; only the ones that differ are written.

    + files: path -> (content as bytes, mode as an octal string like "644")
    """
    current = host.get_fact(FileStates, paths=sorted(files)) or {}
    changed = False
    for path, (content, mode) in sorted(files.items()):
        if _in_place(current.get(path), content, mode):
            continue
        changed = True
        yield from _write(path, content, mode)
    if not changed:
        host.noop(f"{len(files)} files are in place")


@operation()
def checked_file(path: str, content: bytes, mode: str, check: str):
    """
    Ensure `path` holds `content` (root, `mode`); a new version is written beside it and moved in only when
    `check` passes on it, so a file its program refuses never replaces the working one.

    + path: the file
    + content: its content, as bytes
    + mode: an octal string like "644"
    + check: a command with "{}" where the new file's path goes, e.g. "haproxy -c -f {}"
    """
    if _in_place((host.get_fact(FileStates, paths=[path]) or {}).get(path), content, mode):
        host.noop(f"{path} is in place")
        return
    yield from _write(f"{path}.new", content, mode)
    new = shlex.quote(f"{path}.new")
    yield f"{check.format(new)} && mv {new} {shlex.quote(path)}"
