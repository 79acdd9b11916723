"""RPM packages pinned to an exact version-release.

pyinfra's yum/dnf `packages` joins pins as `name=version`, which yum does not understand, so it
reinstalls on every run (see ENVIRONMENT.md). This operation compares with the installed RPMs and
asks yum/dnf for `name-[epoch:]version-release`, only for the packages that differ.
"""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import operation
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
