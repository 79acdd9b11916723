"""Packages pinned to exact versions, read from one fact, installed only when they differ.

RPM: pyinfra's yum/dnf `packages` pins are `name=VERSION-RELEASE` matched exactly against installed RPMs,
and a bare `docker-ce-18.09.9` is taken for a package name, so it reinstalls on every run; this asks
yum/dnf for `name-[epoch:]version-release` and compares with what rpm says is installed.
Debian: pyinfra's apt `packages` can refresh the lists only on every run or never; this refreshes them
only when something is to be installed, so a no-op run stays a no-op and reads the packages once.
"""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.rpm import RpmPackages


def _without_epoch(version: str) -> str:
    return version.split(":", 1)[1] if ":" in version else version


@operation()
def rpm_pinned(packages: dict, manager: str = "yum"):
    """
    Ensure each package is installed at its pinned version (None: any version).

    + packages: name -> "[epoch:]version-release" or None
    + manager: "yum" or "dnf"
    """
    installed = host.get_fact(RpmPackages) or {}
    install, downgrade = [], []
    for name, version in packages.items():
        have = installed.get(name) or []
        if version is None:
            if have:
                host.noop(f"package {name} is installed")
            else:
                install.append(name)
        elif _without_epoch(version) in have:
            host.noop(f"package {name} is installed ({version})")
        else:
            (downgrade if have else install).append(f"{name}-{version}")
    targets = install + downgrade
    if targets:
        quoted = " ".join(shlex.quote(t) for t in targets)
        # Already installed at another version: install upgrades, downgrade goes back.
        fallback = f" || {manager} downgrade -y {quoted}" if downgrade else ""
        yield f"{manager} install -y {quoted}{fallback}"


# --no-remove: apt aborts rather than remove a package (an engine from another source) to make room.
APT_INSTALL = (
    "DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confdef"
    " -o Dpkg::Options::=--force-confold install --no-install-recommends --no-remove"
)
# A run killed during an install leaves apt running on (it holds dpkg's lock: wait for it, bounded) or
# dpkg half-done (apt refuses to go on until `dpkg --configure -a` has run).
DPKG_FINISH = ("for i in $(seq 600); do pgrep -x 'apt-get|apt|dpkg' >/dev/null || break; sleep 1; done;"
               " DEBIAN_FRONTEND=noninteractive dpkg --configure -a")


@operation()
def deb_pinned(packages: dict):
    """
    Ensure each package is installed at its pinned version (None: any version).

    + packages: name -> Debian version or None
    """
    installed = host.get_fact(DebPackages) or {}
    wanted = [
        f"{name}={version}" if version else name
        for name, version in packages.items()
        if name not in installed or (version and version not in installed[name])
    ]
    if not wanted:
        host.noop(f"packages {', '.join(packages)} are installed")
        return
    yield DPKG_FINISH
    yield "apt-get update"
    yield f"{APT_INSTALL} {' '.join(shlex.quote(w) for w in wanted)}"


# Engine packages by what they are, and the registry_docker_package_source that keeps each.
ENGINES = {
    "docker.io": "distribution",
    "docker-ce": "docker-ce",
    "moby-engine": "installed",
    "docker": "installed",  # RHEL 7's own docker 1.13
    "docker-engine": "installed",  # Docker's packages before 17.03
    "podman-docker": None,  # a docker command backed by Podman: no Docker engine at all
}


def engine_conflicts(installed: dict, source: str) -> list[str]:
    """Why installing the engine `source` asks for would replace one the host already runs, or why the
    host's engine cannot be kept; [] when the deploy may go on. `installed`: package name -> versions."""
    present = [name for name in ENGINES if name in installed]
    if source == "installed":
        if not [name for name in present if ENGINES[name]]:
            return ["registry_docker_package_source is 'installed' but no Docker engine package is installed"
                    f" (looked for {', '.join(n for n in ENGINES if ENGINES[n])})"]
        return []
    problems = []
    for name in present:
        keeps = ENGINES[name]
        if keeps is None:
            problems.append(f"{name} is installed: it gives a docker command backed by Podman, not Docker's"
                            " engine; remove it first (nothing was changed)")
        elif keeps != source:
            problems.append(f"{name} is installed and registry_docker_package_source is {source!r}: installing that"
                            f" engine would replace it under its containers. Set registry_docker_package_source="
                            f"{keeps!r} to keep and use it (nothing was changed)")
    return problems
