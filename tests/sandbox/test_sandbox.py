"""The sandbox harness itself: hosts that boot and answer, idempotent `up`, a `down` that spares others (and
other slots' hosts)."""

import bcrypt
import docker
import pytest

from core.archives import archive_image_id, archive_name
from dev.operator import sandbox, ssh_host
from sandbox.base import debian_mirror
from sandbox.engine_seed import RECORD, SEEDED
from sandbox.hosts import host_name, ours, read_state, sandbox_containers
from sandbox.local_docker import SandboxError
from sandbox.offline_images import HAPROXY_IMAGE, HELLO_IMAGE, REGISTRY_IMAGE, UI_IMAGE, UI_SOURCE, _ui_release
from sandbox.registry3 import REGISTRY3_IMAGE, SOURCE, source_tarball
from sandbox.settings import IMAGE_DIR, KEY_FILE, LABEL, SLOT_LABEL

HOSTS = 2


@pytest.fixture(scope="module")
def client():
    return docker.from_env()


@pytest.fixture(scope="module")
def offline_images():
    """The offline image archives, built when this machine has none (a fresh CI machine)."""
    sandbox("images")


@pytest.fixture(scope="module")
def registry3_image():
    """The registry 3 image, built from distribution's released source when this machine has none."""
    sandbox("images", "--registry3")


@pytest.fixture(scope="module")
def hosts():
    sandbox("down")
    sandbox("up", "--hosts", str(HOSTS))
    yield read_state()["hosts"]
    sandbox("down")


def test_up_boots_hosts_with_systemd_running_and_no_engine(hosts):
    assert len(hosts) == HOSTS
    for h in hosts:
        host = ssh_host(h["ssh_port"])
        assert host.run("systemctl is-system-running").stdout.strip() == "running"
        assert not host.exists("dockerd"), "the deploy, not the sandbox, installs Docker"


def test_an_engine_host_starts_with_the_images_a_deploy_loads_and_down_keeps_the_seed(client, hosts, offline_images):
    """Its engine's store is a copy of one the archives were loaded into: each image by the archive's ID,
    whole (the registry's binary runs from it)."""
    name = host_name(HOSTS)
    sandbox("up", "--first", str(HOSTS), "--hosts", str(HOSTS + 1), "--engine")
    try:
        [made] = [h for h in read_state()["hosts"] if h["name"] == name]
        host = ssh_host(made["ssh_port"])
        for image in SEEDED:
            assert host.check_output(f"docker image inspect --format '{{{{.Id}}}}' {image}") == \
                archive_image_id(IMAGE_DIR / archive_name(image))
        assert "registry" in host.check_output(f"docker run --rm --entrypoint registry {REGISTRY_IMAGE} --version")
    finally:
        sandbox("down", "--only", name)
    assert client.volumes.get(RECORD.read_text()), "the seed is kept for the next host"


def test_up_again_keeps_the_running_hosts(client, hosts):
    before = {c.name: (c.id, c.attrs["State"]["StartedAt"]) for c in sandbox_containers(client)}
    sandbox("up", "--hosts", str(HOSTS))
    after = {c.name: (c.id, c.attrs["State"]["StartedAt"]) for c in sandbox_containers(client)}
    assert after == before


def test_up_remakes_hosts_another_key_cannot_reach(client, hosts):
    before = {c.name: c.id for c in sandbox_containers(client)}
    KEY_FILE.unlink()  # as in a fresh clone: a new key, and hosts made for the old one
    sandbox("up", "--hosts", str(HOSTS))
    after = {c.name: c.id for c in sandbox_containers(client)}
    assert after.keys() == before.keys() and not set(after.values()) & set(before.values())
    for h in hosts:
        assert ssh_host(h["ssh_port"]).run("systemctl is-system-running").stdout.strip() == "running"


def test_ports_are_published_on_loopback_only(client, hosts):
    containers = sandbox_containers(client)
    assert len(containers) == HOSTS
    for container in containers:
        for bindings in container.attrs["HostConfig"]["PortBindings"].values():
            assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}


def test_status_lists_every_host_with_its_ports(hosts):
    out = sandbox("status")
    for h in hosts:
        assert f"{h['name']}  ssh 127.0.0.1:{h['ssh_port']}" in out


def test_down_removes_only_what_the_sandbox_created(client, hosts):
    """Neither what the sandbox never made, nor what another slot's sandbox made (another worker's hosts)."""
    base = client.containers.get(hosts[0]["name"]).image
    bystander = client.containers.run(base.id, ["sleep", "300"], detach=True, name="not-the-sandbox")
    volume = client.volumes.create("not-the-sandbox")
    elsewhere = {LABEL: "host", SLOT_LABEL: "elsewhere"}
    other_slot = client.containers.run(base.id, ["sleep", "300"], detach=True, name="another-slots-host",
                                       labels=elsewhere)
    other_volume = client.volumes.create("another-slots-volume", labels={**elsewhere, LABEL: "volume"})
    try:
        sandbox("down")
        assert sandbox_containers(client) == []
        assert [v for v in client.volumes.list(filters={"label": LABEL}) if ours(v.attrs["Labels"])] == []
        for container in bystander, other_slot:
            container.reload()
            assert container.status == "running"
        assert client.volumes.get(volume.name) and client.volumes.get(other_volume.name)
    finally:
        for container in bystander, other_slot:
            container.remove(force=True)
        volume.remove()
        other_volume.remove()


@pytest.mark.parametrize("image,entrypoint,cmd,port", [
    (REGISTRY_IMAGE, ["/entrypoint.sh"], ["/etc/docker/registry/config.yml"], "5000/tcp"),
    (UI_IMAGE, ["/docker-entrypoint.sh"], ["nginx", "-g", "daemon off;"], "80/tcp"),
])
def test_offline_images_keep_the_official_container_contract(client, offline_images, image, entrypoint, cmd, port):
    config = client.images.get(image).attrs["Config"]
    assert (config["Entrypoint"], config["Cmd"]) == (entrypoint, cmd)
    assert port in config["ExposedPorts"]


def test_registry3_image_is_distribution_3_1_1_with_registry_3s_contract(client, registry3_image):
    config = client.images.get(REGISTRY3_IMAGE).attrs["Config"]
    assert (config["Entrypoint"], config["Cmd"]) == (["/entrypoint.sh"], ["/etc/distribution/config.yml"])
    assert "5000/tcp" in config["ExposedPorts"] and "/var/lib/registry" in config["Volumes"]
    version = client.containers.run(REGISTRY3_IMAGE, ["--version"], remove=True, network_mode="none")
    assert version == b"registry github.com/distribution/distribution/v3 v3.1.1\n"
    script = ("mkdir -p /var/lib/registry/docker/registry/v2/repositories /var/lib/registry/docker/registry/v2/blobs"
              " && registry garbage-collect /etc/distribution/config.yml && echo collected")
    assert client.containers.run(REGISTRY3_IMAGE, ["sh", "-c", script], entrypoint=[], remove=True,
                                 network_mode="none").endswith(b"collected\n")


def test_a_missing_or_altered_source_tarball_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr("sandbox.registry3.SOURCES_DIR", tmp_path)
    with pytest.raises(SandboxError, match=f"{tmp_path / SOURCE} is missing: .* or point .SANDBOX_SOURCES"):
        source_tarball()
    (tmp_path / SOURCE).write_bytes(b"not the release")
    with pytest.raises(SandboxError, match="has sha256 .*, not the released"):
        source_tarball()


def test_registry_image_runs_garbage_collect_from_its_shell(client, offline_images):
    script = ("mkdir -p /var/lib/registry/docker/registry/v2/repositories /var/lib/registry/docker/registry/v2/blobs"
              " && registry garbage-collect /etc/docker/registry/config.yml && echo collected")
    assert client.containers.run(REGISTRY_IMAGE, ["sh", "-c", script], remove=True).endswith(b"collected\n")


def test_ui_image_is_the_released_ui_and_its_start_script_renders_the_page_and_proxy(client, offline_images):
    # The command replaced by `cat`: the release's start script has run, and shows what nginx would serve.
    out = client.containers.run(
        UI_IMAGE, ["sh", "-c", "cat /etc/nginx/conf.d/default.conf index.html version.json 50x.html; echo"],
        remove=True,
        network_mode="none", environment={"NGINX_PROXY_PASS_URL": "https://172.17.0.1:5000", "SINGLE_REGISTRY": "true",
                                          "REGISTRY_TITLE": "Team registry", "PULL_URL": "registry.example.com:5000"},
    ).decode()
    assert "proxy_pass https://172.17.0.1:5000;" in out and 'proxy_set_header Host "$http_host";' in out
    assert 'name="Team registry"' in out and 'pull-url="registry.example.com:5000"' in out
    assert '{"version":"2.6.0"' in out and "An error occurred." in out  # 5xx keep their status, as on alpine
    assert client.images.get(UI_IMAGE).attrs["Config"]["WorkingDir"] == "/usr/share/nginx/html/"


def test_a_missing_or_altered_ui_release_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr("sandbox.offline_images.SOURCES_DIR", tmp_path)
    with pytest.raises(SandboxError, match=f"put {UI_SOURCE} .* in {tmp_path}, or point .SANDBOX_SOURCES"):
        _ui_release(tmp_path)
    (tmp_path / UI_SOURCE).write_bytes(b"not the release")
    with pytest.raises(SandboxError, match="has sha256 .*, not the released"):
        _ui_release(tmp_path)


def test_haproxy_image_has_the_official_contract_and_checks_a_bcrypt_userlist(client, offline_images, tmp_path):
    config = client.images.get(HAPROXY_IMAGE).attrs["Config"]
    assert (config["Entrypoint"], config["Cmd"], config["User"], config["StopSignal"]) == (
        ["/usr/local/bin/docker-entrypoint.sh"], ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"], "haproxy",
        "SIGUSR1")
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
    (tmp_path / "haproxy.cfg").write_text(
        f"global\n    user haproxy\nuserlist users\n    user u password {hashed}\n"
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
        "frontend f\n    bind 127.0.0.1:8080\n"
        "    http-request set-var(txn.k) req.hdr(authorization),hmac(sha256,a2V5)\n"
        "    http-request auth unless { http_auth(users) }\n    http-request return status 200\n")
    checked = client.containers.run(HAPROXY_IMAGE, ["haproxy", "-c", "-f", "/usr/local/etc/haproxy/haproxy.cfg"],
                                    remove=True, network_mode="none", user="0",
                                    volumes={str(tmp_path): {"bind": "/usr/local/etc/haproxy", "mode": "ro"}})
    assert b"Configuration file is valid" in checked


def test_hello_image_prints_its_line(client, offline_images):
    assert client.containers.run(HELLO_IMAGE, remove=True) == b"hello from the private registry\n"


def test_debian_mirror_is_read_from_the_machines_apt_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n")
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"
