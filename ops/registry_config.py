"""The registry's configuration directory, changed only once a trial registry has started with it."""

from __future__ import annotations

import hashlib
import shlex
from io import BytesIO

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, operation

from core.host_paths import CONTAINER_SCRIPT, READ_ONLY_MARK

from .files import parse_states, states_command
from .report import log_once


class ConfigFiles(FactBase):
    """
    The registry's configuration directory: {"directory": "MODE USER:GROUP", "files": {name: "SHA1 MODE
    USER:GROUP"} for each of `names` present, "link": what config.yml points at, "read_only": whether a
    maintenance chore's read-only mark exists}. None when the directory is missing.
    """

    def command(self, directory, names) -> str:
        quoted = " ".join(shlex.quote(name) for name in names)
        return (
            f"cd {shlex.quote(directory)} 2>/dev/null || exit 0; stat -c '@dir %a %U:%G' .; "
            f"{states_command(quoted)}; echo \"@link $(readlink config.yml)\"; "
            f"[ ! -e {READ_ONLY_MARK} ] || echo @read-only"
        )

    def process(self, output):
        found = {"directory": None, "files": parse_states(output), "link": "", "read_only": False}
        for line in output:
            kind, _, rest = line.partition(" ")
            if kind == "@dir":
                found["directory"] = rest
            elif kind == "@link":
                found["link"] = rest.strip()
            elif kind == "@read-only":
                found["read_only"] = True
        return found if found["directory"] else None


class StoresInS3(FactBase):
    """Whether the registry's configuration on the host (writable.yml, as the deploy rendered it) keeps the
    data in an S3 bucket; False when there is none yet."""

    def command(self, path) -> str:
        return f"grep -qx '  s3:' {shlex.quote(path)} 2>/dev/null && echo yes || echo no"

    def process(self, output):
        return bool(output) and output[0].strip() == "yes"

# Only root may read the configuration: it holds keys and password hashes.
FILE_STATE = "600 root:root"
DIRECTORY_STATE = "700 root:root"


def _sha1(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


@operation()
def registry_config(files: dict, directory: str):
    """
    Ensure `directory` holds exactly these files (root, 0600) and config.yml points at writable.yml.

    A changed set is staged beside the directory, tried in a throwaway registry (see
    `registry-container try-config`), and only then moved in, under the maintenance lock; a set that
    cannot start a registry never replaces the one a working registry reads. While a maintenance chore's
    read-only mark exists, where config.yml points is left to the chore.

    + files: name -> content (bytes), e.g. {"writable.yml": ..., "readonly.yml": ...}
    + directory: the registry's configuration directory on the host (created beforehand, 0700)
    """
    current = host.get_fact(ConfigFiles, directory=directory, names=sorted(files)) or {"files": {}}
    changed = [name for name, content in sorted(files.items())
               if current["files"].get(name) != f"{_sha1(content)} {FILE_STATE}"]
    link_ok = current.get("read_only") or current.get("link") == "writable.yml"
    if not changed and link_ok:
        host.noop(f"{directory} is up to date")
        return
    for name in changed:
        log_once(f"{directory}/{name} differs from what the data renders")
    if not link_ok:
        log_once(f"{directory}/config.yml points at {current.get('link') or 'nothing'}, not writable.yml")

    staged = f"{directory.rstrip('/')}.next"
    quoted = shlex.quote(staged)
    yield (f"rm -rf {quoted} && mkdir -m 700 {quoted} && cp -a {shlex.quote(directory)}/. {quoted}/"
           f" && ln -sfn writable.yml {quoted}/config.yml")
    for name in changed:
        yield FileUploadCommand(BytesIO(files[name]), f"{staged}/{name}")
    if changed:
        yield shlex.join([CONTAINER_SCRIPT, "try-config", staged])
    yield shlex.join([CONTAINER_SCRIPT, "install-config", staged, *changed])
