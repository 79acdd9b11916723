"""A configuration file put in place only once a trial container has started with it."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import PurePosixPath

from pyinfra import host
from pyinfra.api import FileUploadCommand, operation
from pyinfra.facts.files import File, Sha1File

from .container import kept_running


@operation()
def checked_config(src: str, dest: str, image: str, target: str, mode: int = 644):
    """
    Ensure `dest` holds `src` (owned by root, `mode`), but replace it only after a trial container of
    `image`, reading the new file from `target`, kept running: a configuration that cannot start never
    replaces the one a working container reads. The trial publishes no port and keeps no data.

    + src: local file
    + dest: the file on the host; the container mounts its directory at `target`
    + image: the image that reads it
    + target: where the image reads the directory holding the file
    """
    with open(src, "rb") as local:
        wanted = hashlib.sha1(local.read()).hexdigest()
    current = host.get_fact(File, path=dest)
    if current and host.get_fact(Sha1File, path=dest) == wanted:
        if (current["mode"], current["user"], current["group"]) != (mode, "root", "root"):
            yield f"chown root:root {shlex.quote(dest)} && chmod {mode} {shlex.quote(dest)}"
        else:
            host.noop(f"{dest} is up to date")
        return

    path = PurePosixPath(dest)
    trial_dir = f"{path.parent}.trial"
    trial_file, trial = f"{trial_dir}/{path.name}", f"{path.parent.name}-config-trial"
    yield f"rm -rf {shlex.quote(trial_dir)} && mkdir -p {shlex.quote(trial_dir)}"
    yield FileUploadCommand(src, trial_file)
    yield (
        f"docker rm --force --volumes {trial} >/dev/null 2>&1; "
        f"docker run --detach --name {trial} --mount type=bind,src={trial_dir},dst={target},readonly "
        f"{shlex.quote(image)} >/dev/null && {kept_running(trial)} || "
        f"{{ echo 'the new {path.name} does not start {image}; the current one is kept:' >&2; "
        f"docker logs --tail 20 {trial} >&2 2>&1; docker rm --force --volumes {trial} >/dev/null 2>&1; "
        f"rm -rf {shlex.quote(trial_dir)}; exit 1; }}; docker rm --force --volumes {trial} >/dev/null"
    )
    yield (
        f"mkdir -p {shlex.quote(str(path.parent))} && chown root:root {shlex.quote(trial_file)} && "
        f"chmod {mode} {shlex.quote(trial_file)} && mv {shlex.quote(trial_file)} {shlex.quote(dest)} && "
        f"rmdir {shlex.quote(trial_dir)}"
    )
