"""What the places the registry may keep its data hold (tasks/storage.py decides from it), and its volume."""

from __future__ import annotations

import shlex
from urllib.parse import quote

from pyinfra import host
from pyinfra.api import FactBase, operation

from core.host_paths import MIGRATION_INCOMPLETE

from .container import api_answers, docker_api


class StorageHoldings(FactBase):
    """
    For each place the registry may keep its data ("volume:NAME" or "bind:PATH"): whether it holds a
    repository with manifests. {place: bool}; a volume or directory that does not exist holds nothing, and
    nor does one holding the unfinished copy of a migration that was interrupted (MIGRATION_INCOMPLETE).
    """

    def requires_command(self, places) -> str:
        return "docker"

    def command(self, places) -> str:
        checks = []
        for place in places:
            kind, _, where = place.partition(":")
            root = (f"$(docker volume inspect --format '{{{{.Mountpoint}}}}' {shlex.quote(where)} 2>/dev/null)"
                    if kind == "volume" else shlex.quote(where))
            checks.append(f"echo {shlex.quote(place)} $([ -e {root}/{MIGRATION_INCOMPLETE} ] || find"
                          f" {root}/docker/registry/v2/repositories -type d -name _manifests 2>/dev/null"
                          " | head -n 1 | wc -l)")
        return "; ".join(checks)

    def process(self, output):
        holdings = {}
        for line in output:
            place, _, count = line.rpartition(" ")
            if place:
                holdings[place] = count.strip() not in ("", "0")
        return holdings


class VolumeExists(FactBase):
    """Whether the engine has the named volume, as its API answers (what `docker volume inspect` asks)."""

    def requires_command(self, volume) -> str:
        return "curl"

    def command(self, volume) -> str:
        return docker_api(f"/volumes/{quote(volume, safe='')}")

    def process(self, output):
        return any(answer is not None for answer in api_answers(output))


@operation()
def volume_present(volume: str):
    """
    Ensure the engine has the named volume (made with the default driver when it has none).

    + volume: the volume's name
    """
    if not host.get_fact(VolumeExists, volume=volume):
        yield f"docker volume create {shlex.quote(volume)}"
