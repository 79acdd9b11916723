"""What the tasks ask for, derived from data: container specs, daemon.json, the OS family."""

import hashlib
import os
import shlex
import subprocess

import pytest
from pyinfra.api.exceptions import DeployError

from core.host_files import config_mount_target, upstream_tls
from ops.container import ContainerState, Mount
from ops.daemon import merged
from ops.files import FileStates
from ops.maintenance import MaintenanceState
from ops.platform import os_family, rpm_manager
from ops.registry_config import ConfigFiles
from tasks.engine import daemon_settings
from tasks.registry import registry_spec
from tasks.ui import ui_spec


@pytest.mark.parametrize("image,declared,target", [
    ("registry:2.8.3", None, "/etc/docker/registry"),
    ("registry:3", None, "/etc/distribution"),
    ("registry:3.0.0", None, "/etc/distribution"),
    ("mirror.local:5000/library/registry:3.0.0", None, "/etc/distribution"),
    ("mirror.local:5000/registry:2", None, "/etc/docker/registry"),
    ("registry:edge", 3, "/etc/distribution"),
])
def test_config_is_mounted_where_the_image_reads_it(defaults, image, declared, target):
    defaults.update(registry_image=image, registry_major_version=declared)
    assert config_mount_target(defaults) == target
    assert Mount("bind", defaults.registry_config_dir, target, True) in registry_spec("r1", defaults).mounts


def test_registry_3_exports_no_traces(defaults):
    defaults.update(registry_image="registry:3.1.1")
    assert registry_spec("r1", defaults).env == {"OTEL_TRACES_EXPORTER": "none"}


def test_registry_spec_follows_data(defaults):
    defaults.update(registry_storage="bind", registry_delete_enabled=False, registry_port=5443)
    spec = registry_spec("r1", defaults)
    assert spec.env == {}
    assert spec.ports == {5000: "127.0.0.1:5001", 5001: "127.0.0.1:5002"}, \
        "behind the access proxy, on loopback only; its metrics on loopback too"
    defaults.update(registry_auth="none", registry_metrics_address=None)
    assert registry_spec("r1", defaults).ports == {5000: "5443"}
    assert spec.mounts[0] == ("bind", "/mnt/registry", "/var/lib/registry", False)
    assert spec.restart == "always"


def test_registry_published_on_one_address_when_asked(defaults):
    defaults.update(registry_bind_address="127.0.0.1", registry_ui_enabled=False, registry_auth="none",
                    registry_metrics_address="10.0.0.5")
    assert registry_spec("r1", defaults).ports == {5000: "127.0.0.1:5000", 5001: "10.0.0.5:5002"}
    defaults.update(registry_metrics_address="0.0.0.0")
    assert registry_spec("r1", defaults).ports[5001] == "5002", "as Docker reports every address back"


def test_ui_2x_proxies_over_https_and_asks_who_you_are(defaults):
    spec = ui_spec("r1", defaults)
    assert spec.env["NGINX_PROXY_PASS_URL"] == "https://{bridge_gateway}:5000"
    assert spec.env["SINGLE_REGISTRY"] == "true" and "REGISTRY_URL" not in spec.env
    assert (spec.env["REGISTRY_SECURED"], spec.env["ENABLE_VERSION_NOTIFICATION"]) == ("true", "false")
    assert spec.ports == {443: 5050}
    assert {m.target for m in spec.mounts} == {
        "/etc/nginx/registry-tls/registry.crt", "/etc/nginx/registry-tls/registry.key",
        "/etc/nginx/conf.d/registry-tls.conf", "/etc/nginx/conf.d/registry-upstream.conf",
        "/etc/nginx/registry-tls/ca.crt"}


@pytest.mark.parametrize("tls,trusted", [("self-signed", "/etc/nginx/registry-tls/ca.crt"),
                                         ("provided", "/etc/ssl/certs/ca-certificates.crt")])
def test_the_ui_verifies_the_upstream_it_forwards_credentials_to(defaults, tls, trusted):
    defaults.update(registry_tls=tls)
    lines = upstream_tls(defaults, "registry.example.com").decode().splitlines()
    assert {"proxy_ssl_verify on;", f"proxy_ssl_trusted_certificate {trusted};",
            "proxy_ssl_name registry.example.com;"} <= set(lines)


def test_the_uis_pull_lines_name_the_registry_not_the_ui(defaults):
    assert ui_spec("r1", defaults).env["PULL_URL"] == "r1:5000"
    defaults.update(registry_public_url="https://registry.example.com")
    assert ui_spec("r1", defaults).env["PULL_URL"] == "registry.example.com"
    assert ui_spec("r1", defaults, pull_from="lb.example.com:5000").env["PULL_URL"] == "lb.example.com:5000"


def test_ui_without_tls_or_users_is_plain(defaults):
    defaults.update(registry_tls="off", registry_auth="none")
    spec = ui_spec("r1", defaults)
    assert spec.env["NGINX_PROXY_PASS_URL"] == "http://{bridge_gateway}:5000" and "REGISTRY_SECURED" not in spec.env
    assert (spec.ports, spec.mounts) == ({80: 5050}, ())


def test_ui_static_tag_gets_registry_url(defaults):
    defaults.update(registry_ui_image="joxit/docker-registry-ui:static")
    env = ui_spec("r1", defaults).env
    assert env["REGISTRY_URL"] == "https://{bridge_gateway}:5000" and "NGINX_PROXY_PASS_URL" not in env


def test_daemon_settings_follow_data(defaults):
    defaults.update(registry_docker_registry_mirrors=["https://mirror.local"],
                    registry_docker_insecure_registries=["r:5000"],
                    registry_docker_daemon_options={"live-restore": True})
    assert daemon_settings(defaults, ["plain:5000", "r:5000"]) == {
        "insecure-registries": ["r:5000", "plain:5000"],
        "live-restore": True,
        "log-driver": "json-file",
        "log-opts": {"max-file": "3", "max-size": "10m"},
        "registry-mirrors": ["https://mirror.local"],
    }


def test_daemon_json_merge_keeps_the_hosts_keys_and_list_entries():
    host = {"data-root": "/srv/docker", "insecure-registries": ["old:5000"], "log-opts": {"labels": "x"}}
    ours = {"insecure-registries": ["new:5000", "old:5000"], "log-opts": {"max-file": "3"}, "log-driver": "json-file"}
    assert merged(host, ours) == {"data-root": "/srv/docker", "insecure-registries": ["old:5000", "new:5000"],
                                  "log-opts": {"labels": "x", "max-file": "3"}, "log-driver": "json-file"}


def _distro(id_, major, like=""):
    return {"name": id_, "major": major, "release_meta": {"ID": id_, "ID_LIKE": like}}


@pytest.mark.parametrize("distro,family", [
    (_distro("debian", 12), "debian"),
    (_distro("ubuntu", 22, "debian"), "debian"),
    (_distro("centos", 7, "rhel fedora"), "rhel"),
    (_distro("rocky", 9, "rhel centos fedora"), "rhel"),
    (_distro("almalinux", 8, "rhel centos fedora"), "rhel"),
])
def test_os_family_is_chosen_from_facts(distro, family):
    assert os_family(distro) == family


@pytest.mark.parametrize("distro", [_distro("alpine", 3), _distro("arch", None)])
def test_unsupported_os_is_refused_by_name(distro):
    with pytest.raises(DeployError, match=f"Unsupported OS: {distro['name']}"):
        os_family(distro)


def test_yum_on_el7_dnf_after():
    assert (rpm_manager(_distro("centos", 7)), rpm_manager(_distro("rocky", 9))) == ("yum", "dnf")


BRIDGE = '{"Name": "bridge", "IPAM": {"Driver": "default", "Config": [%s]}, "Containers": {}}'


@pytest.mark.parametrize("network,docker0,gateway", [
    ([BRIDGE % '{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}', "@@200"], ["172.18.0.1/16"], "172.18.0.1"),
    # Docker 20.10+: the IPAM gateway empty, docker0 has it
    ([BRIDGE % '{"Subnet": "172.19.0.0/16"}', "@@200"], ["172.19.0.1/16"], "172.19.0.1"),
    (["", "@@000"], [], None),  # no engine
])
def test_the_uis_bridge_gateway_falls_back_to_docker0(network, docker0, gateway):
    """As the UI's ContainerState asks: its container's three answers, the bridge network's, then docker0's."""
    output = ["", "@@404", "", "@@404", "", "@@404", *network, "@@gateway", *docker0]
    assert ContainerState().process(output)["gateway"] == gateway


def test_container_state_tells_a_leftover_replacement_from_the_container():
    # As docker_api's curl prints them: each answer, then its status (the image's 404 with the engine's message).
    output = ['{"Name": "/registry", "Id": "a", "Mounts": [{"Destination": "/b"}, {"Destination": "/a"}],',
              ' "State": {"Health": {"Status": "healthy", "Log": [{"Start": "now"}]}}}', "@@200",
              '{"Name": "/registry-next", "Id": "b"}', "@@200", '{"message":"No such image: x:1"}', "@@404"]
    state = ContainerState().process(output)
    assert (state["container"]["Id"], state["aside"], state["image"]) == ("a", True, None)
    assert [m["Destination"] for m in state["container"]["Mounts"]] == ["/a", "/b"]
    assert state["container"]["State"]["Health"] == {"Status": "healthy"}


def test_container_state_with_only_the_replacement_left_and_the_gateway():
    output = ['{"message":"No such container: registry"}', "@@404", '{"Name": "/registry-next", "Id": "b"}',
              "@@200", '{"Id": "i"}', "@@200", BRIDGE % '{"Subnet": "172.17.0.0/16"}', "@@200", "@@gateway",
              "172.17.0.1/16"]
    state = ContainerState().process(output)
    assert (state["container"], state["aside"], state["image"], state["gateway"]) == (None, True, {"Id": "i"},
                                                                                      "172.17.0.1")


def test_container_state_when_the_engine_does_not_answer():
    state = ContainerState().process(["", "@@000", "", "@@000", "", "@@000"])
    assert (state["container"], state["aside"], state["image"]) == (None, False, None)


# How FileStates asked, one file at a time (five processes a file): what its answers must stay equal to.
ONE_AT_A_TIME = ('for f in {}; do [ -f "$f" ] && echo "$f $(sha1sum < "$f" | cut -c1-40)'
                 ' $(stat -c \'%a %U:%G\' "$f")"; done; true')


def _sh(command: str, cwd) -> list[str]:
    done = subprocess.run(["sh", "-c", command], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_file_states_answer_every_file_as_asking_one_at_a_time_did(tmp_path):
    """Files of two modes, a symlink (its own mode, its target's content), a directory and a missing path: the
    two-process command answers what the old loop did."""
    (tmp_path / "a").write_text("a\n")
    (tmp_path / "b").write_bytes(os.urandom(3000))
    (tmp_path / "b").chmod(0o600)
    (tmp_path / "link").symlink_to("a")
    (tmp_path / "dir").mkdir()
    paths = [str(tmp_path / name) for name in ("a", "b", "link", "dir", "missing")]
    quoted = " ".join(shlex.quote(path) for path in paths)
    old = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in _sh(ONE_AT_A_TIME.format(quoted), tmp_path)}
    new = FileStates().process(_sh(FileStates().command(paths), tmp_path))
    assert new == old and sorted(new) == sorted(paths[:3])
    assert FileStates().process(_sh(FileStates().command([paths[-1]]), tmp_path)) == {}


def test_config_files_reads_states_link_and_mark(tmp_path):
    (tmp_path / "writable.yml").write_text("w\n")
    (tmp_path / "writable.yml").chmod(0o600)
    (tmp_path / "config.yml").symlink_to("readonly.yml")
    found = ConfigFiles().process(_sh(ConfigFiles().command(str(tmp_path), ["writable.yml", "absent.yml"]), tmp_path))
    owner = ":".join(_sh("id -un; id -gn", tmp_path))
    mode = f"{(tmp_path.stat().st_mode & 0o777):o}"
    digest = hashlib.sha1(b"w\n").hexdigest()
    assert found == {"directory": f"{mode} {owner}", "link": "readonly.yml", "read_only": False,
                     "files": {"writable.yml": f"{digest} 600 {owner}"}}
    assert ConfigFiles().process(_sh(ConfigFiles().command(str(tmp_path / "none"), ["x"]), tmp_path)) is None


def test_maintenance_state_names_the_holder_and_the_mark():
    output = ["@running registry-maintenance gc (pid 7, by root, since x)", "@read-only registry-maintenance gc"]
    assert MaintenanceState().process(output) == {
        "running": "registry-maintenance gc (pid 7, by root, since x)", "read_only": "registry-maintenance gc"}
    assert MaintenanceState().process([]) == {"running": None, "read_only": None}
