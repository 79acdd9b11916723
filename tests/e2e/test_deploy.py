"""The deploy on two fresh sandbox hosts: engine, storage, containers, registry, UI, idempotence."""

import os
import re
from urllib.parse import urlsplit

import pytest
import yaml

from core.archives import archive_name
from dev.operator import ROOT, deploy, upload
from sandbox.settings import IMAGE_DIR
from tests.e2e.conftest import ACCEPT, catalog, push_own, session


def test_first_run_changed_every_host(first_run, targets):
    assert {host for _, host in first_run.changed()} == {t.name for t in targets}


def test_docker_service_is_running_and_enabled(target):
    service = target.host.service("docker")
    assert service.is_running and service.is_enabled


def test_registry_storage_exists(target):
    data = target.data
    if data.registry_storage == "volume":
        assert target.host.run(f"docker volume inspect {data.registry_volume}").rc == 0
    else:
        directory = target.host.file(data.registry_bind_path)
        assert directory.is_directory and directory.user == "root" and directory.mode == 0o700


@pytest.mark.parametrize("which", ["registry", "ui"])
def test_container_runs_with_restart_always_and_published_port(target, which):
    data = target.data
    name, address, port, inner = {
        # Behind the access proxy (users are on by default), on loopback only.
        "registry": (data.registry_container, "127.0.0.1", data.registry_backend_port, "5000/tcp"),
        "ui": (data.registry_ui_container, "", data.registry_ui_port, "443/tcp"),  # the UI serves HTTPS itself
    }[which]
    inspect = target.container(name)
    assert inspect["State"]["Running"], target.logs(name)
    assert inspect["HostConfig"]["RestartPolicy"]["Name"] == "always"
    [binding] = inspect["HostConfig"]["PortBindings"][inner]
    assert (binding["HostIp"], binding["HostPort"]) == (address, str(port))


def test_the_access_proxy_serves_the_registry_port_from_the_hosts_network(target):
    data = target.data
    inspect = target.container(data.registry_auth_proxy_container)
    assert inspect["State"]["Running"], target.logs(data.registry_auth_proxy_container)
    assert (inspect["HostConfig"]["NetworkMode"], inspect["HostConfig"]["RestartPolicy"]["Name"]) == ("host", "always")
    assert target.host.socket(f"tcp://0.0.0.0:{data.registry_port}").is_listening
    assert not target.host.socket(f"tcp://0.0.0.0:{data.registry_backend_port}").is_listening, "loopback only"


def test_registry_mounts_its_storage_and_config_read_only(target):
    data = target.data
    mounts = {m["Destination"]: m for m in target.container(data.registry_container)["Mounts"]}
    storage = mounts["/var/lib/registry"]
    if data.registry_storage == "volume":
        assert (storage["Type"], storage["Name"]) == ("volume", data.registry_volume)
    else:
        assert (storage["Type"], storage["Source"]) == ("bind", data.registry_bind_path)
    config = mounts["/etc/docker/registry"]
    assert (config["Source"], config["RW"]) == (data.registry_config_dir, False)


def test_registry_reads_its_rendered_config_with_deletes_enabled(target):
    config_dir = target.data.registry_config_dir
    assert target.host.file(f"{config_dir}/config.yml").linked_to == f"{config_dir}/writable.yml"
    config = yaml.safe_load(target.host.file(f"{config_dir}/writable.yml").content_string)
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["http"]["addr"] == ":5000"


@pytest.mark.parametrize("path,mode", [("{dir}", 0o700), ("{dir}/writable.yml", 0o600), ("{dir}/readonly.yml", 0o600),
                                       ("{dir}/client.curlrc", 0o600)])
def test_configuration_is_root_only(target, path, mode):
    file = target.host.file(path.format(dir=target.data.registry_config_dir))
    assert (file.user, file.group, file.mode) == ("root", "root", mode)


def test_ui_is_wired_to_the_registry_through_the_bridge_gateway(target):
    data = target.data
    # Read the gateway the way an operator would, independently of the deploy's fact.
    gateway = re.search(r"inet (\S+)/", target.host.check_output("ip -4 addr show docker0")).group(1)
    env = dict(e.split("=", 1) for e in target.container(data.registry_ui_container)["Config"]["Env"])
    assert env["NGINX_PROXY_PASS_URL"] == f"https://{gateway}:{data.registry_port}"
    assert env["SINGLE_REGISTRY"] == "true"
    assert env["DELETE_IMAGES"] == "true"
    assert env["REGISTRY_TITLE"] == data.registry_ui_title


def test_v2_answers_empty_json(target):
    answer = session().get(f"{target.registry}/v2/", timeout=10)
    assert (answer.status_code, answer.json()) == (200, {})


def test_pushed_image_is_listed_and_pulls_back(target, hello_pushed):
    port = target.data.registry_port
    assert hello_pushed in catalog(target.registry)
    target.host.check_output(f"docker rmi localhost:{port}/hello")
    target.host.check_output(f"docker pull localhost:{port}/hello")
    out = target.host.check_output(f"docker run --rm localhost:{port}/hello")
    assert out == "hello from the private registry"


def test_manifest_delete_by_digest_is_accepted_and_the_manifest_is_gone(target, hello_pushed):
    digest = push_own(target, "deleteme", "to-delete")
    answer = session().delete(f"{target.registry}/v2/deleteme/manifests/{digest}", timeout=10)
    assert answer.status_code == 202, answer.text
    gone = session().head(f"{target.registry}/v2/deleteme/manifests/{digest}", headers={"Accept": ACCEPT}, timeout=10)
    assert gone.status_code == 404


def test_ui_answers_and_its_proxy_lists_the_pushed_image(target, hello_pushed):
    page = session().get(target.ui, timeout=10)
    assert page.status_code == 200 and f'name="{target.data.registry_ui_title}"' in page.text
    # The `docker pull` lines the UI offers name the registry as this machine reaches it, not the UI.
    assert f'pull-url="{urlsplit(target.registry).netloc}"' in page.text
    assert hello_pushed in catalog(target.ui)


def test_second_run_changes_nothing(targets):
    run = deploy()
    assert run.returncode == 0
    assert run.changes() == []


def test_a_no_op_rerun_asks_each_host_once_and_a_drift_still_gets_the_full_run(targets, spare, monkeypatch):
    hosts = [t.name for t in targets] + [spare.name]
    assert deploy().changes() == []  # a full run, or already the short one: either leaves a record
    quick = deploy("--debug")
    assert quick.changes() == [] and "--> Nothing to do: every host answers as" in quick.stderr
    assert {h: quick.stderr.count(f"Running command on {h}:") for h in hosts} == {h: 1 for h in hosts}

    # A drift on one host: every host gets the full run, and that host its repair.
    t = targets[1]
    t.host.check_output(f"docker stop {t.data.registry_ui_container}")
    repair = deploy("--debug")
    assert f"--> Full run: {t.name} answers otherwise" in repair.stderr
    assert {h for _, h in repair.changes()} == {t.name}
    assert t.container(t.data.registry_ui_container)["State"]["Running"]
    assert all(repair.stderr.count(f"Running command on {h}:") > 10 for h in hosts)

    # Another input (here the environment's REGISTRY_* variables): the full run, which changes nothing.
    monkeypatch.setenv("REGISTRY_ANY_NEW_INPUT", "1")
    again = deploy()
    assert "--> Full run: the project, the data or the environment changed" in again.stderr
    assert again.changes() == []
    assert "--> Nothing to do" in deploy().stderr

    # A local file the run read (an image archive, compared by size and time) changed: the full run.
    archive = IMAGE_DIR / archive_name(t.data.registry_image)
    os.utime(archive)
    touched = deploy()
    assert f"--> Full run: {archive} changed since the last run that changed nothing" in touched.stderr
    assert touched.changes() == []


def test_deletes_off_refuses_manifest_delete_then_on_again(targets, hello_pushed):
    target = targets[0]
    digest = push_own(target, "deleteme", "kept")
    off = deploy("--limit", target.name, "--data", "registry_delete_enabled=False")
    assert off.returncode == 0, off.stderr[-2000:]
    assert ("Registry | Registry container is running", target.name) in off.changed(), "a new config: replaced"
    answer = session().delete(f"{target.registry}/v2/deleteme/manifests/{digest}", timeout=10)
    assert answer.status_code == 405, answer.text
    assert ("Registry | Registry container is running", target.name) in deploy("--limit", target.name).changed()
    answer = session().delete(f"{target.registry}/v2/deleteme/manifests/{digest}", timeout=10)
    assert answer.status_code == 202, answer.text


def test_an_old_unprefixed_name_still_reaches_the_host_for_one_release_with_a_warning(targets):
    target = targets[0]
    old = deploy("--limit", target.name, "--data", "ui_title=Set by its old name")
    assert old.returncode == 0, old.stderr[-2000:]
    said = "WARNING: ui_title is now named registry_ui_title: the old name works for this release only, rename it ("
    assert [line for line in old.stderr.splitlines() if said in line and target.name in line], old.stderr[-2000:]
    env = dict(e.split("=", 1) for e in target.container(target.data.registry_ui_container)["Config"]["Env"])
    assert env["REGISTRY_TITLE"] == "Set by its old name"
    assert ("Registry UI | Registry UI container is running", target.name) in deploy("--limit", target.name).changed()


def test_images_are_pulled_by_name_from_a_registry_standing_in_for_docker_hub(targets):
    """registry_image_source = "pull": a plain registry on the host (as Docker Hub, or a site's mirror, would)
    serves the images; the deploy pulls each by name, and a second run pulls nothing."""
    t = targets[1]
    hub = "localhost:5999"
    wanted = {key: f"{hub}/{getattr(t.data, key).split('/', 1)[1]}"
              for key in ("registry_image", "registry_ui_image", "registry_auth_proxy_image")}
    t.host.check_output(f"docker rm -f hub-stand-in; docker run -d --name hub-stand-in -p 127.0.0.1:5999:5000"
                        f" {t.data.registry_image} >/dev/null && for i in $(seq 100); do"
                        " curl -sf http://localhost:5999/v2/ >/dev/null && break; sleep 0.1; done")
    try:
        for key, image in wanted.items():  # on the stand-in only: the host keeps none of these names
            t.host.check_output(f"docker tag {getattr(t.data, key)} {image} && docker push -q {image}"
                                f" && docker rmi {image}")
        data = [arg for key, image in wanted.items() for arg in ("--data", f"{key}={image}")]
        pulled = deploy("--limit", t.name, "--data", "registry_image_source=pull", *data)
        assert pulled.returncode == 0, pulled.stderr[-2000:]
        for image in wanted.values():
            assert (f"Images | Image {image} is present", t.name) in pulled.changed()
            digests = t.host.check_output(f"docker image inspect --format '{{{{json .RepoDigests}}}}' {image}")
            assert f"{image.rsplit(':', 1)[0]}@sha256:" in digests, "pulled from the stand-in, which gave its digest"
        assert deploy("--limit", t.name, "--data", "registry_image_source=pull", *data).changes() == []
    finally:
        t.host.check_output("docker rm -f hub-stand-in")
    back = deploy("--limit", t.name)
    assert back.returncode == 0, back.stderr[-2000:]


BAD_DATA = [
    ("registry_storage=nfs", "registry_storage='nfs': must be one of volume, bind"),
    ("registry_bind_path=mnt/registry", "registry_bind_path='mnt/registry': must be an absolute path"),
    ("registry_bind_path=/etc", "registry_bind_path='/etc': must not be a system directory"),
    ("registry_port=70000", "registry_port=70000: must be a port number"),
    ("registry_image_source=ftp", "registry_image_source='ftp': must be one of pull, archives"),
    ("registry_image_archive_dir=/nonexistent", "registry_image='registry-sandbox/registry:2.8.2': needs the archive"),
    ("registry_tls=on", "registry_tls='on': must be one of self-signed, provided, off"),
    ("registry_tls=off", "registry_auth='htpasswd': htpasswd needs TLS"),
    ("registry_ui_title=Ops & Dev", "registry_ui_title='Ops & Dev': must be a string without ~ & < >"),
    ('registry_docker_registry_mirrors=["mirror.local"]',
     "registry_docker_registry_mirrors: 'mirror.local' must be a URL"),
]


@pytest.mark.parametrize("override,message", BAD_DATA, ids=[b[0] for b in BAD_DATA])
def test_bad_data_is_refused_before_connecting(targets, override, message):
    # Logins after this point of sshd's journal (a time in seconds would count the previous case's).
    cursor = targets[0].host.check_output("journalctl -u ssh -n 1 --show-cursor -o cat | sed -n 's/^-- cursor: //p'")
    run = deploy("--data", override)
    assert run.returncode != 0
    assert message in run.stderr
    count = f"journalctl -u ssh --after-cursor='{cursor}' -o cat | grep -c Accepted || true"
    assert targets[0].host.check_output(count) == "0", "no host was connected to"
    upload(targets[0].data.ssh_port, ROOT / "README.md", "/tmp/login-probe")  # one login, which the journal shows
    assert int(targets[0].host.check_output(count)) >= 1, "the journal logs every login"
