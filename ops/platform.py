"""Which family of OS a host is, from pyinfra's LinuxDistribution fact."""

from __future__ import annotations

from pyinfra.api.exceptions import DeployError

DEBIAN_IDS = {"debian", "ubuntu"}
RHEL_IDS = {"centos", "rhel", "rocky", "almalinux", "ol"}


def os_family(distro: dict | None) -> str:
    """"debian" or "rhel"; any other OS is refused before anything changes, naming it."""
    meta = (distro or {}).get("release_meta") or {}
    ids = {meta.get("ID", "").lower(), *meta.get("ID_LIKE", "").lower().split()}
    if ids & DEBIAN_IDS:
        return "debian"
    if ids & RHEL_IDS:
        return "rhel"
    name = (distro or {}).get("name") or meta.get("PRETTY_NAME") or "an unknown OS"
    raise DeployError(
        f"Unsupported OS: {name} {(distro or {}).get('major') or ''}".rstrip()
        + ". Supported: Debian, Ubuntu, CentOS 7, RHEL/Rocky/Alma 8-9."
    )


def rpm_manager(distro: dict) -> str:
    """yum on EL7 and older, dnf after."""
    return "yum" if (distro.get("major") or 0) <= 7 else "dnf"
