"""A Docker client logged in to a registry, without the password ever on a command line."""

from __future__ import annotations

import hashlib
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, operation
from pyinfra.facts.files import FindInFile

DOCKER_CONFIG = "/root/.docker/config.json"


@operation()
def logged_in(registry: str, user: str, password: str):
    """
    Ensure root's Docker client has credentials for `registry` (host:port). The password goes up as a
    root-only file and in through --password-stdin. An existing entry is kept: after a password change,
    `docker logout` the registry on the client (or remove its entry) and run the deploy again.
    """
    if host.get_fact(FindInFile, path=DOCKER_CONFIG, pattern=f'"{registry}"', interpolate_variables=False):
        host.noop(f"docker is logged in to {registry}")
        return
    # In root's home (0700), not /tmp: the file is readable by its owner only from the start.
    secret = f"/root/.registry-login-{hashlib.sha256(registry.encode()).hexdigest()[:12]}"
    yield FileUploadCommand(StringIO(password), secret)
    yield (f"chmod 600 {secret} && docker login --username {shlex.quote(user)} --password-stdin"
           f" {shlex.quote(registry)} < {secret} >/dev/null; status=$?; rm -f {secret}; exit $status")
