"""A Docker client logged in to a registry, without the password ever on a command line."""

from __future__ import annotations

import hashlib
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, operation

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


class DockerLogins(FactBase):
    """Which of `registries` root's Docker client has credentials for (its config.json names them)."""

    def command(self, registries) -> str:
        quoted = " ".join(shlex.quote(f'"{registry}"') for registry in registries)
        return (f"for r in {quoted}; do grep -qF \"$r\" {DOCKER_CONFIG} 2>/dev/null && echo \"$r\"; done; true")

    def process(self, output):
        return [line.strip('"') for line in output]


@operation()
def logged_in(user: str, passwords: dict):
    """
    Ensure root's Docker client has credentials for each registry (host:port) as `user`. A password goes up
    as a root-only file and in through --password-stdin, never on a command line. An existing entry is
    kept: after a password change, `docker logout` the registry on the client and run the deploy again. A
    registry that does not answer (not deployed yet) is skipped with a warning; the next run logs in.

    + passwords: registry -> the user's password there
    """
    have = set(host.get_fact(DockerLogins, registries=sorted(passwords)) or [])
    missing = [registry for registry in sorted(passwords) if registry not in have]
    if not missing:
        host.noop(f"docker is logged in to {', '.join(sorted(passwords))}")
        return
    for registry in missing:
        if not host.get_fact(RegistryAnswers, registry=registry, scheme="https"):
            log_once(f"{registry} does not answer (not deployed yet?): not logged in to it; the next run will",
                     warning=True)
            continue
        # In root's home (0700), not /tmp: the file is readable by its owner only from the start.
        secret = f"/root/.registry-login-{hashlib.sha256(registry.encode()).hexdigest()[:12]}"
        yield FileUploadCommand(StringIO(passwords[registry]), secret)
        yield (f"chmod 600 {secret} && docker login --username {shlex.quote(user)} --password-stdin"
               f" {shlex.quote(registry)} < {secret} >/dev/null; status=$?; rm -f {secret}; exit $status")
