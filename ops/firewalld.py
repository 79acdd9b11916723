"""firewalld ports: pyinfra has no firewalld support."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import FactBase, operation


class FirewalldPorts(FactBase):
    """Ports open in firewalld's default zone: {"runtime": [...], "permanent": [...]}, e.g. "5000/tcp"."""

    def requires_command(self) -> str:
        return "firewall-cmd"

    def command(self) -> str:
        return "firewall-cmd --list-ports && echo --- && firewall-cmd --permanent --list-ports"

    def process(self, output):
        text = " ".join(output)
        runtime, _, permanent = text.partition("---")
        return {"runtime": runtime.split(), "permanent": permanent.split()}


@operation()
def ports_open(ports: list):
    """Open each port ("5000/tcp") in firewalld's default zone, now and across reloads."""
    current = host.get_fact(FirewalldPorts) or {"runtime": [], "permanent": []}
    for port in ports:
        if port not in current["runtime"]:
            yield f"firewall-cmd --add-port={port}"
        if port not in current["permanent"]:
            yield f"firewall-cmd --permanent --add-port={port}"
    if all(p in current["runtime"] and p in current["permanent"] for p in ports):
        host.noop(f"firewalld has {', '.join(ports)} open")
