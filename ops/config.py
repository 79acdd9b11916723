"""The registry's configuration directory, changed only once a trial registry has started with it."""

from __future__ import annotations

import hashlib
import shlex
from io import BytesIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, operation

from .facts import ConfigFiles
from .hostscripts import CONTAINER_SCRIPT
from .report import log_once

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
