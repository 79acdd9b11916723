"""Facts pyinfra does not have: the Docker bridge gateway and an HTTP probe made from the host."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


class BridgeGateway(FactBase):
    """
    The host's address on Docker's default bridge network, as containers on it reach the host.

    Docker 20.10+ may leave the bridge's IPAM gateway empty (only the docker0 interface has it),
    so the interface's address is the fallback. None when neither is known (no engine yet).
    """

    def requires_command(self) -> str:
        return "docker"

    def command(self) -> str:
        return (
            "docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "
            "2>/dev/null; ip -4 -o addr show dev docker0 2>/dev/null | awk '{print $4}'"
        )

    def process(self, output):
        for line in output:
            address = line.strip().split("/")[0]
            if address:
                return address
        return None


class HttpGet(FactBase):
    """
    GET `url` from the host itself, retrying once a second up to `attempts` times until it answers 200.

    Returns {"status": int (0 when nothing answered), "body": str}.
    """

    def requires_command(self, url, attempts=1) -> str:
        return "curl"

    def command(self, url, attempts=1) -> str:
        url = shlex.quote(url)
        return (
            f"i=0; while :; do out=$(curl -s -m 5 -w '\\n%{{http_code}}' {url}); "
            'code=$(printf "%s" "$out" | tail -n 1); i=$((i+1)); '
            f'[ "$code" = 200 ] || [ $i -ge {int(attempts)} ] && break; sleep 1; done; '
            'printf "%s\\n" "$out"'
        )

    def process(self, output):
        lines = list(output)
        status = lines[-1].strip() if lines else ""
        return {"status": int(status) if status.isdigit() else 0, "body": "\n".join(lines[:-1])}


class SelinuxEnforcing(FactBase):
    """True when SELinux enforces (pyinfra's Selinux fact tells enabled, not enforcing)."""

    def requires_command(self) -> str:
        return "getenforce"

    def command(self) -> str:
        return "getenforce"

    def process(self, output):
        return "".join(output).strip().lower() == "enforcing"
