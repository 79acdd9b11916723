"""Faults operators meet: a killed registry, a restarted engine or host, a deploy killed anywhere, an engine
someone else configured or installed, a push in flight during a replace, a full disk, a storage switch.

Each test proves the host recovers (or the deploy refuses, changing nothing); the recovery times are
measured as medians in `make bench`. Hosts 3 to 5 are this module's: each test that needs a host never
deployed makes it anew, each that needs one deployed deploys it first; all three are removed at the end."""

import json
import signal
import subprocess

import docker
import pytest

from core.host_paths import READ_ONLY_MARK
from dev.operator import PYINFRA, ROOT, SANDBOX_INVENTORY, deploy, sandbox
from sandbox.hosts import host_name
from tests.e2e.chores import push_unique, start_chore, upload_status
from tests.e2e.client import HOST_CURL
from tests.e2e.conftest import Target, catalog, manifest_head, pull_back, push_hello, session, target_for, wait_for


def answers(t) -> bool:
    return session().get(f"{t.registry}/v2/", timeout=3).status_code == 200


OWN = (host_name(3), host_name(4), host_name(5))


@pytest.fixture(scope="module")
def own_hosts(fresh_sandbox):
    """How to get one of this module's hosts: made anew (no engine, nothing deployed), or deployed."""
    def host(name: str, anew: bool) -> Target:
        if anew:
            sandbox("down", "--only", name)
        sandbox("up", "--first", "3", "--hosts", "6")
        t = target_for(name)
        if not anew:
            run = deploy("--limit", name)
            assert run.returncode == 0, run.stderr[-3000:]
        return t

    yield host
    sandbox("down", "--only", *OWN)


def test_a_crashed_registry_comes_back_by_its_restart_policy(targets, hello_pushed):
    t = targets[0]
    digest = manifest_head(t, "hello:latest")[1]
    t.host.check_output(f"kill -9 $(docker inspect --format '{{{{.State.Pid}}}}' {t.data.registry_container})")
    print(f"registry back after its process was killed: {wait_for(lambda: answers(t)):.1f}s")
    assert manifest_head(t, "hello:latest")[1] == digest
    pull_back(t, hello_pushed)


def test_a_registry_stopped_with_docker_kill_is_started_by_the_next_run(targets, hello_pushed):
    # Docker counts `docker kill` as a manual stop: the restart policy leaves it stopped.
    t = targets[0]
    t.host.check_output(f"docker kill {t.data.registry_container}")
    run = deploy("--limit", t.name)
    assert ("Registry | Registry container is running", t.name) in run.changed()
    assert answers(t)
    pull_back(t, hello_pushed)


def test_an_engine_restart_brings_both_containers_back(targets, hello_pushed):
    t = targets[1]
    t.host.check_output("systemctl restart docker")
    print(f"both containers back after an engine restart: "
          f"{wait_for(lambda: answers(t) and 'hello' in catalog(t.ui)):.1f}s")
    pull_back(t, hello_pushed)


def test_a_host_that_loses_power_inside_a_chore_serves_its_data_and_the_next_run_repairs_its_mark(spare):
    """A clean shutdown stops the chore's unit, whose trap switches the registry back; a power loss leaves it
    read-only, with only the mark on disk to tell."""
    push_hello(spare)
    before = manifest_head(spare, "hello:latest")[1]
    start_chore(spare, "gc")  # held inside its read-only window: the mark is written, uploads refused
    assert upload_status(spare) == "405" and spare.host.file(READ_ONLY_MARK).exists
    host = docker.from_env().containers.get(spare.name)
    host.kill()  # SIGKILL to its init: nothing on the host runs another instruction
    host.start()
    print(f"registry and UI answer after a host restart: "
          f"{wait_for(lambda: answers(spare) and session().get(spare.ui, timeout=3).ok, seconds=180):.1f}s")
    assert manifest_head(spare, "hello:latest")[1] == before
    assert spare.host.file(READ_ONLY_MARK).exists, "the mark is on disk: it survives the restart"
    assert upload_status(spare) == "405", "the registry came back as the chore left it: read-only"
    run = deploy("--limit", spare.name)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "repaired the leftover read-only state" in run.stderr
    assert upload_status(spare) == "202" and not spare.host.file(READ_ONLY_MARK).exists
    assert deploy("--limit", spare.name).changes() == []


def _deploy_killed_when(t, on_host: str, *args, when=lambda: True):
    """Start a deploy of `t`; once a process on the host matches `on_host` (pgrep -f, polled over SSH of its
    own) and when() holds, SIGKILL the deploy and that process: a crash of both ends, not only of the control
    machine's."""
    run = subprocess.Popen([PYINFRA, "-y", SANDBOX_INVENTORY, "deploy.py", "--limit", t.name, *args], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: run.poll() is None and t.host.run(f"pgrep -f '{on_host}'").rc == 0 and when(),
                 seconds=300, every=0.1)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
        t.host.run(f"pkill -KILL -f '{on_host}'")


def _converges_then_settles(t):
    converge = deploy("--limit", t.name)
    assert converge.returncode == 0 and not converge.errors(), converge.stderr[-3000:]
    settled = deploy("--limit", t.name)
    assert settled.changes() == []


def test_a_host_whose_engine_someone_configured_keeps_its_settings(own_hosts):
    t = own_hosts(OWN[0], anew=True)
    own = {"data-root": "/var/lib/docker/relocated", "bip": "10.123.0.1/24", "live-restore": True}
    t.host.check_output(f"mkdir -p /etc/docker && echo '{json.dumps(own)}' > /etc/docker/daemon.json")
    run = deploy("--limit", t.name)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "keeping the host's own bip, data-root, live-restore" in run.stderr
    on_host = json.loads(t.host.file("/etc/docker/daemon.json").content_string)
    assert {key: on_host[key] for key in own} == own and on_host["log-driver"] == "json-file"
    assert t.host.check_output("docker info --format '{{.DockerRootDir}}'") == own["data-root"]
    ui = json.loads(t.host.check_output(f"docker inspect {t.data.registry_ui_container}"))[0]
    assert "NGINX_PROXY_PASS_URL=https://10.123.0.1:5000" in ui["Config"]["Env"], "the gateway is read anew"
    push_hello(t)
    pull_back(t, "hello")
    moved = deploy("--limit", t.name, "--data", 'registry_docker_daemon_options={"data-root": "/var/lib/docker"}')
    assert moved.returncode != 0
    assert "would move data-root from /var/lib/docker/relocated to /var/lib/docker" in moved.stderr


def test_a_deploy_killed_during_the_package_install_converges(own_hosts):
    t = own_hosts(OWN[1], anew=True)
    # [a]: the pattern must not match the shell that runs pgrep.
    _deploy_killed_when(t, "[a]pt-get.*install")
    assert t.host.run("docker info").rc != 0, "killed before the engine was installed and running"
    _converges_then_settles(t)
    assert t.host.service("docker").is_running and not t.host.run("dpkg --audit").stdout


def test_a_deploy_killed_between_creating_the_new_container_and_the_rename_converges(own_hosts):
    t = own_hosts(OWN[1], anew=False)
    name = f"{t.data.registry_container}-next"
    # [r]: as above. The replacement is created, then the old registry drains for up to 31 s: killed there.
    _deploy_killed_when(t, f"[r]egistry-container replace {t.data.registry_container}", "--data",
                        "registry_drain_timeout=31",
                        when=lambda: t.host.run(f"docker container inspect {name}").rc == 0)
    assert t.host.run(f"docker container inspect {name}").rc == 0, "the replacement was left aside"
    _converges_then_settles(t)
    assert t.host.run(f"docker container inspect {name}").rc != 0
    assert answers(t)


def test_a_deploy_killed_during_the_health_gate_converges(own_hosts):
    t = own_hosts(OWN[1], anew=False)
    t.host.check_output(f"docker pause {t.data.registry_ui_container}")
    try:
        _deploy_killed_when(t, "[r]egistry-container healthy --wait")
    finally:
        t.host.check_output(f"docker unpause {t.data.registry_ui_container}")
    _converges_then_settles(t)


# Stands in for mv on a host: the second file install-config moves out of the staged directory waits there,
# to be killed with the first file moved in and the rest not.
SECOND_MOVE_HELD = """#!/bin/sh
case "$*" in *".next/"*)
    if [ -e /tmp/mv.first ]; then
        touch /tmp/mv.held
        until [ -e /tmp/mv.release ]; do sleep 0.1; done
    fi
    touch /tmp/mv.first ;;
esac
exec /usr/bin/mv "$@"
"""


def test_a_deploy_killed_while_it_installs_a_configuration_converges_on_the_new_one(own_hosts):
    t = own_hosts(OWN[1], anew=False)
    files = f"{t.data.registry_config_dir}/writable.yml {t.data.registry_config_dir}/readonly.yml"
    before = t.host.check_output(f"sha256sum {files}").splitlines()
    t.host.check_output(f"rm -f /tmp/mv.first /tmp/mv.held && cat > /usr/local/bin/mv <<'EOF'\n{SECOND_MOVE_HELD}EOF\n"
                        "chmod +x /usr/local/bin/mv")
    try:
        _deploy_killed_when(t, "[r]egistry-container install-config", "--data", "registry_delete_enabled=False",
                            when=lambda: t.host.file("/tmp/mv.held").exists)
    finally:
        t.host.run("pkill -KILL -f '^/bin/sh /usr/local/bin/mv'")
        t.host.check_output("rm -f /usr/local/bin/mv")
    left = t.host.check_output(f"sha256sum {files}").splitlines()
    assert len(set(left) - set(before)) == 1, "one file of the new configuration moved in, the other not"
    assert t.host.file(f"{t.data.registry_config_dir}.next").is_directory, "the staged directory left"

    converge = deploy("--limit", t.name, "--data", "registry_delete_enabled=False")
    assert converge.returncode == 0 and not converge.errors(), converge.stderr[-3000:]
    assert not t.host.file(f"{t.data.registry_config_dir}.next").exists
    push_hello(t)
    digest = manifest_head(t, "hello:latest")[1]
    deleting = session().delete(f"{t.registry}/v2/hello/manifests/{digest}", timeout=10)
    assert deleting.status_code == 405, "the registry serves the new configuration: deletes are off"
    assert deploy("--limit", t.name, "--data", "registry_delete_enabled=False").changes() == []


# Stands in for systemctl on a host: asked to make the engine apply daemon.json, it waits there, to be killed
# with the new file in place and the engine still running on the old one.
ENGINE_APPLY_HELD = """#!/bin/sh
case "$*" in *"reload-or-restart docker.service"*)
    touch /tmp/apply.held
    until [ -e /tmp/apply.release ]; do sleep 0.1; done ;;
esac
exec /usr/bin/systemctl "$@"
"""


def _engine_mirrors(t) -> list[str]:
    return json.loads(t.host.check_output("docker info --format '{{json .RegistryConfig.Mirrors}}'")) or []


def test_a_deploy_killed_between_writing_daemon_json_and_the_engine_applying_it_converges(own_hosts):
    t = own_hosts(OWN[1], anew=False)
    mirror = "https://mirror.example.internal:5000"
    added = ("--data", f'registry_docker_registry_mirrors=["{mirror}"]')
    t.host.check_output(f"rm -f /tmp/apply.held /tmp/apply.release && cat > /usr/local/bin/systemctl <<'EOF'\n"
                        f"{ENGINE_APPLY_HELD}EOF\nchmod +x /usr/local/bin/systemctl")
    try:
        _deploy_killed_when(t, "[s]ystemctl try-reload-or-restart docker.service", *added,
                            when=lambda: t.host.file("/tmp/apply.held").exists)
    finally:
        t.host.check_output("rm -f /usr/local/bin/systemctl")
    on_host = json.loads(t.host.file("/etc/docker/daemon.json").content_string)
    assert on_host["registry-mirrors"] == [mirror], "the new file is in place"
    assert f"{mirror}/" not in _engine_mirrors(t), "the engine never applied it"
    assert t.host.file("/etc/docker/daemon.json.pending").content_string.strip() == "reload"

    converge = deploy("--limit", t.name, *added)
    assert converge.returncode == 0 and not converge.errors(), converge.stderr[-3000:]
    assert "the run that wrote it ended before the engine applied it: the engine reloads now" in converge.stderr
    assert _engine_mirrors(t) == [f"{mirror}/"] and not t.host.file("/etc/docker/daemon.json.pending").exists
    assert deploy("--limit", t.name, *added).changes() == []


def test_an_engine_from_dockers_own_packages_is_refused_and_kept(own_hosts):
    t = own_hosts(OWN[2], anew=True)
    t.host.check_output(
        "rm -rf /tmp/standin && mkdir -p /tmp/standin/DEBIAN && printf '"
        "Package: docker-ce\\nVersion: 5:99.0.0-1\\nArchitecture: all\\nMaintainer: test\\nConflicts: docker.io\\n"
        "Description: a stand-in for Docker CE that conflicts as the real one does\\n' > /tmp/standin/DEBIAN/control"
        " && dpkg-deb --build /tmp/standin /tmp/docker-ce.deb >/dev/null && dpkg -i /tmp/docker-ce.deb >/dev/null")
    run = deploy("--limit", t.name)
    assert run.returncode != 0
    assert "docker-ce is installed and registry_docker_package_source is 'distribution'" in run.stderr
    assert "Set registry_docker_package_source='docker-ce'" in run.stderr
    assert t.host.package("docker-ce").is_installed and not t.host.package("docker.io").is_installed


# A blob pushed as Docker pushes one (start, one PATCH with the data, PUT with the digest), the PATCH held
# to 2 MB/s so that it is in flight for ~20 s; like Docker, the PUT is retried while the registry restarts
# (no answer, or the access proxy's 503 while it has no registry to pass it to).
SLOW_PUSH = HOST_CURL + """ -o /dev/null
f=/tmp/inflight.bin; head -c 40000000 /dev/urandom > $f; digest=sha256:$(sha256sum $f | cut -d' ' -f1)
curl -s -K "$CURL_CONFIG" -o /dev/null -D /tmp/h1 -X POST "$CLIENT_URL/v2/inflight/blobs/uploads/"
location=$(tr -d '\\r' < /tmp/h1 | sed -n 's/^[Ll]ocation: //p')
touch /tmp/inflight.started
patch=$(curl -s -K "$CURL_CONFIG" --limit-rate 2M -o /dev/null -D /tmp/h2 -w '%{http_code}' -X PATCH \\
    -H 'Content-Type: application/octet-stream' --data-binary @$f "$location")
location=$(tr -d '\\r' < /tmp/h2 | sed -n 's/^[Ll]ocation: //p')
for i in $(seq 60); do
    put=$(curl -s -K "$CURL_CONFIG" -o /dev/null -w '%{http_code}' -X PUT "$location&digest=$digest")
    [ "$put" = 000 ] || [ "$put" = 503 ] || break
    sleep 1
done
echo "$patch $put $digest" > /tmp/inflight.result
"""


def test_a_push_in_flight_while_the_registry_is_replaced_completes(targets, hello_pushed):
    t = targets[0]
    t.host.check_output(f"rm -f /tmp/inflight.*; cat > /tmp/slow-push.sh <<'EOF'\n{SLOW_PUSH}\nEOF\n"
                        "nohup sh /tmp/slow-push.sh >/dev/null 2>&1 & until [ -e /tmp/inflight.started ]; do sleep 0.1;"
                        " done; sleep 2")
    try:
        run = deploy("--limit", t.name, "--data", "registry_drain_timeout=29")  # a new config: a replace
        assert run.returncode == 0, run.stderr[-3000:]
        assert ("Registry | Registry container is running", t.name) in run.changed()
        wait_for(lambda: t.host.run("test -e /tmp/inflight.result").rc == 0, seconds=120)
        patch, put, digest = t.host.check_output("cat /tmp/inflight.result").split()
        # Without a drain the registry would have dropped the PATCH when it was stopped for the replace.
        assert (patch, put) == ("202", "201"), "the upload outlived the replace and was completed"
        assert session().head(f"{t.registry}/v2/inflight/blobs/{digest}", timeout=10).status_code == 200
    finally:
        restored = deploy("--limit", t.name)  # raised first, the body's error is the one shown
    assert restored.returncode == 0, restored.stderr[-3000:]


def test_a_full_bind_directory_refuses_pushes_keeps_pulls_and_heals(targets, hello_pushed):
    t = targets[1]
    path, registry = t.data.registry_bind_path, t.data.registry_container
    t.host.check_output(f"docker stop {registry} >/dev/null && rm -rf /tmp/keep && cp -a {path} /tmp/keep"
                        f" && mount -t tmpfs -o size=40m,mode=0700 tmpfs {path} && cp -a /tmp/keep/. {path}/"
                        f" && docker start {registry} >/dev/null")
    try:
        wait_for(lambda: answers(t))
        # One monolithic upload of a blob larger than the space left: a single request, no client retries.
        refused = t.host.check_output(
            "head -c 60000000 /dev/urandom > /tmp/huge && digest=sha256:$(sha256sum /tmp/huge | cut -d' ' -f1)"
            f" && {HOST_CURL} -o /dev/null -D /tmp/huge.h -X POST \"$REGISTRY_URL/v2/toobig/blobs/uploads/\""
            " && location=$(tr -d '\\r' < /tmp/huge.h | sed -n 's/^[Ll]ocation: //p')"
            f" && {HOST_CURL} -o /dev/null -w '%{{http_code}}' -X PUT -H 'Content-Type: application/octet-stream'"
            " --data-binary @/tmp/huge \"$location&digest=$digest\"; true")
        # The registry may answer and close before it has read the whole body (curl then exits 18).
        assert refused.startswith("5"), refused
        assert "no space left on device" in t.host.check_output(f"docker logs --tail 200 {registry} 2>&1")
        pull_back(t, hello_pushed)
        t.host.check_output(f"mount -o remount,size=300m {path}")
        run = deploy("--limit", t.name)
        assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
        push_unique(t, "after-full:1")
    finally:
        t.host.check_output(f"docker stop {registry} >/dev/null; rm -rf /tmp/keep && cp -a {path} /tmp/keep"
                            f" && umount {path} && cp -a /tmp/keep/. {path}/ && docker start {registry} >/dev/null")
    wait_for(lambda: answers(t))
    pull_back(t, "after-full:1")


def test_a_storage_change_is_refused_then_migrated_when_asked(spare):
    push_hello(spare)
    push_unique(spare, "moving:1")
    before = catalog(spare.registry)
    assert before, "the spare registry holds repositories to move"
    refused = deploy("--limit", spare.name, "--data", "registry_storage=bind")
    assert refused.returncode != 0
    assert f"repositories are in volume:{spare.data.registry_volume}" in refused.stderr
    assert "bind:/mnt/registry, which holds none" in refused.stderr
    assert not spare.host.file("/mnt/registry").exists, "nothing was changed"

    moved = deploy("--limit", spare.name, "--data", "registry_storage=bind", "--data", "registry_storage_migrate=True")
    assert moved.returncode == 0, moved.stderr[-3000:]
    assert "every tag answers with its digest from bind:/mnt/registry" in moved.stderr
    assert spare.data_mount() == ("bind", "/mnt/registry")
    assert catalog(spare.registry) == before
    volume = spare.host.check_output(f"docker volume inspect -f '{{{{.Mountpoint}}}}' {spare.data.registry_volume}")
    assert spare.host.run(f"test -d {volume}/docker/registry/v2/repositories/hello").rc == 0, "the old copy stays"
    again = deploy("--limit", spare.name, "--data", "registry_storage=bind")
    assert again.changes() == []


# Stands in for cp on a host: the migration's copy into the registry volume copies the repositories only
# (manifests and tags, no blobs: what a copy cut short holds), then waits, to be killed there.
CUT_SHORT_COPY = """#!/bin/sh
case "$*" in *"/. /var/lib/docker/volumes/"*)
    mkdir -p "${3%/}/docker/registry/v2"
    /usr/bin/cp -a "${2%/.}/docker/registry/v2/repositories" "${3%/}/docker/registry/v2/"
    touch /tmp/copy.held
    until [ -e /tmp/copy.release ]; do sleep 0.1; done ;;
esac
exec /usr/bin/cp "$@"
"""


def test_a_migration_killed_mid_copy_is_copied_again_by_the_next_run_never_served_half(own_hosts):
    t = own_hosts(OWN[0], anew=True)  # an odd-numbered host: on bind storage
    assert deploy("--limit", t.name).returncode == 0
    push_hello(t)
    push_unique(t, "moving:1")
    before = catalog(t.registry)
    migrate = ("--data", "registry_storage=volume", "--data", "registry_storage_migrate=True")
    t.host.check_output(f"cat > /usr/local/bin/cp <<'EOF'\n{CUT_SHORT_COPY}EOF\nchmod +x /usr/local/bin/cp")
    try:
        _deploy_killed_when(t, "[r]egistry-maintenance migrate", *migrate,
                            when=lambda: t.host.file("/tmp/copy.held").exists)
    finally:
        t.host.run("pkill -KILL -f '^/bin/sh /usr/local/bin/cp'")
        t.host.check_output("rm -f /usr/local/bin/cp /tmp/copy.held")
    assert t.data_mount() == ("bind", "/mnt/registry"), "still served from its old place"
    assert upload_status(t) == "405" and t.host.file(READ_ONLY_MARK).exists
    volume = t.host.check_output(f"docker volume inspect -f '{{{{.Mountpoint}}}}' {t.data.registry_volume}")
    assert t.host.file(f"{volume}/.migration-incomplete").exists
    assert t.host.run(f"test -d {volume}/docker/registry/v2/repositories/hello").rc == 0, "a copy cut short"

    again = deploy("--limit", t.name, *migrate)
    assert again.returncode == 0, again.stderr[-3000:]
    place = f"volume:{t.data.registry_volume}"
    assert f"cleared the unfinished copy an interrupted migration left in {place}" in again.stderr
    assert f"every tag answers with its digest from {place}" in again.stderr
    assert t.data_mount() == ("volume", volume)
    assert not t.host.file(f"{volume}/.migration-incomplete").exists
    assert catalog(t.registry) == before and upload_status(t) == "202"
    pull_back(t, "moving:1")
    assert deploy("--limit", t.name, "--data", "registry_storage=volume").changes() == []
