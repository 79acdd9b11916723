"""Fact tables for the plan tests: a freshly installed host of each supported OS, and the same host once
deployed. The deployed one is described from what the deploy should leave there (the files' expected
content, the packages at their pinned versions), never from the plan under test."""

from __future__ import annotations

import hashlib

import jinja2
from pyinfra.facts.apt import AptSources, parse_apt_repo
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.docker import DockerContainer, DockerImage
from pyinfra.facts.files import Directory, File, FindInFile, Sha1File
from pyinfra.facts.rpm import RpmPackages
from pyinfra.facts.selinux import FileContext, FileContextMapping
from pyinfra.facts.server import LinuxDistribution, Which
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus

from core.data import proxied, registry_name
from core.haproxy_files import PROXY_CONFIG, PROXY_LOADED, PROXY_PEM, proxy_config
from core.host_files import UPSTREAM_TLS_FILE, client_curlrc, config_files, upstream_tls
from core.host_paths import COMMON_LIBRARY, CONTAINER_SCRIPT, MAINTENANCE_SCRIPT
from core.host_scripts import template_values
from core.mirrors import MIRROR_LABEL
from core.secrets import SecretStore
from dev.operator import Data, group_defaults
from ops.clients import DockerLogins, RegistryAnswers
from ops.container import ContainerState, LabelledContainers
from ops.daemon import DaemonJson
from ops.files import UPLOAD_DIR, FileStates, UploadDirectory
from ops.firewalld import FirewalldPorts
from ops.health import Health
from ops.maintenance import MaintenanceState
from ops.platform import SelinuxEnforcing
from ops.registry_config import ConfigFiles
from ops.scheduler import SchedulerTraces
from ops.signing_keys import KeyFileBytes
from ops.storage import VolumeExists
from sandbox.settings import ROOT
from tasks.access_proxy import proxy_spec
from tasks.engine import RPM_KEY
from tasks.registry import registry_spec
from tasks.ui import ui_spec
from tests.keys import FINGERPRINT_A, KEY_A, KEY_B
from tests.plan.harness import any_arguments, fact_key, plan_data

DISTROS = {
    "centos7": {"name": "CentOS Linux", "major": 7, "release_meta": {"ID": "centos", "ID_LIKE": "rhel fedora"}},
    "rocky9": {"name": "Rocky Linux", "major": 9, "release_meta": {"ID": "rocky", "ID_LIKE": "rhel centos fedora"}},
    "debian12": {"name": "Debian GNU/Linux", "major": 12,
                 "release_meta": {"ID": "debian", "VERSION_CODENAME": "bookworm"}},
    "ubuntu2204": {"name": "Ubuntu", "major": 22,
                   "release_meta": {"ID": "ubuntu", "ID_LIKE": "debian", "VERSION_CODENAME": "jammy"}},
}
# The key a deployed docker-ce host holds: test key A stands for Docker's (whose bytes are not in the
# project); DATA trusts it beside Docker's own fingerprints.
SIGNING_KEY, SIGNING_KEY_FINGERPRINT, OTHER_KEY = KEY_A, FINGERPRINT_A, KEY_B
DOCKER_KEYS = {"registry_docker_ce_key_fingerprints": [SIGNING_KEY_FINGERPRINT,
                                                       *group_defaults()["registry_docker_ce_key_fingerprints"]]}
# What an operator sets for each (group_data/<inventory>.py); CentOS 7 keeps the defaults' 18.09 pin.
DATA = {
    "centos7": {"registry_centos_vault_baseurl": "https://vault.mirror.internal/centos/7.9.2009",
                "registry_storage": "bind",
                **DOCKER_KEYS},
    "rocky9": {"registry_docker_ce_version": "3:24.0.9-1.el9", **DOCKER_KEYS},
    "debian12": {},
    "ubuntu2204": {"registry_docker_package_source": "docker-ce",
                   "registry_docker_ce_version": "5:24.0.9-1~ubuntu.22.04~jammy",
                   **DOCKER_KEYS},
}
APT_KEY = "/etc/apt/keyrings/docker.asc"
# RHEL-family installs come with SELinux enforcing and firewalld running.
HARDENED = {"centos7", "rocky9"}
GATEWAY = "172.17.0.1"
HOST = "planned-host"
DOCKER_APT_SOURCE = "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu jammy stable"
# daemon.json as the defaults should leave it.
DAEMON_JSON = {"log-driver": "json-file", "log-opts": {"max-file": "3", "max-size": "10m"}}
ROOT_FILE = {"mode": 644, "user": "root", "group": "root"}


def k(cls, **kwargs):
    return fact_key(cls, **kwargs)


def service(cls, unit):
    return k(cls, user_mode=False, machine=None, user_name=None, services=[unit])


def data_for(os_key, **overrides) -> Data:
    return Data(plan_data(**DATA[os_key], **overrides))


def _sha1(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


def _upstream_conf(data) -> bytes:
    return upstream_tls(data, registry_name(HOST, data))


def _files_in_place(data) -> dict:
    """Every file the deploy writes with files.put/template, and the content it should have."""
    common = jinja2.Template((ROOT / "files/registry-common.sh.j2").read_text()).render(
        **template_values(HOST, data))
    files = config_files(HOST, data)
    pem, rules = files["registry.crt"] + files["registry.key"], proxy_config(HOST, data).encode()
    return {
        f"{data.registry_config_dir}/client.curlrc": client_curlrc(HOST, data).encode(),
        f"{data.registry_config_dir}/{UPSTREAM_TLS_FILE}": _upstream_conf(data),
        **({f"{data.registry_config_dir}/{PROXY_PEM}": pem, f"{data.registry_config_dir}/{PROXY_CONFIG}": rules,
            f"{data.registry_config_dir}/{PROXY_LOADED}": f"{_sha1(rules)} {_sha1(pem)}\n".encode()}
           if proxied(data) else {}),
        COMMON_LIBRARY: (common if common.endswith("\n") else common + "\n").encode(),
        CONTAINER_SCRIPT: (ROOT / "files/registry-container.sh").read_bytes(),
        MAINTENANCE_SCRIPT: (ROOT / "files/registry-maintenance.sh").read_bytes(),
        **{f"/etc/docker/certs.d/{name}:{data.registry_port}/ca.crt": SecretStore(data.registry_secrets_dir).ca()[0]
           for name in (HOST, "localhost")},
    }


def bare(os_key, **overrides) -> dict:
    """Facts of a freshly installed host: no Docker, no files of ours, nothing running. Facts the
    operations read once the engine is installed (the bridge gateway) are as they will be by then."""
    data = data_for(os_key, **overrides)
    facts = {
        k(LinuxDistribution): DISTROS[os_key],
        k(UploadDirectory, path=UPLOAD_DIR): "root",  # SUDO_USER or root, then nothing: missing
        service(SystemdStatus, "docker.service"): {},
        service(SystemdEnabled, "docker.service"): {},
        k(SystemdStatus, services=["firewalld.service"]): {"firewalld.service": os_key in HARDENED},
        k(DockerImage, object_id=data.registry_image): None,
        k(DockerImage, object_id=data.registry_ui_image): None,
        k(DockerImage, object_id=data.registry_auth_proxy_image): None,
        k(ContainerState, container=data.registry_container, image=data.registry_image, gateway=False): None,
        k(ContainerState, container=data.registry_auth_proxy_container, image=data.registry_auth_proxy_image,
          gateway=False): None,
        k(DockerContainer, object_id=data.registry_auth_proxy_container): [],
        k(ContainerState, container=data.registry_ui_container, image=data.registry_ui_image, gateway=True):
            {"container": None, "image": None, "aside": False, "gateway": GATEWAY},
        k(DaemonJson): {"config": {}, "pending": None},
        k(LabelledContainers, label=MIRROR_LABEL): {},
        k(MaintenanceState): None,
        any_arguments(ConfigFiles): None,
        k(Health): None,
        k(Directory, path=data.registry_config_dir): None,
        any_arguments(File): None,
        any_arguments(Directory): None,
        any_arguments(FindInFile): None,
        any_arguments(RegistryAnswers): True,
        any_arguments(FileStates): {},
        any_arguments(DockerLogins): [],
        any_arguments(KeyFileBytes): None,
        any_arguments(SchedulerTraces): {"home": "/root", "keys": [], "host_keys": [], "installed": []},
    }
    if os_key in ("debian12", "ubuntu2204"):
        facts[k(DebPackages)] = {}
    else:
        facts[k(RpmPackages)] = {}
        facts[k(Which, command="curl")] = "/usr/bin/curl"  # yum and dnf need it
        facts[k(Directory, path="/etc/yum.repos.d")] = {"mode": 755, "user": "root", "group": "root"}
    if os_key == "ubuntu2204":
        facts[k(AptSources)] = []
        facts[k(Which, command="curl")] = facts[k(Which, command="wget")] = None  # the deploy installs curl
    if os_key in HARDENED:
        facts[k(FirewalldPorts)] = {"runtime": ["22/tcp"], "permanent": ["22/tcp"]}
    if data.registry_storage == "volume":
        facts[k(VolumeExists, volume=data.registry_volume)] = False
    else:
        facts[k(SelinuxEnforcing)] = os_key in HARDENED
        if os_key in HARDENED:
            facts[k(FileContextMapping, target=f"{data.registry_bind_path}(/.*)?")] = {}
            facts[k(FileContext, path=data.registry_bind_path)] = {}
    return facts


def container_state(spec, image_id, gateway=GATEWAY) -> dict:
    """ContainerState of a container docker made from this spec, running the image it names."""
    if spec.needs_gateway():
        spec = spec.with_gateway(gateway)
    return {"gateway": gateway, "aside": False, "image": {"Id": image_id, "Config": {}}, "container": {
        "Name": f"/{spec.name}",
        "Image": image_id,
        "State": {"Running": True},
        "Config": {"Image": spec.image, "Env": [f"{k}={v}" for k, v in spec.env.items()], "Labels": spec.labels,
                   "StopTimeout": spec.stop_timeout, "User": spec.user},
        "HostConfig": {"PortBindings": {f"{inner}/tcp": [{"HostIp": "", "HostPort": str(outer)}]
                                        for inner, outer in spec.ports.items()},
                       "RestartPolicy": {"Name": spec.restart}, "NetworkMode": spec.network},
        "Mounts": [{"Type": m.type, "Name": m.source, "Source": m.source, "Destination": m.target,
                    "RW": not m.read_only} for m in spec.mounts],
    }}


def config_files_state(data) -> dict:
    """ConfigFiles of a configuration directory holding what the data renders, config.yml -> writable.yml."""
    return {"directory": "700 root:root", "link": "writable.yml", "read_only": False,
            "files": {name: f"{_sha1(content)} 600 root:root" for name, content in config_files(HOST, data).items()}}


def in_place(os_key, **overrides) -> dict:
    """Facts of the same host once deployed: packages at their pins, files with their content, containers
    as specified, registry and UI answering."""
    data = data_for(os_key, **overrides)
    facts = bare(os_key, **overrides)
    modes = {CONTAINER_SCRIPT: 755, MAINTENANCE_SCRIPT: 755, f"{data.registry_config_dir}/client.curlrc": 600,
             f"{data.registry_config_dir}/{UPSTREAM_TLS_FILE}": 600, f"{data.registry_config_dir}/{PROXY_PEM}": 600,
             f"{data.registry_config_dir}/{PROXY_CONFIG}": 600, f"{data.registry_config_dir}/{PROXY_LOADED}": 600}
    facts[any_arguments(FileStates)] = {path: f"{_sha1(content)} {modes.get(path, 644)} root:root"
                                        for path, content in _files_in_place(data).items()}
    facts[k(Directory, path=data.registry_config_dir)] = {"mode": 700, "user": "root", "group": "root"}
    facts.update({
        k(UploadDirectory, path=UPLOAD_DIR): "root 700 root directory",
        service(SystemdStatus, "docker.service"): {"docker.service": True},
        service(SystemdEnabled, "docker.service"): {"docker.service": True},
        k(DockerImage, object_id=data.registry_image): [{"Id": "sha256:" + "a" * 64, "Config": {}}],
        k(DockerImage, object_id=data.registry_ui_image): [{"Id": "sha256:" + "b" * 64, "Config": {}}],
        k(DockerImage, object_id=data.registry_auth_proxy_image): [{"Id": "sha256:" + "c" * 64, "Config": {}}],
        k(ContainerState, container=data.registry_auth_proxy_container, image=data.registry_auth_proxy_image,
          gateway=False):
            container_state(proxy_spec(data), "sha256:" + "c" * 64),
        k(ContainerState, container=data.registry_container, image=data.registry_image, gateway=False):
            container_state(registry_spec(HOST, data), "sha256:" + "a" * 64),
        k(ContainerState, container=data.registry_ui_container, image=data.registry_ui_image, gateway=True):
            container_state(ui_spec(HOST, data, None, _upstream_conf(data)), "sha256:" + "b" * 64),
        k(DaemonJson): {"config": DAEMON_JSON, "pending": None},
        k(MaintenanceState): {"running": None, "read_only": None},
        any_arguments(ConfigFiles): config_files_state(data),
        k(Health): ["ok registry", "ok access proxy", "ok UI", "ok UI proxy to the registry"],
    })
    if os_key in ("debian12", "ubuntu2204"):
        installed = {"docker.io": {"20.10.24+dfsg1-1+b3"}} if os_key == "debian12" else {
            "docker-ce": {data.registry_docker_ce_version}, "docker-ce-cli": {data.registry_docker_ce_version},
            "containerd.io": {"1.6.28-2"}}
        facts[k(DebPackages)] = {**installed, "curl": {"7.88.1-10+deb12u5"}, "socat": {"1.7.4.4-2"}}
    else:
        version = data.registry_docker_ce_version.split(":")[-1]  # rpm -qa prints no epoch
        facts[k(RpmPackages)] = {"docker-ce": {version}, "docker-ce-cli": {version},
                                 "containerd.io": {"1.2.13-3.1.el7"}, "curl": {"7.29.0-59.el7"},
                                 "socat": {"1.7.3.2-2.el7"}}
        facts[k(KeyFileBytes, path=RPM_KEY)] = SIGNING_KEY
        repo = "/etc/yum.repos.d/docker-ce-stable.repo"
        facts[k(File, path=repo)] = ROOT_FILE
        facts[k(Sha1File, path=repo)] = _sha1(_yum_repo(data).encode())
        if os_key == "centos7":
            base = "/etc/yum.repos.d/CentOS-Base.repo"
            facts[k(File, path=base)] = ROOT_FILE
            facts[k(Sha1File, path=base)] = _sha1(_vault_repo(data).encode())
    if os_key == "ubuntu2204":
        facts[k(KeyFileBytes, path=APT_KEY)] = SIGNING_KEY
        facts[k(AptSources)] = [parse_apt_repo(DOCKER_APT_SOURCE)]
    if os_key in HARDENED:
        facts[k(FirewalldPorts)] = {"runtime": ["22/tcp", "5000/tcp", "5050/tcp"],
                                    "permanent": ["22/tcp", "5000/tcp", "5050/tcp"]}
    if data.registry_storage == "volume":
        facts[k(VolumeExists, volume=data.registry_volume)] = True
    else:
        facts[k(Directory, path=data.registry_bind_path)] = {"mode": 700, "user": "root", "group": "root"}
        if os_key in HARDENED:
            facts[k(FileContextMapping, target=f"{data.registry_bind_path}(/.*)?")] = {"type": "container_file_t"}
            facts[k(FileContext, path=data.registry_bind_path)] = {"type": "container_file_t"}
    return facts


def _yum_repo(data) -> str:
    """Docker's yum repository file as it should be (yum.repo's format: name, baseurl, flags)."""
    url = data.registry_docker_ce_repo_url
    return (f"[docker-ce-stable]\nname=Docker CE Stable\nbaseurl={url}/linux/centos/$releasever/$basearch/stable\n"
            f"enabled=1\ngpgcheck=1\ngpgkey=file://{RPM_KEY}\n")


def _vault_repo(data) -> str:
    return jinja2.Template((ROOT / "files/centos7-vault.repo.j2").read_text()).render(
        baseurl=data.registry_centos_vault_baseurl.rstrip("/")) + "\n"
