"""Plan tests, facts in and commands out, for every supported OS family.

No CentOS, RHEL, Rocky or Ubuntu host or mirror can be reached from our machines, so these prove the paths
the end-to-end suite cannot run: for each OS, a bare host gets exactly the commands listed, and a host
where everything is in place gets none at all.
"""

import hashlib
from pathlib import Path

import pytest
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.apt import AptSources, parse_apt_repo
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.docker import DockerImage, DockerVolume
from pyinfra.facts.files import Directory, File, FindInFile, Sha1File
from pyinfra.facts.rpm import RpmPackages
from pyinfra.facts.selinux import FileContext, FileContextMapping
from pyinfra.facts.server import LinuxDistribution, TmpDir, Which
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus

from ops.facts import ContainerState, HttpGet, SelinuxEnforcing
from ops.firewalld import FirewalldPorts
from tasks.maintenance import SCRIPT
from tasks.registry import registry_spec
from tasks.ui import ui_spec
from tests.plan.harness import fact_key, plan, uploads
from tests.support import Data, group_defaults

DISTROS = {
    "centos7": {"name": "CentOS Linux", "major": 7, "release_meta": {"ID": "centos", "ID_LIKE": "rhel fedora"}},
    "rocky9": {"name": "Rocky Linux", "major": 9, "release_meta": {"ID": "rocky", "ID_LIKE": "rhel centos fedora"}},
    "debian12": {"name": "Debian GNU/Linux", "major": 12,
                 "release_meta": {"ID": "debian", "VERSION_CODENAME": "bookworm"}},
    "ubuntu2204": {"name": "Ubuntu", "major": 22,
                   "release_meta": {"ID": "ubuntu", "ID_LIKE": "debian", "VERSION_CODENAME": "jammy"}},
}
# What an operator sets for each (group_data/<inventory>.py); CentOS 7 keeps the defaults' 18.09 pin.
DATA = {
    "centos7": {"centos_vault_baseurl": "http://vault.mirror.internal/centos/7.9.2009", "registry_storage": "bind"},
    "rocky9": {"docker_ce_version": "3:24.0.9-1.el9"},
    "debian12": {},
    "ubuntu2204": {"docker_package_source": "docker-ce", "docker_ce_version": "5:24.0.9-1~ubuntu.22.04~jammy"},
}
# Hosts with SELinux enforcing and firewalld running, as RHEL-family installs come.
HARDENED = {"centos7", "rocky9"}
GATEWAY = "172.17.0.1"
CONFIG = Path("files/config.yml")
DOCKER_APT_SOURCE = "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu jammy stable"
# pyinfra downloads to a temporary name derived from the URL, then moves it into place.
DOWNLOAD_TEMP = "/tmp/pyinfra-5b675aa05e13f3867aeb5a1268a12584c2c51771"
DOCKER_APT_LINE = (r"^.*deb \[signed\-by=/etc/apt/keyrings/docker\.asc\] https://download\.docker\.com/linux/ubuntu"
                   r" jammy stable.*$")
HEALTHY = {"status": 200, "body": "{}"}


def k(cls, **kwargs):
    return fact_key(cls, **kwargs)


def _service(cls, unit):
    return k(cls, user_mode=False, machine=None, user_name=None, services=[unit])


def _data(os_key):
    return {**group_defaults(), **DATA[os_key]}


def _managed_paths(os_key):
    """Every remote file the deploy manages on this OS, with the directory it lives in."""
    data = _data(os_key)
    paths = ["/etc/docker/daemon.json", f"{data['registry_config_dir']}/config.yml"]
    if os_key in ("centos7", "rocky9"):
        paths.append("/etc/yum.repos.d/docker-ce-stable.repo")
    if data["centos_vault_baseurl"] and os_key == "centos7":
        paths.append("/etc/yum.repos.d/CentOS-Base.repo")
    return paths


def bare(os_key):
    """Facts of a freshly installed host: no Docker, no files of ours, nothing running."""
    data = _data(os_key)
    facts = {
        k(LinuxDistribution): DISTROS[os_key],
        k(TmpDir): "/tmp",
        _service(SystemdStatus, "docker.service"): {},
        _service(SystemdEnabled, "docker.service"): {},
        k(SystemdStatus, services=["firewalld.service"]): {"firewalld.service": os_key in HARDENED},
        k(DockerImage, object_id=data["registry_image"]): None,
        k(DockerImage, object_id=data["ui_image"]): None,
        k(ContainerState, container=data["registry_container"], image=data["registry_image"], gateway=False): None,
        k(ContainerState, container=data["ui_container"], image=data["ui_image"], gateway=True): None,
    }
    urls = ["http://127.0.0.1:5000/v2/", "http://127.0.0.1:5050/", "http://127.0.0.1:5050/v2/_catalog"]
    facts[k(HttpGet, urls=urls, attempts=data["health_timeout"])] = [HEALTHY] * len(urls)
    for path in _managed_paths(os_key):
        facts[k(File, path=path)] = None
        facts[k(Directory, path=path)] = None
        facts[k(Directory, path=path.rsplit("/", 1)[0])] = None
    facts[k(File, path=SCRIPT)] = None
    facts[k(Directory, path=SCRIPT)] = None
    facts[_service(SystemdStatus, "registry-gc.timer")] = {}
    facts[_service(SystemdEnabled, "registry-gc.timer")] = {}
    for unit in ("registry-gc.timer", "registry-gc.service"):
        facts[k(File, path=f"/etc/systemd/system/{unit}")] = None
    if os_key in ("debian12", "ubuntu2204"):
        facts[k(DebPackages)] = {}
    else:
        facts[k(RpmPackages)] = {}
    if os_key in ("centos7", "rocky9"):
        facts[k(Directory, path="/etc/yum.repos.d")] = {"mode": 755, "user": "root", "group": "root"}
    if os_key == "ubuntu2204":
        facts[k(AptSources)] = []
        facts[k(File, path="/etc/apt/keyrings/docker.asc")] = None
        facts[k(File, path="/etc/apt/sources.list.d/docker.list")] = None
        facts[k(Which, command="curl")] = "/usr/bin/curl"
        facts[k(FindInFile, path="/etc/apt/sources.list.d/docker.list", pattern=DOCKER_APT_LINE,
                interpolate_variables=False, extended_regex=False)] = None
    if os_key in HARDENED:
        facts[k(FirewalldPorts)] = {"runtime": ["22/tcp"], "permanent": ["22/tcp"]}
    if data["registry_storage"] == "volume":
        facts[k(DockerVolume, object_id=data["registry_volume"])] = []
    else:
        path = data["registry_bind_path"]
        facts[k(Directory, path=path)] = None
        facts[k(SelinuxEnforcing)] = os_key in HARDENED
        if os_key in HARDENED:
            facts[k(FileContextMapping, target=f"{path}(/.*)?")] = {}
            facts[k(FileContext, path=path)] = {}
    return facts


def _state(spec, image_id, gateway=GATEWAY):
    """ContainerState of a container docker made from this spec, running the image it names."""
    spec = spec.with_gateway(gateway)
    return {"gateway": gateway, "image": {"Id": image_id, "Config": {}}, "container": {
        "Image": image_id,
        "State": {"Running": True},
        "Config": {"Image": spec.image, "Env": [f"{k}={v}" for k, v in spec.env.items()], "Labels": spec.labels},
        "HostConfig": {"PortBindings": {f"{inner}/tcp": [{"HostIp": "", "HostPort": str(outer)}]
                                        for inner, outer in spec.ports.items()},
                       "RestartPolicy": {"Name": spec.restart}},
        "Mounts": [{"Type": m.type, "Name": m.source, "Source": m.source, "Destination": m.target,
                    "RW": not m.read_only} for m in spec.mounts],
    }}


def in_place(os_key, monkeypatch):
    """Facts of a host after a successful deploy: what the bare host's plan put there is there."""
    data = _data(os_key)
    facts = bare(os_key)
    for path, content in uploads(bare(os_key), monkeypatch, **DATA[os_key]).items():
        facts[k(File, path=path)] = {"mode": 755 if path == SCRIPT else 644, "user": "root", "group": "root"}
        facts[k(Sha1File, path=path)] = hashlib.sha1(content).hexdigest()
        facts[k(Directory, path=path.rsplit("/", 1)[0])] = {"mode": 755, "user": "root", "group": "root"}
    config = f"{data['registry_config_dir']}/config.yml"
    facts.update({
        k(File, path=config): {"mode": 644, "user": "root", "group": "root"},
        k(Sha1File, path=config): hashlib.sha1(CONFIG.read_bytes()).hexdigest(),
        _service(SystemdStatus, "docker.service"): {"docker.service": True},
        _service(SystemdEnabled, "docker.service"): {"docker.service": True},
        k(DockerImage, object_id=data["registry_image"]): [{"Id": "sha256:" + "a" * 64, "Config": {}}],
        k(DockerImage, object_id=data["ui_image"]): [{"Id": "sha256:" + "b" * 64, "Config": {}}],
        k(ContainerState, container=data["registry_container"], image=data["registry_image"], gateway=False):
            _state(registry_spec(Data(data)), "sha256:" + "a" * 64),
        k(ContainerState, container=data["ui_container"], image=data["ui_image"], gateway=True):
            _state(ui_spec(Data(data)), "sha256:" + "b" * 64),
    })
    if os_key in ("debian12", "ubuntu2204"):
        installed = {"docker.io": {"20.10.24+dfsg1-1+b3"}} if os_key == "debian12" else {
            "docker-ce": {data["docker_ce_version"]}, "docker-ce-cli": {data["docker_ce_version"]},
            "containerd.io": {"1.6.28-2"}}
        facts[k(DebPackages)] = {**installed, "curl": {"7.88.1-10+deb12u5"}}
    else:
        version = data["docker_ce_version"].split(":")[-1]  # rpm -qa prints no epoch
        facts[k(RpmPackages)] = {"docker-ce": {version}, "docker-ce-cli": {version},
                                 "containerd.io": {"1.2.13-3.1.el7"}, "curl": {"7.29.0-59.el7"}}
    if os_key == "ubuntu2204":
        facts[k(File, path="/etc/apt/keyrings/docker.asc")] = {"mode": 644, "user": "root", "group": "root"}
        facts[k(AptSources)] = [parse_apt_repo(DOCKER_APT_SOURCE)]
    if os_key in HARDENED:
        facts[k(FirewalldPorts)] = {"runtime": ["22/tcp", "5000/tcp", "5050/tcp"],
                                    "permanent": ["22/tcp", "5000/tcp", "5050/tcp"]}
    if data["registry_storage"] == "volume":
        facts[k(DockerVolume, object_id=data["registry_volume"])] = [{"Name": data["registry_volume"]}]
    else:
        path = data["registry_bind_path"]
        facts[k(Directory, path=path)] = {"mode": 700, "user": "root", "group": "root"}
        if os_key in HARDENED:
            facts[k(FileContextMapping, target=f"{path}(/.*)?")] = {"type": "container_file_t"}
            facts[k(FileContext, path=path)] = {"type": "container_file_t"}
    return facts


@pytest.mark.parametrize("os_key", DISTROS)
def test_host_with_everything_in_place_gets_no_command(os_key, monkeypatch):
    assert plan(in_place(os_key, monkeypatch), monkeypatch, **DATA[os_key]) == []


CONTAINERS = [
    "docker run --detach --name registry --restart always --publish 5000:5000 --mount {storage}"
    " --mount type=bind,src=/etc/registry,dst=/etc/docker/registry,readonly"
    " --env REGISTRY_STORAGE_DELETE_ENABLED=true --label io.registry-deploy.config-sha256={config_sha} registry:2.8.3",
    "docker run --detach --name registry-ui --restart always --publish 5050:80 --env DELETE_IMAGES=true"
    " --env 'NGINX_PROXY_PASS_URL=http://<bridge gateway>:5000' --env 'REGISTRY_TITLE=Docker registry'"
    " --env SINGLE_REGISTRY=true joxit/docker-registry-ui:2.5.7",
]
MAINTENANCE = [f"upload {SCRIPT}", f"chmod 755 {SCRIPT}"]
# config.yml is tried in a throwaway registry before it replaces the one a running registry reads.
REGISTRY_FILES = [
    "rm -rf /etc/registry.trial && mkdir -p /etc/registry.trial",
    "upload /etc/registry.trial/config.yml",
    "docker rm --force --volumes registry-config-trial >/dev/null 2>&1; docker run --detach --name"
    " registry-config-trial --mount type=bind,src=/etc/registry.trial,dst=/etc/docker/registry,readonly"
    " registry:2.8.3 >/dev/null && sleep 2 && [ \"$(docker inspect --format '{{.State.Running}} {{.RestartCount}}'"
    " registry-config-trial)\" = 'true 0' ] || { echo 'the new config.yml does not start registry:2.8.3;"
    " the current one is kept:' >&2; docker logs --tail 20 registry-config-trial >&2 2>&1; docker rm --force"
    " --volumes registry-config-trial >/dev/null 2>&1; rm -rf /etc/registry.trial; exit 1; }; docker rm --force"
    " --volumes registry-config-trial >/dev/null",
    "mkdir -p /etc/registry && chown root:root /etc/registry.trial/config.yml && chmod 644"
    " /etc/registry.trial/config.yml && mv /etc/registry.trial/config.yml /etc/registry/config.yml"
    " && rmdir /etc/registry.trial",
]
PULLS = ["docker image pull registry:2.8.3", "docker image pull joxit/docker-registry-ui:2.5.7"]
DAEMON = ["mkdir -p /etc/docker", "upload /etc/docker/daemon.json", "chmod 644 /etc/docker/daemon.json"]
SERVICE = ["systemctl start docker.service", "systemctl enable docker.service"]
# Opened before the engine starts, so a bare host needs no restart for it.
FIREWALL = [
    "firewall-cmd --add-port=5000/tcp", "firewall-cmd --permanent --add-port=5000/tcp",
    "firewall-cmd --add-port=5050/tcp", "firewall-cmd --permanent --add-port=5050/tcp",
]
YUM_REPO = ["upload /etc/yum.repos.d/docker-ce-stable.repo", "chmod 644 /etc/yum.repos.d/docker-ce-stable.repo"]
APT_INSTALL = ("DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confdef"
               " -o Dpkg::Options::=--force-confold install --no-install-recommends ")
VOLUME = "type=volume,src=registry-vol,dst=/var/lib/registry"
BIND = "type=bind,src=/mnt/registry,dst=/var/lib/registry"
BIND_DIR = ["mkdir -p /mnt/registry", "chmod 700 /mnt/registry", "chown root:root /mnt/registry"]
SELINUX = ["semanage fcontext -a -t container_file_t '/mnt/registry(/.*)?'",
           "chcon -t container_file_t /mnt/registry"]

BARE_PLANS = {
    "centos7": [
        "upload /etc/yum.repos.d/CentOS-Base.repo",
        "chmod 644 /etc/yum.repos.d/CentOS-Base.repo",
        *YUM_REPO,
        "yum install -y docker-ce-18.09.9-3.el7 docker-ce-cli-18.09.9-3.el7 containerd.io curl",
        *DAEMON, *FIREWALL, *SERVICE, *PULLS, *BIND_DIR, *SELINUX, *REGISTRY_FILES,
        CONTAINERS[0].replace("{storage}", BIND), *MAINTENANCE, CONTAINERS[1],
    ],
    "rocky9": [
        *YUM_REPO,
        "dnf install -y docker-ce-3:24.0.9-1.el9 docker-ce-cli-3:24.0.9-1.el9 containerd.io curl",
        *DAEMON, *FIREWALL, *SERVICE, *PULLS, "docker volume create registry-vol", *REGISTRY_FILES,
        CONTAINERS[0].replace("{storage}", VOLUME), *MAINTENANCE, CONTAINERS[1],
    ],
    "debian12": [
        "apt-get update", APT_INSTALL + "docker.io curl",
        *DAEMON, *SERVICE, *PULLS, "docker volume create registry-vol", *REGISTRY_FILES,
        CONTAINERS[0].replace("{storage}", VOLUME), *MAINTENANCE, CONTAINERS[1],
    ],
    "ubuntu2204": [
        f"curl -sSLf https://download.docker.com/linux/ubuntu/gpg -o {DOWNLOAD_TEMP}",
        f"mv {DOWNLOAD_TEMP} /etc/apt/keyrings/docker.asc",
        "chmod 644 /etc/apt/keyrings/docker.asc",
        f"echo '{DOCKER_APT_SOURCE}' >> /etc/apt/sources.list.d/docker.list",
        "apt-get update",
        APT_INSTALL + "'docker-ce=5:24.0.9-1~ubuntu.22.04~jammy' 'docker-ce-cli=5:24.0.9-1~ubuntu.22.04~jammy'"
        " containerd.io curl",
        *DAEMON, *SERVICE, *PULLS, "docker volume create registry-vol", *REGISTRY_FILES,
        CONTAINERS[0].replace("{storage}", VOLUME), *MAINTENANCE, CONTAINERS[1],
    ],
}


@pytest.mark.parametrize("os_key", DISTROS)
def test_bare_host_gets_exactly_the_planned_commands(os_key, monkeypatch):
    config_sha = hashlib.sha256(CONFIG.read_bytes()).hexdigest()
    expected = [c.replace("{config_sha}", config_sha) for c in BARE_PLANS[os_key]]
    assert plan(bare(os_key), monkeypatch, **DATA[os_key]) == expected


def test_centos7_repo_files_point_at_docker_and_the_vault(monkeypatch):
    files = uploads(bare("centos7"), monkeypatch, **DATA["centos7"])
    docker_repo = files["/etc/yum.repos.d/docker-ce-stable.repo"].decode()
    assert "baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable" in docker_repo
    assert "gpgcheck=1" in docker_repo
    base = files["/etc/yum.repos.d/CentOS-Base.repo"].decode()
    assert "baseurl=http://vault.mirror.internal/centos/7.9.2009/os/$basearch/" in base
    assert "mirrorlist" not in base


@pytest.mark.parametrize("installed,command", [
    ({"18.09.9-3.el7"}, None),  # the pin is met: pyinfra's own yum.packages would reinstall here
    ({"18.09.1-3.el7"}, "yum install -y docker-ce-18.09.9-3.el7 || yum downgrade -y docker-ce-18.09.9-3.el7"),
    ({"19.03.15-3.el7"}, "yum install -y docker-ce-18.09.9-3.el7 || yum downgrade -y docker-ce-18.09.9-3.el7"),
])
def test_centos7_docker_ce_pin_is_matched_against_installed_rpms(monkeypatch, installed, command):
    facts = in_place("centos7", monkeypatch)
    facts[k(RpmPackages)] = {**facts[k(RpmPackages)], "docker-ce": installed}
    commands = plan(facts, monkeypatch, **DATA["centos7"])
    assert commands == ([] if command is None else [command])


def test_centos7_firewall_change_restarts_docker_after_opening_ports(monkeypatch):
    facts = in_place("centos7", monkeypatch)
    facts[k(FirewalldPorts)] = {"runtime": ["5000/tcp", "5050/tcp"], "permanent": ["5050/tcp"]}
    assert plan(facts, monkeypatch, **DATA["centos7"]) == [
        "firewall-cmd --permanent --add-port=5000/tcp", "systemctl restart docker.service"]


def test_daemon_json_change_restarts_docker(monkeypatch):
    facts = in_place("debian12", monkeypatch)
    facts[k(Sha1File, path="/etc/docker/daemon.json")] = "0" * 40
    assert plan(facts, monkeypatch, **DATA["debian12"]) == [
        "upload /etc/docker/daemon.json", "chmod 644 /etc/docker/daemon.json", "systemctl restart docker.service"]


@pytest.mark.parametrize("distro", [
    {"name": "Alpine Linux", "major": 3, "release_meta": {"ID": "alpine"}},
    {"name": "Arch Linux", "major": None, "release_meta": {"ID": "arch"}},
])
def test_unsupported_os_is_refused_before_any_command(distro, monkeypatch):
    with pytest.raises(DeployError, match=f"Unsupported OS: {distro['name']}"):
        plan({k(LinuxDistribution): distro}, monkeypatch)


def test_debian_docker_io_pin_refreshes_lists_and_installs_the_pinned_version(monkeypatch):
    facts = in_place("debian12", monkeypatch)
    pinned = "20.10.24+dfsg1-1+deb12u1"
    assert plan(facts, monkeypatch, docker_io_version=pinned) == [
        "apt-get update", APT_INSTALL + f"docker.io={pinned}"]
