"""The host itself: which family of OS it is (from pyinfra's LinuxDistribution fact), whether SELinux enforces, what
a name resolves to there."""

from __future__ import annotations

import shlex
import weakref

from pyinfra.api import FactBase
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.server import LinuxDistribution

# Each host's LinuxDistribution, asked once per run (pyinfra's State): several tasks decide by it, and the
# OS does not change under a deploy. Keyed by the run, then the host's name: a Host object may outlive its run.
_distributions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def distribution(host) -> dict | None:
    """pyinfra's LinuxDistribution fact of `host`, read from the host the first time in a run only."""
    known = _distributions.setdefault(host.state, {})
    if host.name not in known:
        known[host.name] = host.get_fact(LinuxDistribution)
    return known[host.name]


class SelinuxEnforcing(FactBase):
    """True when SELinux enforces (pyinfra's Selinux fact tells enabled, not enforcing)."""

    def requires_command(self) -> str:
        return "getenforce"

    def command(self) -> str:
        return "getenforce"

    def process(self, output):
        return "".join(output).strip().lower() == "enforcing"


class HostAddress(FactBase):
    """The IPv4 address a name resolves to on the host (as its containers cannot always resolve it), or None."""

    def command(self, hostname) -> str:
        return f"getent ahostsv4 {shlex.quote(hostname)} | awk 'NR == 1 {{ print $1 }}' || true"

    def process(self, output):
        return output[0].strip() if output and output[0].strip() else None

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
