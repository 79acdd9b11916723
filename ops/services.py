"""systemd services, several at once: pyinfra's systemd.service asks two facts per service, this asks two
for all of them."""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus


@operation()
def running_and_enabled(services: list[str]):
    """
    Ensure each service runs now and starts at boot.

    + services: full unit names, e.g. ["prometheus.service", "registry-metrics.timer"]
    """
    scope = {"user_mode": False, "machine": None, "user_name": None, "services": services}
    active = host.get_fact(SystemdStatus, **scope) or {}
    enabled = host.get_fact(SystemdEnabled, **scope) or {}
    off = [service for service in services if not enabled.get(service)]
    stopped = [service for service in services if not active.get(service)]
    if not off and not stopped:
        host.noop(f"{', '.join(services)} run and are enabled")
        return
    if off:
        yield f"systemctl enable {' '.join(shlex.quote(service) for service in off)}"
    if stopped:
        yield f"systemctl start {' '.join(shlex.quote(service) for service in stopped)}"
