"""The Docker engine: packages pinned by data, daemon.json, the host firewall it must live with, and the
service running and enabled: reloaded when only keys it reloads changed (registry mirrors, insecure registries),
restarted when another key or the firewall changed."""

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.rpm import RpmPackages
from pyinfra.facts.systemd import SystemdStatus
from pyinfra.operations import apt, files, systemd, yum

from core import topology
from ops.daemon import daemon_json
from ops.firewalld import ports_open
from ops.packages import deb_pinned, engine_conflicts, rpm_pinned
from ops.platform import distribution, os_family, rpm_manager
from ops.signing_keys import trusted_key

# Tools the deploy itself uses on the host (the health gate probes with curl; the chores talk to the access
# proxy's runtime API with socat).
TOOLS = ["curl", "socat"]
# yum imports the key from here (not from the network) on the first install of a signed package.
RPM_KEY = "/etc/pki/rpm-gpg/docker-ce.asc"


def daemon_settings(data, plain_http: list[str], hub_mirrors: list[str] = ()) -> dict:
    """The daemon.json keys the deploy sets: registry_docker_daemon_options, log rotation, Docker Hub's mirrors
    (the inventory's pull-through mirrors, then the operator's), and the registries the engine may reach over
    plain HTTP (the operator's and the inventory's TLS-less ones)."""
    settings = {
        **data.registry_docker_daemon_options,
        "log-driver": "json-file",
        "log-opts": {"max-size": data.registry_docker_log_max_size, "max-file": str(data.registry_docker_log_max_file)},
    }
    mirrors = list(dict.fromkeys([*hub_mirrors, *data.registry_docker_registry_mirrors]))
    if mirrors:
        settings["registry-mirrors"] = mirrors
    insecure = list(dict.fromkeys([*data.registry_docker_insecure_registries, *plain_http]))
    if insecure:
        settings["insecure-registries"] = insecure
    return settings


def _refuse_other_engines(installed: dict, source: str):
    """Before anything changes: an engine from another source is never swapped out."""
    problems = engine_conflicts(installed, source)
    if problems:
        raise DeployError(f"{host.name}: " + "; ".join(problems))


def _debian(distro):
    data = host.data
    _refuse_other_engines(host.get_fact(DebPackages) or {}, data.registry_docker_package_source)
    if data.registry_docker_package_source == "installed":
        deb_pinned(name="Tools the deploy uses are installed", packages=dict.fromkeys(TOOLS))
        return
    if data.registry_docker_package_source == "docker-ce":
        # Before the key: a minimal Debian or Ubuntu has neither curl nor wget to download it with.
        deb_pinned(name="Tools the deploy uses are installed", packages=dict.fromkeys(TOOLS))
        flavour = distro["release_meta"]["ID"].lower()
        codename = distro["release_meta"].get("VERSION_CODENAME")
        keyring = "/etc/apt/keyrings/docker.asc"
        trusted_key(
            name="Docker's apt signing key is present, checked by its fingerprint",
            src=f"{data.registry_docker_ce_repo_url}/linux/{flavour}/gpg",
            dest=keyring,
            fingerprints=data.registry_docker_ce_key_fingerprints,
        )
        apt.repo(
            name="Docker's apt repository is configured",
            src=f"deb [signed-by={keyring}] {data.registry_docker_ce_repo_url}/linux/{flavour} {codename} stable",
            filename="docker",
        )
        version = data.registry_docker_ce_version
        packages = {"docker-ce": version, "docker-ce-cli": version, "containerd.io": None}
    else:
        packages = {"docker.io": data.registry_docker_io_version, **dict.fromkeys(TOOLS)}
    deb_pinned(name="Docker engine packages are installed", packages=packages)


def _rhel(distro):
    data = host.data
    # The RHEL family's engine comes from Docker's repository whatever registry_docker_package_source says.
    _refuse_other_engines(host.get_fact(RpmPackages) or {},
                          "installed" if data.registry_docker_package_source == "installed" else "docker-ce")
    if data.registry_docker_package_source == "installed":
        rpm_pinned(name="Tools the deploy uses are installed", packages=dict.fromkeys(TOOLS),
                   manager=rpm_manager(distro))
        return
    if data.registry_centos_vault_baseurl and distro.get("major") == 7:
        files.template(
            name="CentOS 7 base repositories point at the vault",
            src="files/centos7-vault.repo.j2",
            dest="/etc/yum.repos.d/CentOS-Base.repo",
            baseurl=data.registry_centos_vault_baseurl.rstrip("/"),
            mode="0644",
        )
    trusted_key(
        name="Docker's RPM signing key is present, checked by its fingerprint",
        src=f"{data.registry_docker_ce_repo_url}/linux/centos/gpg",
        dest=RPM_KEY,
        fingerprints=data.registry_docker_ce_key_fingerprints,
    )
    yum.repo(
        name="Docker's yum repository is configured",
        src="docker-ce-stable",
        description="Docker CE Stable",
        baseurl=f"{data.registry_docker_ce_repo_url}/linux/centos/$releasever/$basearch/stable",
        gpgcheck=True,
        gpgkey=f"file://{RPM_KEY}",
    )
    version = data.registry_docker_ce_version
    rpm_pinned(
        name="Docker engine packages are installed",
        # curl (a dependency of yum and dnf themselves) already downloaded the key above.
        packages={"docker-ce": version, "docker-ce-cli": version, "containerd.io": None, **dict.fromkeys(TOOLS)},
        manager=rpm_manager(distro),
    )


def _firewall_opened():
    """Open the ports in firewalld where it runs; the operation, or None when there is nothing to do."""
    data = host.data
    firewalld = host.get_fact(SystemdStatus, services=["firewalld.service"]) or {}
    if not data.registry_firewalld_open_ports or not firewalld.get("firewalld.service"):
        return None
    ports = [f"{data.registry_port}/tcp"] + ([f"{data.registry_ui_port}/tcp"] if data.registry_ui_enabled else [])
    return ports_open(name=f"firewalld allows {', '.join(ports)}", ports=ports)


@deploy("Docker engine")
def docker_engine():
    distro = distribution(host)
    {"debian": _debian, "rhel": _rhel}[os_family(distro)](distro)
    daemon_json(name="Docker daemon configuration is in place (a running engine reloads or restarts for it)",
                settings=daemon_settings(host.data, topology.plain_http_registries(inventory),
                                         topology.hub_mirror_urls(inventory)))
    opened = _firewall_opened()
    systemd.service(
        name="Docker engine is running and enabled", service="docker.service", running=True, enabled=True
    )
    if opened:  # a firewalld change can drop the iptables chains Docker made; a restart makes them again
        systemd.service(name="Docker engine restarts for the firewall's new rules", service="docker.service",
                        running=None, restarted=True, _if=opened.did_change)
