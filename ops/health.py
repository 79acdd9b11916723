"""The health gate: a host passes only when its registry and UI answer as they should."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation

from .facts import Health
from .hostscripts import CONTAINER_SCRIPT
from .report import log_once


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
