"""A Docker client logged in to a registry, without the password ever on a command line."""

from __future__ import annotations

import hashlib
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, operation
from pyinfra.facts.files import FindInFile

from .report import log_once

DOCKER_CONFIG = "/root/.docker/config.json"


class RegistryAnswers(FactBase):
    """Whether a registry (host:port) answers /v2/ from this host, as Docker would reach it: True/False."""

    def requires_command(self, registry, scheme) -> str:
        return "curl"

    def command(self, registry, scheme) -> str:
        ca = f"/etc/docker/certs.d/{registry}/ca.crt"
        return (f"curl -s -o /dev/null -w '%{{http_code}}' --connect-timeout 3 -m 10"
                f" $([ -e {shlex.quote(ca)} ] && echo --cacert {shlex.quote(ca)}) {scheme}://{shlex.quote(registry)}/v2/"
                " || true")

    def process(self, output):
        return "".join(output).strip() not in ("", "000")


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
    if not host.get_fact(RegistryAnswers, registry=registry, scheme="https"):
        log_once(f"{registry} does not answer (not deployed yet?): not logged in to it; the next run will",
                 warning=True)
        return
    # In root's home (0700), not /tmp: the file is readable by its owner only from the start.
    secret = f"/root/.registry-login-{hashlib.sha256(registry.encode()).hexdigest()[:12]}"
    yield FileUploadCommand(StringIO(password), secret)
    yield (f"chmod 600 {secret} && docker login --username {shlex.quote(user)} --password-stdin"
           f" {shlex.quote(registry)} < {secret} >/dev/null; status=$?; rm -f {secret}; exit $status")
