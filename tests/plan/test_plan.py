"""Plan tests, facts in and commands out, for every supported OS family.

No CentOS, RHEL, Rocky or Ubuntu host or mirror can be reached from our machines, so these prove the paths
the end-to-end suite cannot run. They assert behaviour: which packages at which version, which files with
which content, which services and containers restart, in which order; a host where everything is in
place gets no command at all.
"""

import json
import shlex

import pytest
import yaml
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.docker import DockerContainer
from pyinfra.facts.rpm import RpmPackages
from pyinfra.facts.server import LinuxDistribution, Which
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus

from core import scheduler
from core.haproxy_files import PROXY_LOADED
from core.host_paths import CONTAINER_SCRIPT, MAINTENANCE_SCRIPT
from core.mirrors import MIRROR_LABEL
from core.monitoring import NODE_EXPORTER_DEFAULTS, PROMETHEUS_CONFIG
from core.secrets import SecretStore
from ops.container import ContainerState, LabelledContainers
from ops.daemon import DaemonJson
from ops.files import UPLOAD_DIR, FileStates, UploadDirectory
from ops.firewalld import FirewalldPorts
from ops.health import Health
from ops.maintenance import CalendarExpression, MaintenanceState
from ops.monitoring import PrometheusStale
from ops.platform import SelinuxEnforcing
from ops.registry_config import ConfigFiles, StoresInS3
from ops.scheduler import SchedulerInstall, SchedulerTraces
from ops.signing_keys import KeyFileBytes
from ops.storage import StorageHoldings
from tasks.engine import RPM_KEY
from tasks.registry import CONFIG_LABEL, registry_spec
from tests.plan.harness import any_arguments, plan, plan_data
from tests.plan.hosts import (
    APT_KEY,
    DAEMON_JSON,
    DATA,
    DISTROS,
    GATEWAY,
    HARDENED,
    OTHER_KEY,
    SIGNING_KEY,
    bare,
    config_files_state,
    data_for,
    in_place,
    k,
    service,
)

ENGINE_PACKAGES = {
    "centos7": {"docker-ce-18.09.9-3.el7", "docker-ce-cli-18.09.9-3.el7", "containerd.io", "curl", "socat"},
    "rocky9": {"docker-ce-3:24.0.9-1.el9", "docker-ce-cli-3:24.0.9-1.el9", "containerd.io", "curl", "socat"},
    "debian12": {"docker.io", "curl", "socat"},
    "ubuntu2204": {"docker-ce=5:24.0.9-1~ubuntu.22.04~jammy", "docker-ce-cli=5:24.0.9-1~ubuntu.22.04~jammy",
                   "containerd.io", "curl", "socat"},
}


def _arguments(words: list[str], flag: str) -> list[str]:
    return [value for option, value in zip(words, words[1:], strict=False) if option == flag]


@pytest.mark.parametrize("os_key", DISTROS)
def test_host_with_everything_in_place_gets_no_command(os_key):
    assert plan(in_place(os_key), **DATA[os_key]).commands == []


@pytest.mark.parametrize("os_key", DISTROS)
def test_bare_host_gets_the_pinned_engine_before_anything_uses_it(os_key):
    bare_plan = plan(bare(os_key), **DATA[os_key])
    assert bare_plan.installed() == ENGINE_PACKAGES[os_key]
    install = bare_plan.index(lambda c: " install " in c)
    started = bare_plan.index(lambda c: c == "systemctl start docker.service")
    enabled = bare_plan.index(lambda c: c == "systemctl enable docker.service")
    first_docker = bare_plan.index(lambda c: c.startswith(("docker ", CONTAINER_SCRIPT)))
    assert install < started < first_docker and enabled < first_docker
    if os_key in ("debian12", "ubuntu2204"):
        assert bare_plan.index(lambda c: c == "apt-get update") < install


@pytest.mark.parametrize("os_key", DISTROS)
def test_bare_host_gets_daemon_json_applied_by_restarting_only_an_engine_that_runs(os_key):
    """A package that started the engine (Debian's) left it on the defaults: `try-restart` restarts it; one that
    did not (the RHEL family's) is started on the file, and nothing restarts it again."""
    bare_plan = plan(bare(os_key), **DATA[os_key])
    assert json.loads(bare_plan.written("/etc/docker/daemon.json")) == DAEMON_JSON
    applied = bare_plan.index(lambda c: c.startswith("systemctl try-restart docker.service && rm -f"))
    assert applied < bare_plan.index(lambda c: c == "systemctl start docker.service")
    assert not [c for c in bare_plan.commands if c == "systemctl restart docker.service"]


@pytest.mark.parametrize("os_key", DISTROS)
def test_bare_host_gets_its_containers_as_specified(os_key):
    data = data_for(os_key)
    bare_plan = plan(bare(os_key), **DATA[os_key])
    containers = bare_plan.containers()
    registry, ui = containers[data.registry_container], containers[data.registry_ui_container]
    proxy = containers[data.registry_auth_proxy_container]
    assert registry[-1] == data.registry_image and ui[-1] == data.registry_ui_image
    assert proxy[-1] == data.registry_auth_proxy_image
    # With users (the default) the registry is on loopback only, behind the access proxy on the host's
    # network, its metrics too; with TLS (the default) the UI serves HTTPS itself.
    assert _arguments(registry, "--publish") == ["127.0.0.1:5001:5000", "127.0.0.1:5002:5001"]
    assert _arguments(ui, "--publish") == ["5050:443"]
    assert (_arguments(proxy, "--network"), _arguments(proxy, "--publish")) == (["host"], [])
    storage = (f"type=bind,src={data.registry_bind_path}" if data.registry_storage == "bind"
               else f"type=volume,src={data.registry_volume}") + ",dst=/var/lib/registry"
    assert _arguments(registry, "--mount") == [
        storage, f"type=bind,src={data.registry_config_dir},dst=/etc/docker/registry,readonly"]
    if data.registry_storage == "volume":
        assert bare_plan.index(lambda c: c == f"docker volume create {data.registry_volume}") < bare_plan.index(
            lambda c: "--mount " in c or "--mount=" in c or c.startswith(CONTAINER_SCRIPT))
    assert f"NGINX_PROXY_PASS_URL=https://{GATEWAY}:5000" in _arguments(ui, "--env")
    assert {"REGISTRY_SECURED=true", "ENABLE_VERSION_NOTIFICATION=false"} <= set(_arguments(ui, "--env"))
    assert {"--restart", "always"} <= set(registry) and {"--restart", "always"} <= set(ui)


@pytest.mark.parametrize("os_key", DISTROS)
def test_bare_host_gets_the_configuration_tried_before_it_is_installed(os_key):
    data = data_for(os_key)
    bare_plan = plan(bare(os_key), **DATA[os_key])
    uploaded = {dest.rsplit("/", 1)[1]: content for dest, content in bare_plan.uploads.items()
                if dest.startswith(data.registry_config_dir + ".")}
    writable, readonly = yaml.safe_load(uploaded["writable.yml"]), yaml.safe_load(uploaded["readonly.yml"])
    assert writable["storage"]["delete"] == {"enabled": True} and "maintenance" not in writable["storage"]
    assert readonly["storage"]["maintenance"] == {"readonly": {"enabled": True}}
    tried = bare_plan.index(lambda c: c.startswith(f"{CONTAINER_SCRIPT} try-config "))
    installed = bare_plan.index(lambda c: c.startswith(f"{CONTAINER_SCRIPT} install-config "))
    created = bare_plan.index(lambda c: c.startswith(f"{CONTAINER_SCRIPT} replace {data.registry_container} "))
    assert tried < installed < created


@pytest.mark.parametrize("os_key", DISTROS)
def test_bare_host_opens_the_firewall_before_the_engine_starts_where_firewalld_runs(os_key):
    bare_plan = plan(bare(os_key), **DATA[os_key])
    opened = [c for c in bare_plan.commands if c.startswith("firewall-cmd")]
    if os_key not in HARDENED:
        assert opened == []
        return
    assert set(opened) == {f"firewall-cmd {permanent}--add-port={port}/tcp"
                           for port in (5000, 5050) for permanent in ("", "--permanent ")}
    assert bare_plan.commands.index(opened[-1]) < bare_plan.index(lambda c: c == "systemctl start docker.service")


def test_centos7_repo_files_point_at_docker_and_the_vault():
    files = plan(bare("centos7"), **DATA["centos7"]).uploads
    docker_repo = files["/etc/yum.repos.d/docker-ce-stable.repo"].decode()
    assert "baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable" in docker_repo
    assert "gpgcheck=1" in docker_repo
    base = files["/etc/yum.repos.d/CentOS-Base.repo"].decode()
    assert "baseurl=https://vault.mirror.internal/centos/7.9.2009/os/$basearch/" in base
    assert "mirrorlist" not in base


def test_centos7_bind_storage_is_root_only_and_labelled_for_containers():
    bind_plan = plan(bare("centos7"), **DATA["centos7"])
    assert bind_plan.ran("chmod", "700", "/mnt/registry") and bind_plan.ran("chown", "root:root", "/mnt/registry")
    assert bind_plan.ran("semanage", "fcontext", "-a", "-t", "container_file_t", "/mnt/registry(/.*)?")
    assert bind_plan.ran("chcon", "-t", "container_file_t", "/mnt/registry")


def test_ubuntu_uses_dockers_signed_apt_repository():
    ubuntu = plan(bare("ubuntu2204"), **DATA["ubuntu2204"])
    line = "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu jammy stable"
    assert any(line in c and "/etc/apt/sources.list.d/docker.list" in c for c in ubuntu.commands)


def _key_checked_then_installed(key_plan, url, dest):
    """The key is downloaded beside `dest`, checked on the control machine, and only then moved into place;
    returns the position of the move."""
    downloaded = key_plan.index(lambda c: "curl -sSLf" in c and url in c)
    checked = key_plan.index(lambda c: c.startswith("FunctionCommand(_check_download") and f"'{dest}.new'" in c)
    moved = key_plan.index(lambda c: c == f"mv -f {dest}.new {dest}")
    assert downloaded < checked < moved
    return moved


@pytest.mark.parametrize("os_key,url,dest", [
    ("ubuntu2204", "https://download.docker.com/linux/ubuntu/gpg", APT_KEY),
    ("centos7", "https://download.docker.com/linux/centos/gpg", RPM_KEY),
])
def test_bare_host_trusts_dockers_key_only_after_checking_its_fingerprint(os_key, url, dest):
    bare_plan = plan(bare(os_key), **DATA[os_key])
    moved = _key_checked_then_installed(bare_plan, url, dest)
    assert moved < bare_plan.index(lambda c: "install" in c and "docker-ce" in c)
    if os_key == "ubuntu2204":  # the key is downloaded with curl, installed first on a minimal Ubuntu
        assert bare_plan.index(lambda c: "install" in c and " curl" in c) < moved
    else:
        assert f"gpgkey=file://{RPM_KEY}\n" in bare_plan.written("/etc/yum.repos.d/docker-ce-stable.repo").decode()


@pytest.mark.parametrize("os_key,dest", [("ubuntu2204", APT_KEY), ("rocky9", RPM_KEY)])
def test_a_key_in_place_that_is_not_trusted_is_removed_and_downloaded_again(os_key, dest):
    facts = in_place(os_key)
    facts[k(KeyFileBytes, path=dest)] = SIGNING_KEY + OTHER_KEY  # one more key appended
    facts[k(Which, command="curl")] = "/usr/bin/curl"
    drifted = plan(facts, **DATA[os_key])
    removed = drifted.index(lambda c: c == f"rm -f {dest} {dest}.new")
    assert removed < _key_checked_then_installed(drifted, "/gpg", dest)


@pytest.mark.parametrize("installed,planned", [
    ({"18.09.9-3.el7"}, []),  # the pin is met: pyinfra's own yum.packages would reinstall here
    ({"18.09.1-3.el7"}, ["yum install -y docker-ce-18.09.9-3.el7 || yum downgrade -y docker-ce-18.09.9-3.el7"]),
    ({"19.03.15-3.el7"}, ["yum install -y docker-ce-18.09.9-3.el7 || yum downgrade -y docker-ce-18.09.9-3.el7"]),
])
def test_centos7_docker_ce_pin_is_matched_against_installed_rpms(installed, planned):
    facts = in_place("centos7")
    facts[k(RpmPackages)] = {**facts[k(RpmPackages)], "docker-ce": installed}
    assert plan(facts, **DATA["centos7"]).commands == planned


def test_centos7_firewall_change_restarts_docker_after_opening_ports():
    facts = in_place("centos7")
    facts[k(FirewalldPorts)] = {"runtime": ["5000/tcp", "5050/tcp"], "permanent": ["5050/tcp"]}
    changed = plan(facts, **DATA["centos7"])
    assert changed.commands[0] == "firewall-cmd --permanent --add-port=5000/tcp"
    assert changed.restarted() == ["docker.service"]


def test_daemon_json_change_restarts_docker():
    facts = in_place("debian12")
    facts[k(DaemonJson)] = {"config": {**DAEMON_JSON, "log-opts": {"max-file": "9", "max-size": "10m"}},
                            "pending": None}
    changed = plan(facts, **DATA["debian12"])
    assert json.loads(changed.written("/etc/docker/daemon.json")) == DAEMON_JSON
    assert changed.restarted() == ["docker.service"]
    marked = changed.index(lambda c: "echo restart > /etc/docker/daemon.json.pending && mv -f" in c)
    assert marked < changed.index(lambda c: c.startswith("systemctl try-restart docker.service && rm -f"
                                                         " /etc/docker/daemon.json.pending"))


@pytest.mark.parametrize("pending", ["reload", "restart"])
def test_daemon_json_in_place_that_a_cut_off_run_never_applied_is_applied_now(pending):
    facts = in_place("debian12")
    facts[k(DaemonJson)] = {"config": DAEMON_JSON, "pending": pending}
    healed = plan(facts, **DATA["debian12"])
    assert (healed.reloaded(), healed.restarted()) == \
        ((["docker.service"], []) if pending == "reload" else ([], ["docker.service"]))
    assert not [path for path in healed.uploads if path.startswith("/etc/docker/")]


OPERATORS_DAEMON_JSON = {"data-root": "/srv/docker", "bip": "10.99.0.1/24", "live-restore": True,
                         "insecure-registries": ["legacy.internal:5000"], "log-opts": {"labels": "team"}}


def test_daemon_json_keeps_the_hosts_own_settings():
    facts = in_place("debian12")
    facts[k(DaemonJson)] = {"config": OPERATORS_DAEMON_JSON, "pending": None}
    changed = plan(facts, registry_docker_insecure_registries=["mirror.internal:5000"])
    assert json.loads(changed.written("/etc/docker/daemon.json")) == {
        "data-root": "/srv/docker", "bip": "10.99.0.1/24", "live-restore": True,
        "insecure-registries": ["legacy.internal:5000", "mirror.internal:5000"],
        "log-driver": "json-file", "log-opts": {"labels": "team", "max-file": "3", "max-size": "10m"}}
    assert changed.restarted() == ["docker.service"]


def test_daemon_json_never_moves_data_root():
    facts = in_place("debian12")
    facts[k(DaemonJson)] = {"config": OPERATORS_DAEMON_JSON, "pending": None}
    with pytest.raises(DeployError, match="would move data-root from /srv/docker to /var/lib/docker"):
        plan(facts, registry_docker_daemon_options={"data-root": "/var/lib/docker"})


def test_daemon_json_that_is_not_json_is_refused_untouched():
    facts = in_place("debian12")
    facts[k(DaemonJson)] = {"config": '{"data-root": "/srv/docker",', "pending": None}
    with pytest.raises(DeployError, match="is not a JSON object; fix or remove it"):
        plan(facts)


@pytest.mark.parametrize("distro", [
    {"name": "Alpine Linux", "major": 3, "release_meta": {"ID": "alpine"}},
    {"name": "Arch Linux", "major": None, "release_meta": {"ID": "arch"}},
])
def test_unsupported_os_is_refused_before_any_command(distro):
    with pytest.raises(DeployError, match=f"Unsupported OS: {distro['name']}"):
        plan({k(LinuxDistribution): distro, k(UploadDirectory, path=UPLOAD_DIR): "root 700 root directory"})


def test_debian_docker_io_pin_refreshes_lists_and_installs_the_pinned_version():
    pinned = "20.10.24+dfsg1-1+deb12u1"
    changed = plan(in_place("debian12"), registry_docker_io_version=pinned)
    assert changed.installed() == {f"docker.io={pinned}"}
    assert changed.index(lambda c: c == "apt-get update") < changed.index(lambda c: "apt-get" in c and " install " in c)
    assert changed.index(lambda c: c.endswith("dpkg --configure -a")) == 0, "an interrupted install is finished"


def test_config_edited_on_the_host_is_put_back_and_the_registry_restarted_not_replaced():
    facts = in_place("debian12")
    edited = config_files_state(data_for("debian12"))
    edited["files"]["writable.yml"] = "0" * 40 + " 600 root:root"
    facts[any_arguments(ConfigFiles)] = edited
    changed = plan(facts)
    assert [dest.rsplit("/", 1)[1] for dest in changed.uploads] == ["writable.yml"]
    assert changed.restarted() == ["registry"] and changed.containers() == {}


def test_a_role_given_is_checked_then_reloads_the_access_proxy_and_leaves_the_registry_alone():
    access = [{"users": ["admin"], "repositories": "team/*", "role": "push"}]
    changed = plan(in_place("debian12"), registry_access=access)
    config = f"{data_for('debian12').registry_config_dir}/haproxy.cfg"
    assert "http-request allow if user3 repository3 push_methods" in changed.written(f"{config}.checked").decode()
    check, reload = (changed.index(lambda c: " -c -q -f " in c and "haproxy.cfg.checked" in c),
                     changed.index(lambda c: "docker kill --signal USR2 registry-auth" in c))
    assert check < reload and changed.containers() == {} and changed.restarted() == []


def test_rules_in_place_but_never_loaded_reload_the_access_proxy_and_say_so():
    """A run interrupted after the new rules were moved in and before the reload: the record of what the
    proxy loaded is older than the files, and the next run reloads it."""
    facts = in_place("debian12")
    record = f"{data_for('debian12').registry_config_dir}/{PROXY_LOADED}"
    states = dict(facts[any_arguments(FileStates)])
    states[record] = "0" * 40 + " 600 root:root"
    facts[any_arguments(FileStates)] = states
    reloaded = plan(facts)
    reload = reloaded.index(lambda c: "docker kill --signal USR2 registry-auth" in c)
    assert "grep -q 'Loading success' && exit 0" in reloaded.commands[reload], "recorded once the proxy says so"
    assert reload < reloaded.index(lambda c: c == f"upload {record}.new") < reloaded.index(
        lambda c: c == f"mv {record}.new {record}")
    assert set(reloaded.uploads) == {f"{record}.new"}, "only the record is written"
    assert reloaded.containers() == {} and reloaded.restarted() == []


def test_a_new_access_proxy_is_not_reloaded_but_what_it_loaded_is_recorded():
    bare_plan = plan(bare("debian12"))
    created = bare_plan.index(lambda c: c.startswith(f"{CONTAINER_SCRIPT} replace registry-auth "))
    recorded = bare_plan.index(lambda c: c == f"upload {data_for('debian12').registry_config_dir}/{PROXY_LOADED}.new")
    assert created < recorded and not [c for c in bare_plan.commands if "docker kill --signal USR2 registry-auth" in c]


def test_users_turned_off_the_proxy_gives_the_port_up_only_for_the_registrys_swap():
    """The proxy is not removed before the registry: if the new registry does not serve, registry-container
    starts the old one on its old configuration files and the proxy again, and registry_port keeps being
    served."""
    facts = in_place("debian12")
    facts[k(DockerContainer, object_id="registry-auth")] = [{"Name": "/registry-auth"}]
    switched = plan(facts, registry_auth="none")
    arguments = switched.containers()["registry"]
    assert arguments[:3] == ["--displaces", "registry-auth", "--restore-config"]
    assert "5000:5000" in _arguments(arguments, "--publish")
    swap = switched.index(lambda c: c.startswith(f"{CONTAINER_SCRIPT} replace registry "))
    assert swap < switched.index(lambda c: c.startswith("docker rm --force registry-auth"))


def test_new_config_replaces_the_registry_once_without_a_restart_on_top():
    changed = plan(in_place("debian12"), registry_delete_enabled=False)
    assert sorted(dest.rsplit("/", 1)[1] for dest in changed.uploads) == ["readonly.yml", "writable.yml"]
    registry = changed.containers()["registry"]
    label = registry_spec("planned-host", data_for("debian12", registry_delete_enabled=False)).labels[CONFIG_LABEL]
    assert f"{CONFIG_LABEL}={label}" in _arguments(registry, "--label")
    assert registry[0] == "--restore-config", "a registry kept after a failed swap gets its old files back"
    assert changed.restarted() == []


def test_config_pointing_at_the_read_only_twin_without_a_chore_is_pointed_back():
    facts = in_place("debian12")
    facts[any_arguments(ConfigFiles)] = {**config_files_state(data_for("debian12")), "link": "readonly.yml"}
    changed = plan(facts)
    assert changed.ran(CONTAINER_SCRIPT, "install-config") and changed.restarted() == ["registry"]


@pytest.mark.parametrize("state,said", [
    ({"running": "registry-maintenance gc (pid 7)", "read_only": "registry-maintenance gc (pid 7)"}, "running"),
    ({"running": None, "read_only": "registry-maintenance gc (pid 7)"}, "left read-only"),
])
def test_a_running_or_killed_chore_is_waited_for_or_repaired_before_the_registry_is_touched(state, said):
    facts = in_place("debian12")
    facts[k(MaintenanceState)] = state
    facts[any_arguments(ConfigFiles)] = {**config_files_state(data_for("debian12")), "read_only": True}
    changed = plan(facts)
    assert changed.chores() == [["recover"]]
    assert changed.containers() == {} and changed.restarted() == []


def test_leftover_replacement_is_removed_beside_a_matching_registry():
    facts = in_place("debian12")
    key = k(ContainerState, container="registry", image=data_for("debian12").registry_image, gateway=False)
    facts[key] = {**facts[key], "aside": True}
    first, *rest = plan(facts).commands
    assert first == "docker rm --force registry-next"
    assert [command.split("(")[:2] for command in rest] == [["FunctionCommand", "log_lines, "]], "and says what it did"


def test_unknown_bridge_gateway_fails_the_ui_with_a_clear_message():
    facts = in_place("debian12")
    data = data_for("debian12")
    key = k(ContainerState, container=data.registry_ui_container, image=data.registry_ui_image, gateway=True)
    facts[key] = {**facts[key], "gateway": None}
    [command] = plan(facts).commands
    assert "the Docker bridge gateway of this host is unknown" in command and command.endswith("exit 1")


def test_unhealthy_host_is_waited_for():
    facts = in_place("debian12")
    facts[k(Health)] = ["ok registry", "failed UI: GET http://127.0.0.1:5050/ gave no answer"]
    assert plan(facts).commands == [f"{CONTAINER_SCRIPT} healthy --wait"]


@pytest.mark.parametrize("file,data,chore", [
    ("gc.py", {}, ["gc"]),
    ("gc.py", {"registry_gc_dry_run": True, "registry_gc_delete_untagged": True, "registry_image": "registry:3.1.1"},
     ["gc", "--dry-run", "--delete-untagged"]),
    ("prune_repos.py", {}, ["prune"]),
    ("delete_repos.py", {"registry_repositories": "team/app,hello"}, ["delete-repos", "team/app", "hello"]),
])
def test_chores_run_the_maintenance_script_once(file, data, chore):
    assert plan(in_place("debian12"), file=file, **data).chores() == [chore]


def test_chore_is_run_under_the_name_of_whoever_ran_it():
    [command] = [c for c in plan(in_place("debian12"), file="gc.py").commands if MAINTENANCE_SCRIPT in c]
    assert shlex.split(command)[0].startswith("REGISTRY_MAINTENANCE_BY=pyinfra on ")


def test_a_client_only_host_trusts_the_registry_and_logs_in_without_installing_anything():
    facts = bare("debian12")
    client = plan(facts, groups={"registry_hosts": ["registry1"], "registry_clients": ["planned-host"]},
                  registry_client_login="admin")
    assert client.installed() == set() and client.containers() == {}
    ca = SecretStore(plan_data()["registry_secrets_dir"]).ca()[0]
    assert client.written("/etc/docker/certs.d/registry1:5000/ca.crt") == ca
    [login] = [c for c in client.commands if "docker login" in c]
    assert "--username admin --password-stdin registry1:5000 <" in login
    assert SecretStore(plan_data()["registry_secrets_dir"]).password("admin") not in "".join(client.commands)


def test_a_client_only_host_may_reach_a_plain_http_registry_by_a_reload_not_a_restart():
    facts = bare("debian12")
    facts[service(SystemdStatus, "docker.service")] = {"docker.service": True}  # the operator's engine runs
    client = plan(facts, groups={"registry_hosts": ["registry1"], "registry_clients": ["planned-host"]},
                  registry_tls="off", registry_auth="none")
    assert json.loads(client.written("/etc/docker/daemon.json")) == {"insecure-registries": ["registry1:5000"]}
    assert client.reloaded() == ["docker.service"] and client.restarted() == []


@pytest.mark.parametrize("file,groups", [
    ("deploy.py", {"registry_hosts": ["planned-host"]}),
    ("deploy.py", {"registry_hosts": ["registry1"], "registry_clients": ["planned-host"]}),
    ("gc.py", {"registry_hosts": ["planned-host"]}),
    ("backup.py", {"registry_hosts": ["planned-host"]}),
], ids=["registry host", "client", "gc", "backup"])
def test_the_upload_directory_is_made_the_login_users_alone_before_anything_is_uploaded(file, groups):
    planned = plan(bare("debian12"), file=file, groups=groups)
    made_private = planned.index(lambda c: f"chown \"$login\" {UPLOAD_DIR} && chmod 700 {UPLOAD_DIR}" in c)
    assert made_private == 0 and planned.index(lambda c: c.startswith("upload ")) > made_private


def test_every_file_a_plan_uploads_has_its_owner_and_mode_before_its_content():
    planned = plan(bare("debian12"))
    staged = [(position, command.removeprefix("upload ")) for position, command in enumerate(planned.commands)
              if command.startswith("upload ") and command.endswith(".new")]
    made_first = [shlex.split(planned.commands[position - 1].split("&&")[-1]) for position, _ in staged]
    assert f"{data_for('debian12').registry_config_dir}/client.curlrc.new" in dict(staged).values()
    assert made_first == [["install", "-o", "root", "-g", "root", "-m", made[6], "/dev/null", destination]
                          for made, (_, destination) in zip(made_first, staged, strict=True)]


def test_apt_never_removes_a_package_to_install_the_engine():
    [install] = [c for c in plan(bare("debian12")).commands if "apt-get" in c and " install " in c]
    assert "--no-remove" in shlex.split(install)


@pytest.mark.parametrize("os_key,installed,message", [
    ("debian12", {"docker-ce": {"5:24.0.9-1~debian.12~bookworm"}},
     "docker-ce is installed and registry_docker_package_source is 'distribution'"),
    ("debian12", {"podman-docker": {"4.3.1"}}, "podman-docker is installed: it gives a docker command"),
    ("centos7", {"docker": {"1.13.1-209.git7d71120.el7.centos"}}, "Set registry_docker_package_source='installed'"),
])
def test_an_engine_from_another_source_is_refused_before_anything_changes(os_key, installed, message):
    facts = bare(os_key)
    facts[k(DebPackages if os_key.startswith("debian") else RpmPackages)] = installed
    with pytest.raises(DeployError, match=message):
        plan(facts, **DATA[os_key])


def test_an_installed_engine_is_adopted_when_asked():
    facts = in_place("debian12")
    facts[k(DebPackages)] = {"docker-ce": {"5:24.0.9-1~debian.12~bookworm"}, "curl": {"7.88.1"}, "socat": {"1.7.4.4"}}
    assert plan(facts, registry_docker_package_source="installed").commands == []


def test_a_gc_schedule_systemd_refuses_is_refused_before_the_timer_is_written():
    facts = in_place("debian12")
    facts[k(CalendarExpression, expression="Sun *-*-* 25:00:00")] = {
        "valid": False, "said": "Failed to parse calendar specification 'Sun *-*-* 25:00:00': Invalid argument"}
    with pytest.raises(DeployError, match="systemd-analyze calendar refuses it: Failed to parse"):
        plan(facts, registry_gc_schedule="Sun *-*-* 25:00:00")


def _switched_to_bind(holdings):
    facts = in_place("debian12")
    facts[k(StorageHoldings, places=["volume:registry-vol", "bind:/mnt/registry"])] = holdings
    facts[k(SelinuxEnforcing)] = False
    facts[k(StoresInS3, path="/etc/registry/writable.yml")] = False
    return facts


def test_pointing_the_registry_at_empty_storage_while_its_own_holds_data_is_refused():
    facts = _switched_to_bind({"volume:registry-vol": True, "bind:/mnt/registry": False})
    with pytest.raises(DeployError, match="repositories are in volume:registry-vol.*bind:/mnt/registry, which holds"
                                          " none.*registry_storage_migrate=True"):
        plan(facts, registry_storage="bind")


def test_a_migration_asked_for_copies_then_serves_from_the_new_place():
    facts = _switched_to_bind({"volume:registry-vol": True, "bind:/mnt/registry": False})
    moved = plan(facts, registry_storage="bind", registry_storage_migrate=True)
    [chore] = moved.chores()
    assert chore[:3] == ["migrate", "volume:registry-vol", "bind:/mnt/registry"]
    assert "type=bind,src=/mnt/registry,dst=/var/lib/registry" in chore


def test_a_registry_on_s3_pointed_at_an_empty_disk_is_refused():
    facts = _switched_to_bind({"volume:registry-vol": False, "bind:/mnt/registry": False})
    facts[k(StoresInS3, path="/etc/registry/writable.yml")] = True
    with pytest.raises(DeployError, match="data is in its S3 bucket.*bind:/mnt/registry, which holds none"):
        plan(facts, registry_storage="bind")


def test_switching_to_storage_that_holds_data_too_is_the_operators_choice():
    facts = _switched_to_bind({"volume:registry-vol": True, "bind:/mnt/registry": True})
    switched = plan(facts, registry_storage="bind")
    assert switched.chores() == [] and "registry" in switched.containers()


def test_a_monitor_host_gets_the_node_exporter_on_loopback_before_its_package_and_prometheus_checked_by_promtool():
    facts = bare("debian12")
    facts[any_arguments(PrometheusStale)] = False
    facts[any_arguments(SystemdStatus)] = {}
    facts[any_arguments(SystemdEnabled)] = {}
    planned = plan(facts, groups={"registry_hosts": ["planned-host"], "registry_monitor": ["planned-host"]})
    assert {"prometheus-node-exporter", "prometheus"} <= planned.installed()
    defaults = planned.index(lambda c: c == f"upload {NODE_EXPORTER_DEFAULTS}.new")
    assert defaults < planned.index(lambda c: "apt-get" in c and "install" in c and "prometheus-node-exporter" in c), \
        "it never listens on every address, not even at its first start"
    assert b"--web.listen-address=127.0.0.1:9100" in planned.written(NODE_EXPORTER_DEFAULTS)
    assert planned.index(lambda c: c.startswith("promtool check rules")) < planned.index(
        lambda c: "systemctl reload prometheus" in c)
    scraped = yaml.safe_load(planned.written(f"{PROMETHEUS_CONFIG}.checked"))["scrape_configs"]
    assert [job["job_name"] for job in scraped] == ["prometheus", "registry", "registry-node"]
    assert "systemctl enable prometheus-node-exporter.service registry-metrics.timer" in planned.commands
    assert "systemctl start prometheus-node-exporter.service registry-metrics.timer" in planned.commands
    running = {"prometheus-node-exporter.service": True, "registry-metrics.timer": True, "prometheus.service": True}
    facts[any_arguments(SystemdStatus)] = facts[any_arguments(SystemdEnabled)] = running
    again = plan(facts, groups={"registry_hosts": ["planned-host"], "registry_monitor": ["planned-host"]})
    assert not [c for c in again.commands if c.startswith(("systemctl enable", "systemctl start"))
                and ("prometheus" in c or "registry-metrics" in c)], "services that run and are enabled are left alone"


def test_without_a_monitor_group_there_is_no_node_exporter_or_prometheus():
    planned = plan(bare("debian12"))
    assert not {"prometheus-node-exporter", "prometheus"} & planned.installed()
    assert not planned.ran("promtool") and "/etc/systemd/system/registry-metrics.timer" not in planned.uploads


def test_a_host_that_only_monitors_gets_prometheus_and_nothing_of_docker():
    facts = bare("debian12")
    facts[any_arguments(PrometheusStale)] = False
    facts[any_arguments(SystemdStatus)] = facts[any_arguments(SystemdEnabled)] = {}
    planned = plan(facts, groups={"registry_hosts": ["registry1"], "registry_monitor": ["planned-host"]},
                   registry_metrics_address="0.0.0.0", registry_tls="off", registry_auth="none")
    assert planned.installed() == {"prometheus", "curl"}
    assert not [c for c in planned.commands if "docker" in c], "no engine, no trust, no daemon.json"
    targets = yaml.safe_load(planned.written(f"{PROMETHEUS_CONFIG}.checked"))["scrape_configs"][1]["static_configs"]
    assert targets == [{"targets": ["registry1:5002"], "labels": {"host": "registry1"}}]


HUB_MIRROR = {"name": "hub", "upstream": "https://registry-1.docker.io", "port": 5010}


def test_a_mirror_runs_on_the_host_network_from_a_root_only_directory_and_a_dropped_one_goes_its_volume_kept():
    facts = in_place("debian12", registry_mirrors=[HUB_MIRROR])
    data = data_for("debian12")
    facts[k(ContainerState, container="registry-mirror-hub", image=data.registry_image, gateway=False)] = None
    facts[k(LabelledContainers, label=MIRROR_LABEL)] = {"registry-mirror-hub": "hub", "registry-mirror-old": "old"}
    planned = plan(facts, registry_mirrors=[HUB_MIRROR])
    arguments = planned.containers()["registry-mirror-hub"]
    assert ["--network", "host"] == arguments[arguments.index("--network"):arguments.index("--network") + 2]
    assert "type=volume,src=registry-mirror-hub,dst=/var/lib/registry" in arguments
    assert "type=bind,src=/etc/registry-mirror-hub,dst=/etc/docker/registry,readonly" in arguments
    config = yaml.safe_load(planned.written("/etc/registry-mirror-hub/config.yml"))
    assert config["proxy"] == {"remoteurl": HUB_MIRROR["upstream"]} and config["http"]["addr"] == "127.0.0.1:6010"
    made = planned.commands.index("mkdir -p /etc/registry-mirror-hub")
    assert planned.commands[made + 1:made + 3] == ["chmod 700 /etc/registry-mirror-hub",
                                                   "chown root:root /etc/registry-mirror-hub"]
    assert made < planned.commands.index("upload /etc/registry-mirror-hub/config.yml.new"), "root-only before a byte"
    removed = planned.commands.index("docker rm --force registry-mirror-old >/dev/null")
    assert planned.commands[removed + 1] == "rm -rf /etc/registry-mirror-old", "its upstream password goes too"
    assert "registry-mirror-hub" not in " ".join(c for c in planned.commands if "docker rm" in c)
    assert not [c for c in planned.commands if "docker volume rm" in c]


def test_docker_hub_mirrors_reach_daemon_json_by_a_reload_and_a_key_the_engine_cannot_reload_restarts_it():
    facts = in_place("debian12")
    data = data_for("debian12")
    facts[k(ContainerState, container="registry-mirror-hub", image=data.registry_image, gateway=False)] = None
    mirrored = plan(facts, registry_mirrors=[HUB_MIRROR])
    assert json.loads(mirrored.written("/etc/docker/daemon.json"))["registry-mirrors"] == ["https://planned-host:5010"]
    assert (mirrored.reloaded(), mirrored.restarted()) == (["docker.service"], [])
    rotated = plan(in_place("debian12"), registry_docker_log_max_file=5)
    assert (rotated.reloaded(), rotated.restarted()) == ([], ["docker.service"])


RETENTION_SCHEDULED = dict(registry_retention_schedule="*-*-* 04:00:00",
                           registry_retention_rules=[{"repositories": "*", "keep_last": 3}])


def test_the_scheduler_gets_python_its_copy_its_inventory_and_a_timer_and_never_the_ca_key():
    facts = bare("debian12")
    python = "3.11"
    project = f"project-{scheduler.digest(scheduler.project_archive())}"
    venv = f"venv-{scheduler.digest(scheduler.requirements())}-py{python}"
    facts[k(SchedulerInstall)] = {"project": None, "venv": None, "complete": [project, venv], "all": [project, venv],
                                  "python": f"{python} x86_64"}
    facts[any_arguments(CalendarExpression)] = {"valid": True, "said": ""}
    for unit in ("registry-scheduled-retention.timer",):
        facts[service(SystemdStatus, unit)], facts[service(SystemdEnabled, unit)] = {}, {}
    planned = plan(facts, groups={"registry_hosts": ["registry1"], "registry_scheduler": ["planned-host"]},
                   **RETENTION_SCHEDULED)
    assert {"python3", "python3-venv", "openssh-client"} <= planned.installed()
    assert f"ln -sfn {project} project.new" in "".join(planned.commands)
    hosts = json.loads(planned.written(scheduler.HOSTS_FILE))
    [[name, data]] = hosts["registry_hosts"]
    assert name == "registry1" and data["ssh_key"] == scheduler.KEY_FILE
    assert data["registry_secrets_dir"] == scheduler.SECRETS_DIR and data["registry_retention_schedule"]
    ca = SecretStore(plan_data()["registry_secrets_dir"]).ca()[0]
    assert planned.written(f"{scheduler.SECRETS_DIR}/ca.crt") == ca
    assert not [path for path in planned.uploads if path.endswith(("ca.key", "ca.key.new"))]
    assert planned.written(scheduler.KEY_FILE).startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    for private in (scheduler.HOSTS_FILE, scheduler.KEY_FILE, f"{scheduler.SECRETS_DIR}/passwords/registry-deploy"):
        made, upload = f"install -o root -g root -m 600 /dev/null {private}.new", f"upload {private}.new"
        assert planned.index(lambda c, made=made: made in c) < planned.index(lambda c, upload=upload: c == upload)
    assert b"retention.py --data registry_retention_apply=True" in planned.written(
        f"{scheduler.UNITS}/registry-scheduled-retention.service")
    assert planned.ran("systemctl", "enable", "registry-scheduled-retention.timer")


def test_a_host_the_scheduler_runs_chores_on_authorizes_its_key_restricted_and_only_it():
    facts = in_place("debian12")
    old = "restrict ssh-ed25519 AAAA registry-scheduler@old"
    facts[any_arguments(SchedulerTraces)] = {"home": "/root", "keys": [old], "host_keys": [], "installed": []}
    planned = plan(facts, groups={"registry_hosts": ["planned-host"], "registry_scheduler": ["sched"]},
                   **RETENTION_SCHEDULED)
    public = SecretStore(plan_data()["registry_secrets_dir"]).scheduler_key()[1]
    [command] = [c for c in planned.commands if "authorized_keys" in c]
    assert "grep -v -F ' registry-scheduler@' /root/.ssh/authorized_keys" in command
    assert shlex.quote(f"restrict {public} registry-scheduler@sched") in command


def test_a_host_left_with_no_schedule_loses_the_schedulers_key_and_files():
    facts = in_place("debian12")
    units = ["/etc/systemd/system/registry-scheduled-gc.service", "/etc/systemd/system/registry-scheduled-gc.timer"]
    old = "restrict ssh-ed25519 AAAA registry-scheduler@s"
    facts[any_arguments(SchedulerTraces)] = {"home": "/root", "keys": [old], "host_keys": [],
                                             "installed": ["/etc/registry-scheduler", *units]}
    planned = plan(facts, groups={"registry_hosts": ["planned-host"], "registry_scheduler": ["planned-host"]})
    assert planned.ran("systemctl", "disable", "--now", "registry-scheduled-gc.timer")
    assert planned.ran("rm", "-rf", "/etc/registry-scheduler", *units) and planned.ran("systemctl", "daemon-reload")
    [command] = [c for c in planned.commands if "authorized_keys" in c]
    assert "printf" not in command and "grep -v -F ' registry-scheduler@'" in command
