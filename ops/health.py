"""The health gate: a host passes only when its registry and UI answer as they should."""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import FactBase, operation

from core.host_paths import CONTAINER_SCRIPT

from .report import log_once


class Health(FactBase):
    """
    The health checks of files/registry-container.sh, each asked once: a list of "ok WHAT" or
    "failed WHAT: ..." lines. None until the deploy placed the script.
    """

    def requires_command(self) -> str:
        return CONTAINER_SCRIPT

    def command(self) -> str:
        return f"{CONTAINER_SCRIPT} healthy"

    def process(self, output):
        return [line for line in output if line.startswith(("ok ", "failed "))]


def http_status_command(url: str, resolve_name: str | None = None, cacert: str | None = None, head: bool = False,
                        seconds: int = 5) -> str:
    """curl printing the HTTP status this host gets for `url` ("000" when nothing answers within `seconds`),
    with `resolve_name` resolved to 127.0.0.1 (so a certificate is checked for the name clients use), `cacert`
    trusted, and a HEAD request when `head`."""
    options = ["-s", "-o", "/dev/null", "-m", str(seconds), "-w", "%{http_code}", *(["-I"] if head else [])]
    if resolve_name:
        port = url.rsplit(":", 1)[1].split("/")[0]
        options += ["--resolve", f"{resolve_name}:{port}:127.0.0.1"]
    if cacert:
        options += ["--cacert", cacert]
    return f"{shlex.join(['curl', *options, url])} || true"


class HttpCode(FactBase):
    """The HTTP status this host gets for a URL (see http_status_command); None without curl."""

    # pyinfra passes a fact's arguments by the names its command() declares: each is named here.
    def requires_command(self, url, resolve_name=None, cacert=None, head=False, seconds=5) -> str:
        return "curl"

    def command(self, url, resolve_name=None, cacert=None, head=False, seconds=5) -> str:
        return http_status_command(url, resolve_name, cacert, head, seconds)

    def process(self, output):
        return output[0].strip() if output else "000"


@operation()
def healthy(announce: str | None = None):
    """
    Ensure the registry and the UI answer; otherwise wait for them, and fail the host with the
    containers' last log lines if they do not within the script's health timeout.

    A host that already answers changes nothing. The checks are those of `registry-container healthy`.

    + announce: a line logged once the host is healthy (its URLs)
    """
    checks = host.get_fact(Health)
    if checks and all(line.startswith("ok ") for line in checks):
        host.noop("the registry and the UI answer")
    else:
        yield f"{CONTAINER_SCRIPT} healthy --wait"
    if announce:
        log_once(announce)
