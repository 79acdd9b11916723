"""Pull-through mirrors: one host's registry (TLS, users) stands in for Docker Hub as the upstream, another
host runs a mirror of it (registry 3: registry 2 cannot send a password to an upstream that asks for one).
Adding the mirror reloads every engine and restarts no container; a short name pulled on another host is
answered by the mirror (daemon.json registry-mirrors, the client certificate in place of a password); a
warm pull asks the upstream for no blob, and one with the upstream stopped is still served; the mirror takes
no push and says so for an image the upstream never had; a certificate of the CA for a host outside the
inventory is refused; GC on the mirror host leaves the mirror and its cache alone; a removed mirror
container is repaired, an edited configuration put back and read, a second run changes nothing, the
upstream's password and the client key are never printed, and a mirror dropped from the list goes while its
cache stays.
Runs on hosts of its own (host_name(3), the upstream; host_name(4), the mirror), made and removed here."""

import json
import os
from dataclasses import dataclass

import pytest

from core.secrets import SecretStore
from dev.operator import deploy, sandbox, status, upload
from sandbox.hosts import host_name
from sandbox.registry3 import REGISTRY3_IMAGE
from sandbox.settings import SECRETS_DIR
from tests.e2e.conftest import Target, target_for

UPSTREAM, MIRROR = host_name(3), host_name(4)
PORT = 5010
MIRROR_CONTAINER = "registry-mirror-hub"
# The user the mirror pulls from its upstream as: the built-in pull-only one.
MIRROR_USER = "registry-pull"
APP = f"{MIRROR}:{PORT}/team/app:1"


def host_data(mirrors: list) -> str:
    """$SANDBOX_HOST_DATA: the mirror host on registry 3, with `mirrors`."""
    return json.dumps({MIRROR: {"registry_image": REGISTRY3_IMAGE, "registry_mirrors": mirrors}})


MIRRORS = [{"name": "hub", "upstream": f"https://{UPSTREAM}:5000", "port": PORT, "username": MIRROR_USER,
            "ca": str(SECRETS_DIR / "ca.crt"), "docker_hub": True}]


def on_hosts(*args, **options):
    return deploy("--limit", UPSTREAM, "--limit", MIRROR, *args, **options)


def started_at(t: Target, container: str) -> str:
    return t.host.check_output(f"docker inspect --format '{{{{.State.StartedAt}}}}' {container}")


def upstream_blob_gets(upstream: Target, repository: str) -> int:
    """How many blob GETs of `repository` the upstream's access proxy has logged."""
    return int(upstream.host.check_output(
        f"docker logs registry-auth 2>&1 | grep -c 'GET /v2/{repository}/blobs/sha256' || true"))


@dataclass
class Hosts:
    upstream: Target
    mirror: Target
    added: object  # the run that added the mirror
    upstream_started: str  # the upstream's registry container's start, before that run


@pytest.fixture(scope="module")
def hosts(fresh_sandbox):
    """The upstream holding library/hello:1 and team/app:1, then the mirror added to the other host."""
    sandbox("images", "--registry3")
    password_file = SECRETS_DIR / "mirrors" / "hub"
    with pytest.MonkeyPatch.context() as env:
        try:
            sandbox("up", "--first", "3", "--hosts", "5", "--engine")
            env.setenv("SANDBOX_HOST_DATA", host_data([]))
            first = on_hosts()
            assert first.returncode == 0 and not first.errors(), first.stderr[-3000:]
            upstream, mirror = target_for(UPSTREAM), target_for(MIRROR)
            upstream.host.check_output(
                f"docker tag {upstream.data.registry_image} localhost:5000/library/hello:1"
                f" && docker push -q localhost:5000/library/hello:1"
                f" && printf 'FROM localhost:5000/library/hello:1\\nLABEL app=1\\n' | docker build -q"
                f" -t localhost:5000/team/app:1 - && docker push -q localhost:5000/team/app:1")
            before = started_at(upstream, upstream.data.registry_container)
            password_file.parent.mkdir(mode=0o700, exist_ok=True)
            password_file.write_text(SecretStore(str(SECRETS_DIR)).password(MIRROR_USER))
            password_file.chmod(0o600)
            env.setenv("SANDBOX_HOST_DATA", host_data(MIRRORS))
            added = on_hosts()
            assert added.returncode == 0 and not added.errors(), added.stderr[-3000:]
            yield Hosts(upstream, mirror, added, before)
        finally:
            password_file.unlink(missing_ok=True)
            sandbox("down", "--only", UPSTREAM, MIRROR)


def test_adding_a_mirror_reloads_each_engine_and_restarts_no_container(hosts):
    written = {h for name, h in hosts.added.changed() if name.startswith("Docker engine | Docker daemon configuration")}
    assert written == {UPSTREAM, MIRROR}
    assert "only keys the engine reloads changed: it reloads" in hosts.added.stderr
    assert "the engine restarts" not in hosts.added.stderr
    assert started_at(hosts.upstream, hosts.upstream.data.registry_container) == hosts.upstream_started
    info = json.loads(hosts.upstream.host.check_output("docker info --format '{{json .RegistryConfig.Mirrors}}'"))
    assert info == [f"https://{MIRROR}:{PORT}/"]


def test_a_short_name_pulled_on_another_host_is_answered_by_the_docker_hub_mirror(hosts):
    """No Docker Hub is reachable here: the pull succeeds only if the mirror answered, for the upstream host's
    engine, which shows the mirror its client certificate (it has no password to send)."""
    pulled = hosts.upstream.host.run("docker rmi -f hello:1 >/dev/null 2>&1; docker pull hello:1")
    assert pulled.rc == 0, pulled.stderr
    served = hosts.mirror.host.check_output(f"docker logs {hosts.mirror.data.registry_auth_proxy_container} 2>&1")
    assert "mirror_hub/mirror" in served and "GET /v2/library/hello/manifests/" in served


def test_a_warm_pull_asks_the_upstream_for_no_blob_and_one_with_the_upstream_stopped_is_still_served(hosts):
    mirror, upstream = hosts.mirror, hosts.upstream
    cold = mirror.host.run(f"docker rmi -f {APP} >/dev/null 2>&1; docker pull {APP}")
    assert cold.rc == 0, cold.stderr
    fetched = upstream_blob_gets(upstream, "team/app")
    assert fetched >= 1
    warm = mirror.host.run(f"docker rmi -f {APP} >/dev/null && docker pull {APP}")
    assert warm.rc == 0, warm.stderr
    assert upstream_blob_gets(upstream, "team/app") == fetched
    proxy = upstream.data.registry_auth_proxy_container
    upstream.host.check_output(f"docker stop {proxy}")
    try:
        offline = mirror.host.run(f"docker rmi -f {APP} >/dev/null && docker pull {APP}")
        assert offline.rc == 0, offline.stderr
    finally:
        upstream.host.check_output(f"docker start {proxy}")


def test_the_mirrors_door_refuses_a_certificate_of_the_ca_made_for_a_host_outside_the_inventory(hosts, tmp_path):
    """Only the inventory's hosts are let in by certificate: one the same CA made for another name is not."""
    mirror = hosts.mirror
    store = SecretStore(str(SECRETS_DIR))
    stranger = store.client_certificate("stranger")
    try:
        for name, content in zip(("stranger.crt", "stranger.key"), stranger, strict=True):
            (tmp_path / name).write_bytes(content)
            upload(mirror.data.ssh_port, tmp_path / name, f"/tmp/{name}")
        door = (f"curl -s -o /dev/null -w '%{{http_code}}' --cacert /etc/docker/certs.d/{MIRROR}:{PORT}/ca.crt"
                f" --resolve {MIRROR}:{PORT}:127.0.0.1 https://{MIRROR}:{PORT}/v2/")
        assert mirror.host.check_output(f"{door} --cert /tmp/stranger.crt --key /tmp/stranger.key") == "401"
        # curl reads a ':' in --cert as the start of a passphrase: the engine's own pair is copied first.
        own = f"/etc/docker/certs.d/{MIRROR}:{PORT}/client"
        assert mirror.host.check_output(f"cp '{own}.cert' /tmp/own.crt && cp '{own}.key' /tmp/own.key"
                                        f" && {door} --cert /tmp/own.crt --key /tmp/own.key") == "200"
    finally:
        for suffix in ("crt", "key"):
            (SECRETS_DIR / "clients" / f"stranger.{suffix}").unlink(missing_ok=True)


def test_status_names_the_mirror_its_state_and_what_its_cache_holds(hosts):
    [mirror] = status("--limit", MIRROR)[MIRROR]["mirrors"]
    cached = int(hosts.mirror.host.check_output(f"du -sb $(docker volume inspect --format '{{{{.Mountpoint}}}}'"
                                                f" {MIRROR_CONTAINER}) | cut -f1"))
    assert mirror == {"name": "hub", "upstream": MIRRORS[0]["upstream"], "port": PORT, "state": "running",
                      "cache_bytes": cached}
    assert cached > 1_000_000, "the pulled image's layers are in the cache"


def test_the_mirror_takes_no_push_and_says_so_for_an_image_the_upstream_never_had(hosts):
    mirror = hosts.mirror
    pushed = mirror.host.run(f"docker pull -q {APP} >/dev/null && docker tag {APP} {MIRROR}:{PORT}/team/app:pushed"
                             f" && docker push {MIRROR}:{PORT}/team/app:pushed")
    assert pushed.rc != 0
    answer = mirror.host.run(f"curl -s -K {mirror.data.registry_config_dir}/client.curlrc -X PUT"
                             f" https://127.0.0.1:{PORT}/v2/team/app/manifests/pushed")
    assert "a pull-through mirror is read-only" in answer.stdout
    missing = mirror.host.run(f"docker pull {MIRROR}:{PORT}/team/never:1")
    assert missing.rc != 0 and "not found" in missing.stderr.lower(), missing.stderr


def test_gc_on_the_mirror_host_leaves_the_mirror_and_its_cache_alone(hosts):
    """The collector runs on the registry's storage only: the mirror keeps running, and serves its cache with
    the upstream stopped."""
    mirror, upstream = hosts.mirror, hosts.upstream
    assert mirror.host.run(f"docker pull -q {APP}").rc == 0
    before = started_at(mirror, MIRROR_CONTAINER)
    collected = deploy("--limit", MIRROR, file="gc.py")
    assert collected.returncode == 0, collected.stderr[-3000:]
    assert started_at(mirror, MIRROR_CONTAINER) == before
    proxy = upstream.data.registry_auth_proxy_container
    upstream.host.check_output(f"docker stop {proxy}")
    try:
        assert mirror.host.run(f"docker rmi -f {APP} >/dev/null && docker pull {APP}").rc == 0
    finally:
        upstream.host.check_output(f"docker start {proxy}")


def test_a_removed_mirror_container_is_repaired_and_a_second_run_changes_nothing(hosts):
    hosts.mirror.host.check_output(f"docker rm -f {MIRROR_CONTAINER}")
    repaired = on_hosts()
    assert (f"Pull-through mirrors | Mirror hub ({MIRRORS[0]['upstream']}) is running", MIRROR) in repaired.changes()
    assert hosts.mirror.host.run(f"docker rmi -f {APP} >/dev/null && docker pull {APP}").rc == 0
    assert on_hosts().changes() == []


def test_a_mirror_configuration_edited_by_hand_is_put_back_and_read(hosts):
    """The edit is read by a restart before the run: the run puts the file back and restarts the mirror."""
    mirror = hosts.mirror
    config = f"{mirror.data.registry_config_dir}-mirror-hub/config.yml"
    mirror.host.check_output(f"sed -i 's|remoteurl: .*|remoteurl: https://{MIRROR}:5000|' {config}"
                             f" && docker restart {MIRROR_CONTAINER}")
    since = mirror.host.check_output("date +%s.%N")
    repaired = on_hosts()
    assert ("Pull-through mirrors | Mirror hub restarts to read its restored configuration", MIRROR) \
        in repaired.changes()
    assert f"remoteurl: {MIRRORS[0]['upstream']}" in mirror.host.check_output(f"cat {config}")
    started = mirror.host.check_output(f"docker logs --since {since} {MIRROR_CONTAINER} 2>&1")
    assert f"proxy cache to {MIRRORS[0]['upstream']}" in started


def test_the_upstream_password_and_the_client_key_are_never_printed(hosts):
    """A run that uploads them again (the mirror's configuration and the client key removed first), at -vvv."""
    mirror = hosts.mirror
    mirror.host.check_output(f"rm -f {mirror.data.registry_config_dir}-mirror-hub/config.yml"
                             f" /etc/docker/certs.d/{MIRROR}:{PORT}/client.key")
    run = on_hosts("-vvv")
    assert run.returncode == 0, run.stderr[-3000:]
    assert ("Pull-through mirrors | Mirror hub's configuration is in place", MIRROR) in run.changes()
    password = SecretStore(str(SECRETS_DIR)).password(MIRROR_USER)
    key = SecretStore(str(SECRETS_DIR)).client_certificate(MIRROR)[1].decode().splitlines()[1]
    for secret in (password, key):
        assert secret not in run.stdout and secret not in run.stderr


def test_a_mirror_dropped_from_the_list_goes_and_its_cache_stays(hosts):
    os.environ["SANDBOX_HOST_DATA"] = host_data([])
    run = on_hosts()
    assert ("Pull-through mirrors | Mirrors no longer in registry_mirrors are removed (their cache volumes are kept)",
            MIRROR) in run.changes()
    mirror = hosts.mirror.host
    assert mirror.run(f"docker container inspect {MIRROR_CONTAINER}").rc != 0
    assert not mirror.file(f"{hosts.mirror.data.registry_config_dir}-mirror-hub").exists, "with the password in it"
    assert mirror.run(f"docker volume inspect {MIRROR_CONTAINER}").rc == 0
