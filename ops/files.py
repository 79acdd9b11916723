"""Files the deploy writes whole, many at once, read in one command: pyinfra's files.put reads three facts
per file, which made a no-op run's round trips grow with every file. And the directory pyinfra stages every
upload in, which no one but the login user may enter."""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
from io import BytesIO

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, operation

# Where pyinfra stages uploads (config.py makes it pyinfra's TEMP_DIR). Connected with sudo, pyinfra writes
# each file there as the login user over SFTP, then copies it into place as root: in /tmp, a world-readable
# file with a predictable name, so another local user could read every key and password on its way. Here,
# in a directory of /var/lib (only root creates there) that only the login user may enter, no one else can.
UPLOAD_DIR = "/var/lib/registry-deploy-uploads"


class UploadDirectory(FactBase):
    """"LOGIN MODE OWNER TYPE" of `path`: whom pyinfra logged in as (whom sudo runs for), then the path's
    mode, owner and file type; only LOGIN when the path is missing."""

    def command(self, path) -> str:
        return f'echo "${{SUDO_USER:-$(id -un)}} $(stat -c \'%a %U %F\' {shlex.quote(path)} 2>/dev/null)"'

    def process(self, output):
        return " ".join(output).strip()


@operation()
def private_upload_directory(path: str = UPLOAD_DIR):
    """
    Ensure `path` is a directory only the login user may enter (0700, owned by them), for pyinfra's uploads.

    + path: the directory, under a parent only root may write to
    """
    state = host.get_fact(UploadDirectory, path=path) or ""
    login = state.split(" ", 1)[0]
    if state == f"{login} 700 {login} directory":
        host.noop(f"{path} is {login}'s alone")
        return
    quoted = shlex.quote(path)
    yield (f"login=\"${{SUDO_USER:-$(id -un)}}\"; if [ -L {quoted} ] || {{ [ -e {quoted} ] && [ ! -d {quoted} ]; }};"
           f" then rm -f {quoted}; fi; mkdir -p {quoted} && chown \"$login\" {quoted} && chmod 700 {quoted}")


def states_command(quoted: str) -> str:
    """Shell printing, for each of the (shell-quoted) paths that is a file, sha1sum's line and `@state MODE
    USER:GROUP PATH` (the path's own mode and owner, a symlink's not followed): two processes however many
    files (one sha1sum, one stat, each for all of them), where one at a time cost five a file."""
    return (f'set --; for f in {quoted}; do [ -f "$f" ] && set -- "$@" "$f"; done;'
            ' [ $# -eq 0 ] || { sha1sum -- "$@"; stat -c "@state %a %U:%G %n" -- "$@"; }')


def parse_states(lines) -> dict[str, str]:
    """{path: "SHA1 MODE USER:GROUP"} from what states_command printed (other lines are ignored); a file that
    could not be read whole is left out, as one that is missing."""
    digests, states = {}, {}
    for line in lines:
        if line.startswith("@state "):
            mode, owner, path = line.removeprefix("@state ").split(" ", 2)
            states[path] = f"{mode} {owner}"
        elif re.fullmatch(r"[0-9a-f]{40}  .+", line):
            digests[line[42:]] = line[:40]
    return {path: f"{digest} {states[path]}" for path, digest in digests.items() if path in states}


class FileStates(FactBase):
    """{path: "SHA1 MODE USER:GROUP"} for each of `paths` that is a file; missing ones are left out."""

    def command(self, paths) -> str:
        return f"{states_command(' '.join(shlex.quote(path) for path in paths))}; true"

    def process(self, output):
        return parse_states(output)


def in_place(state: str | None, content: bytes, mode: str) -> bool:
    """Whether a FileStates entry says the file holds `content`, root-owned, with `mode`."""
    return state == f"{hashlib.sha1(content).hexdigest()} {mode} root:root"


def _write(path: str, content: bytes, mode: str):
    """The commands that write a file whole, root-owned, with `mode`: into a new file that has its owner and
    mode before it holds a byte (a secret is never readable by others, not even for a moment), then moved in
    place at once (a reader sees the old file or the new one, never half of one)."""
    new = shlex.quote(f"{path}.new")
    yield (f"mkdir -p {shlex.quote(posixpath.dirname(path))} && rm -f {new}"
           f" && install -o root -g root -m {mode} /dev/null {new}")
    yield FileUploadCommand(BytesIO(content), f"{path}.new")
    yield f"mv {new} {shlex.quote(path)}"


@operation()
def files_in_place(files: dict):
    """
    Ensure each file holds its content, owned by root, with its mode; only the ones that differ are written.

    + files: path -> (content as bytes, mode as an octal string like "644")
    """
    current = host.get_fact(FileStates, paths=sorted(files)) or {}
    changed = False
    for path, (content, mode) in sorted(files.items()):
        if in_place(current.get(path), content, mode):
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
    if in_place((host.get_fact(FileStates, paths=[path]) or {}).get(path), content, mode):
        host.noop(f"{path} is in place")
        return
    staged = f"{path}.checked"
    yield from _write(staged, content, mode)
    yield f"{check.format(shlex.quote(staged))} && mv {shlex.quote(staged)} {shlex.quote(path)}"
