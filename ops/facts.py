"""Facts pyinfra does not have: the Docker bridge gateway, a container with its image in one command,
an HTTP probe made from the host, and whether SELinux enforces."""

from __future__ import annotations

import json
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


class ContainerState(FactBase):
    """
    `docker inspect` of a container and of the image it should run, in one command, with the bridge
    gateway (see BridgeGateway) when asked: {"container": dict or None, "image": dict or None,
    "gateway": str or None}. None: no such container, image not on the host, gateway not asked or unknown.
    """

    def requires_command(self, container, image, gateway=False) -> str:
        return "docker"

    def command(self, container, image, gateway=False) -> str:
        command = (f"docker container inspect {shlex.quote(container)} 2>/dev/null || true; echo @@; "
                   f"docker image inspect {shlex.quote(image)} 2>/dev/null || true")
        return f"{command}; echo @@; {BridgeGateway().command()}" if gateway else command

    def process(self, output):
        container, image, gateway = ("\n".join(output) + "\n@@").split("@@")[:3]
        return {
            "container": _first(container),
            "image": _first(image),
            "gateway": BridgeGateway().process(gateway.splitlines()),
        }


def _first(text):
    documents = json.loads(text) if text.strip() else []
    return documents[0] if documents else None


class HttpGet(FactBase):
    """
    GET each of `urls` from the host itself, in one command; each is retried once a second, up to
    `attempts` times, until it answers 200.

    Returns one {"status": int (0 when nothing answered), "body": str} per URL, in order.
    """

    MARK = "@@status "

    def requires_command(self, urls, attempts=1) -> str:
        return "curl"

    def command(self, urls, attempts=1) -> str:
        probe = (
            "i=0; while :; do out=$(curl -s -m 5 -w '\\n%{{http_code}}' {url}); "
            'code=$(printf "%s" "$out" | tail -n 1); i=$((i+1)); '
            '[ "$code" = 200 ] || [ $i -ge {attempts} ] && break; sleep 1; done; '
            'printf "%s\\n" "$out" | sed \'$s/^/{mark}/\''
        )
        return "; ".join(probe.format(url=shlex.quote(url), attempts=int(attempts), mark=self.MARK) for url in urls)

    def process(self, output):
        answers, body = [], []
        for line in output:
            if line.startswith(self.MARK):
                status = line.removeprefix(self.MARK).strip()
                answers.append({"status": int(status) if status.isdigit() else 0, "body": "\n".join(body)})
                body = []
            else:
                body.append(line)
        return answers


class SelinuxEnforcing(FactBase):
    """True when SELinux enforces (pyinfra's Selinux fact tells enabled, not enforcing)."""

    def requires_command(self) -> str:
        return "getenforce"

    def command(self) -> str:
        return "getenforce"

    def process(self, output):
        return "".join(output).strip().lower() == "enforcing"
