"""Registry replicas on one S3 bucket (the sandbox's real Ceph RGW) behind HAProxy: what one replica or
the load balancer takes, every replica serves; a stopped replica costs no pull through the load
balancer; a second run changes nothing; a missing bucket is refused before anything changes; GC,
repository deletion and pruning run across the replicas with no pull through the load balancer failing,
and a run killed in the middle is healed by the next; the gateway restarting heals without a redeploy;
the replicas upgrade to registry 3 one at a time with no pull through the load balancer failing, and its
collector keeps every platform of a multi-arch image. Runs on hosts of its own (replicas host_name(3)
and host_name(4), load balancer host_name(5)), made and removed here."""

import hashlib
import json
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest

from core.haproxy_files import READMIT_SECONDS
from core.host_paths import CHORE_METRICS, MAINTENANCE_SCRIPT, READ_ONLY_MARK, TEXTFILE_DIR
from dev.operator import deploy, inventory_hosts, sandbox, start_deploy, status
from sandbox.hosts import host_name
from sandbox.object_store import NAME as STORE
from sandbox.object_store import SECRET_KEY_FILE
from sandbox.registry3 import REGISTRY3_IMAGE
from sandbox.settings import SLOT_DIR
from tasks.backup import REMOTE_DIR
from tests.e2e.chores import (
    PAUSING,
    RETENTION_DECISION,
    RETENTION_RULES,
    S3_COLLECTOR,
    pause_collections,
    pull_outages,
    push_retention_tags,
    push_unique,
    release_chore,
    resume_collections,
    start_pull_loop,
    stop_pull_loop,
    upload_status,
)
from tests.e2e.client import ACCEPT
from tests.e2e.conftest import (
    catalog,
    manifest,
    manifest_head,
    pull_back,
    push_hello,
    session,
    tags_of,
    target_for,
    wait_for,
)
from tests.e2e.multiarch import ACCEPT_ANY, pull_every_platform, push_multiarch

CLUSTER = "inventory/sandbox_cluster.py"
HOSTS = (host_name(3), host_name(4))
LB = host_name(5)
# The load balancer as the replica hosts reach it (registry_lb_port).
LB_URL = f"https://{LB}:5000"
ON_3 = ("--data", f"registry_image={REGISTRY3_IMAGE}")
# What a backup's copy of a blob from the bucket asks curl for.
BLOB_COPY = "docker/registry/v2/blobs/sha256"


def cluster_deploy(*args, **options):
    return deploy(*args, inventory=CLUSTER, **options)


@pytest.fixture(scope="module")
def cluster(fresh_sandbox):
    """(replicas, load balancer), deployed by inventory/sandbox_cluster.py on hosts of their own, holding what
    every test here may read: hello and shared:1 pushed to the first replica, via-lb:1 through the balancer."""
    os.environ["SANDBOX_CLUSTER_HOSTS"] = ",".join([*HOSTS, LB])
    try:
        sandbox("up", "--first", "3", "--hosts", "6", "--s3", "--engine")
        run = cluster_deploy()
        assert run.returncode == 0 and not run.errors(), run.why()
        found = dict(inventory_hosts(CLUSTER))
        replicas, lb = [target_for(name, found[name]) for name in HOSTS], target_for(LB, found[LB])
        push_hello(replicas[0])
        push_unique(replicas[0], "shared:1")
        via_lb = f"{LB}:{lb.data.registry_lb_port}/via-lb:1"
        replicas[0].host.check_output(f"docker tag localhost:5000/shared:1 {via_lb} && docker push -q {via_lb}")
        yield replicas, lb
    finally:
        del os.environ["SANDBOX_CLUSTER_HOSTS"]
        sandbox("down", "--only", *HOSTS, LB)


@pytest.fixture(scope="module")
def replicas(cluster):
    return cluster[0]


def test_what_one_replica_takes_the_other_serves_with_the_same_digest(replicas):
    first, second = replicas
    status, pushed = manifest_head(first, "shared:1")
    assert status == 200 and pushed
    assert manifest_head(second, "shared:1") == (200, pushed)
    pull_back(second, "shared:1")
    local = first.host.run(f"docker exec {first.data.registry_container} test -d /var/lib/registry/docker")
    assert local.rc != 0, "no data on the replica's own disk"


def test_a_push_through_the_load_balancer_is_served_by_every_replica(cluster):
    replicas, lb = cluster
    status, pushed = manifest_head(lb, "via-lb:1")
    assert status == 200 and pushed
    assert [manifest_head(replica, "via-lb:1") for replica in replicas] == [(200, pushed)] * len(replicas)


def test_a_stopped_replica_costs_no_pull_through_the_load_balancer_and_a_run_repairs_it(cluster):
    replicas, lb = cluster
    replicas[1].host.check_output(f"docker stop {replicas[1].data.registry_container}")
    answers = [manifest_head(lb, "via-lb:1")[0] for _ in range(40)]
    assert answers == [200] * 40, "retried on the replica that still serves"
    repaired = cluster_deploy()
    assert repaired.returncode == 0 and ("Registry | Registry container is running", HOSTS[1]) in repaired.changed()
    assert manifest_head(replicas[1], "via-lb:1")[0] == 200
    assert cluster_deploy().changes() == []


def _balanced(lb) -> dict[str, str]:
    """Each replica's state as the load balancer's HAProxy has it (its stats): server id -> UP, DOWN, MAINT."""
    csv = lb.host.check_output(f"curl -s '127.0.0.1:{lb.data.registry_lb_stats_port}/;csv'")
    rows = [line.split(",") for line in csv.splitlines()]
    return {row[1]: row[17].split()[0] for row in rows if row[0] == "replicas" and row[1].startswith("r")}


def _exported(lb) -> dict[str, str]:
    """Each replica's state as the load balancer's metrics (on loopback) say: server id -> the state at 1."""
    metrics = lb.host.check_output(f"curl -s 127.0.0.1:{lb.data.registry_lb_metrics_port}/metrics")
    return dict(re.findall(r'^haproxy_server_status\{proxy="replicas",server="(r\d)",state="(\w+)"\} 1$', metrics,
                           re.MULTILINE))


def test_a_replica_whose_whole_host_vanishes_costs_no_pull_and_no_wait_and_is_taken_back(cluster):
    """The host of a replica killed (its address stops answering: nothing refuses a connection) for 10 s under
    a pull loop through the load balancer: no pull fails or waits much past the connect timeout. Started
    again, at whatever address it gets, the balancer sends it requests again with no deploy."""
    replicas, lb = cluster
    puller = replicas[0]
    _, layers = manifest(lb, "shared", "1")
    assert _balanced(lb) == {"r0": "UP", "r1": "UP"}
    start_pull_loop(puller, "shared", "1", sorted(layers)[0], url=LB_URL)
    host = docker.from_env().containers.get(HOSTS[1])
    host.kill()
    time.sleep(10)
    host.start()
    wait_for(lambda: manifest_head(replicas[1], "shared:1")[0] == 200, seconds=180)
    log = stop_pull_loop(puller)
    times = [float(line.split()[0]) for line in log.splitlines()]
    slowest = max(later - earlier for earlier, later in zip(times, times[1:], strict=False))
    print(f"pulls through the load balancer: {log.count(' ok')} ok, {log.count(' failed')} failed,"
          f" slowest {slowest:.2f}s")
    assert log.count(" ok") > 20 and " failed" not in log, "no pull through the load balancer fails"
    assert slowest < 3.5, "no pull waits on the vanished host until the client gives up (5 s)"
    wait_for(lambda: _balanced(lb) == {"r0": "UP", "r1": "UP"}, seconds=60)
    assert cluster_deploy().changes() == []


def test_status_shows_a_stopped_replica_down_at_the_load_balancer_and_stopped_on_its_host(cluster):
    replicas, lb = cluster
    names = [f"r{index} {name}:5000" for index, name in enumerate(HOSTS)]
    replicas[1].host.check_output(f"docker stop {replicas[1].data.registry_container}")
    try:
        wait_for(lambda: status(inventory=CLUSTER)[LB]["replicas"][names[1]] == "DOWN", seconds=30)
        found = status(inventory=CLUSTER)
        assert found[LB]["replicas"] == {names[0]: "UP", names[1]: "DOWN"}
        assert _balanced(lb) == {"r0": "UP", "r1": "DOWN"}, "as HAProxy's own stats page has it"
        assert _exported(lb) == {"r0": "UP", "r1": "DOWN"}, "as its Prometheus exporter has it"
        assert found[HOSTS[1]]["registry"]["state"] == "exited" and found[HOSTS[0]]["registry"]["state"] == "running"
        assert "load balancer" in found[LB]["roles"] and "registry" not in found[LB]["roles"]
        assert found[LB]["certificate"]["days_left"] > 0
    finally:
        assert cluster_deploy().returncode == 0
    wait_for(lambda: status(inventory=CLUSTER)[LB]["replicas"] == {names[0]: "UP", names[1]: "UP"}, seconds=30)


def test_a_replica_left_out_of_the_inventory_leaves_the_load_balancer(cluster):
    _, lb = cluster
    # What the running HAProxy balances over (its stats), and to which address each server goes.
    serving = ("curl -s '127.0.0.1:8404/;csv' | cut -d, -f1,2 | grep -c '^replicas,r'"
               " && grep -o 'server r[0-9]* [^ ]*' /etc/haproxy/haproxy.cfg | cut -d' ' -f3")
    assert lb.host.check_output(serving).split() == ["2", f"{HOSTS[0]}:5000", f"{HOSTS[1]}:5000"]
    os.environ["SANDBOX_CLUSTER_HOSTS"] = f"{HOSTS[0]},{LB}"
    try:
        run = cluster_deploy("--limit", LB)
    finally:
        os.environ["SANDBOX_CLUSTER_HOSTS"] = ",".join([*HOSTS, LB])
    assert run.returncode == 0, run.why()
    assert lb.host.check_output(serving).split() == ["1", f"{HOSTS[0]}:5000"]
    assert manifest_head(lb, "via-lb:1")[0] == 200
    assert cluster_deploy().returncode == 0
    assert lb.host.check_output(serving).split() == ["2", f"{HOSTS[0]}:5000", f"{HOSTS[1]}:5000"]


def test_a_second_run_changes_nothing_and_prints_no_store_secret(replicas):
    run = cluster_deploy("-v")
    assert run.returncode == 0 and run.changes() == [], run.changed()
    assert SECRET_KEY_FILE.read_text().strip() not in run.stdout + run.stderr


def test_a_missing_bucket_is_refused_and_the_replicas_keep_serving(replicas):
    first, _ = replicas
    before = first.container(first.data.registry_container)["Id"]
    run = cluster_deploy("--data", "registry_s3_bucket=no-such-bucket")
    assert run.returncode != 0
    assert "the bucket no-such-bucket does not exist at" in run.stderr and "nothing was changed" in run.stderr
    assert first.container(first.data.registry_container)["Id"] == before
    assert manifest_head(first, "shared:1")[0] == 200


def test_pointing_a_replica_back_at_an_empty_disk_is_refused(replicas):
    first, _ = replicas
    before = first.container(first.data.registry_container)["Id"]
    run = cluster_deploy("--data", "registry_storage=volume")
    assert run.returncode != 0
    assert "the registry's data is in its S3 bucket, and this run would point it at volume:registry-vol" in run.stderr
    assert first.container(first.data.registry_container)["Id"] == before
    assert manifest_head(first, "shared:1")[0] == 200


def test_retention_across_replicas_decides_as_on_a_volume_and_deletes_under_pulls_through_the_load_balancer(cluster):
    """The same tags and rules as test_retention.py's on a volume: the same decision, from the bucket (push
    times from its objects' own times); applied under a pull loop through the load balancer, inside the
    window every replica refuses uploads; the deleted tag's own layer gone from the bucket as the object
    store lists it, every kept tag pulling."""
    replicas, lb = cluster
    first, puller = replicas
    push_retention_tags(first)
    rules = ("--data", f"registry_retention_rules={RETENTION_RULES}")
    dry = cluster_deploy(*rules, file="retention.py")
    assert dry.returncode == 0, dry.why()
    assert RETENTION_DECISION in dry.stderr and "keep: delete v2" in dry.stderr
    assert "dry run: 1 manifests would be deleted" in dry.stderr and dry.changes() == []
    kept = {tag: manifest(lb, "keep", tag) for tag in ("latest", "v1", "v3", "v4", "stable")}
    v2_digest, v2_layers = manifest(lb, "keep", "v2")
    (unique,) = v2_layers - set().union(*(layers for _, layers in kept.values()))
    start_pull_loop(puller, "keep", "latest", sorted(kept["latest"][1])[0], url=LB_URL)
    run = cluster_deploy(*rules, "--data", "registry_retention_apply=True", file="retention.py")
    log = stop_pull_loop(puller)
    assert run.returncode == 0, run.why()
    assert f"deleted keep@{v2_digest} (tags v2)" in run.stderr and "every replica refuses uploads (405)" in run.stderr
    assert SECRET_KEY_FILE.read_text().strip() not in dry.stderr + run.stdout + run.stderr
    assert log.count(" ok") > 10 and " failed" not in log, "no pull through the load balancer fails"
    assert tags_of(lb, "keep") == ["latest", "stable", "v1", "v3", "v4"]
    stored = stored_keys()
    assert blob_key(unique) not in stored, "the deleted tag's own layer is collected"
    for tag, (digest, layers) in kept.items():
        assert manifest(lb, "keep", tag)[0] == digest and {blob_key(layer) for layer in layers} <= stored
        pull_back(first, f"keep:{tag}")
    assert upload_status(puller, LB_URL) == "202"


def killed_at(replicas, match: str, *args, file: str, command: str = "curl", everywhere=False):
    """Run `file` across the replicas and kill it, here and on the host, once its shared step's request to the
    object store (curl, or `command`) whose arguments match the glob `match` is held (`everywhere`: once every
    replica's step is, each killed there); the replica that ran it."""
    pausing = PAUSING.format(command=command, match=match)
    for replica in replicas:  # whichever pyinfra's run-once picks runs the shared step
        replica.host.check_output(f"cat > /usr/local/bin/{command} <<'EOF'\n{pausing}EOF\n"
                                  f"chmod +x /usr/local/bin/{command} && rm -f /tmp/chore.paused /tmp/chore.release")
    try:
        run = start_deploy(*args, inventory=CLUSTER, file=file)
        try:
            held = paused_collector(replicas)
            if everywhere:
                wait_for(lambda: all(replica.host.run("test -e /tmp/chore.paused").rc == 0 for replica in replicas))
        finally:
            run.kill()
            run.communicate()
        for target in replicas if everywhere else [held]:
            target.host.run("pkill -KILL -f '^/bin/sh /usr/local/sbin/registry-maintenance'")
            target.host.run(f"pkill -KILL -f '^/bin/sh /usr/local/bin/{command}'")
    finally:
        for replica in replicas:
            replica.host.check_output(f"rm -f /usr/local/bin/{command}; touch /tmp/chore.release")
    return held


def test_retention_across_replicas_killed_between_a_manifest_and_its_tags_is_healed_and_finished(cluster):
    """Killed (the run here and the chore on the host) after the doomed manifest's revision link went and
    before its tag did: every replica is left read-only and the tag still listed; the next deploy makes them
    writable, and the next retention run decides the tag again and finishes, its own layer collected."""
    replicas, lb = cluster
    push_retention_tags(replicas[0])
    kept = {tag: manifest(lb, "keep", tag) for tag in ("latest", "v1", "v3", "v4", "stable")}
    v2_digest, v2_layers = manifest(lb, "keep", "v2")
    (unique,) = v2_layers - set().union(*(layers for _, layers in kept.values()))
    apply = ("--data", f"registry_retention_rules={RETENTION_RULES}", "--data", "registry_retention_apply=True")
    killed_at(replicas, "X?DELETE?*_manifests/tags/", *apply, file="retention.py")
    assert [upload_status(replica) for replica in replicas] == ["405", "405"], "left read-only"
    assert "v2" in tags_of(lb, "keep") and manifest_head(lb, f"keep@{v2_digest}")[0] == 404
    healed = cluster_deploy()
    assert healed.returncode == 0, healed.why()
    assert [upload_status(replica) for replica in replicas] == ["202", "202"]
    finished = cluster_deploy(*apply, file="retention.py")
    assert finished.returncode == 0, finished.why()
    assert f"deleted keep@{v2_digest} (tags v2)" in finished.stderr
    assert tags_of(lb, "keep") == ["latest", "stable", "v1", "v3", "v4"]
    assert blob_key(unique) not in stored_keys(), "the deleted tag's own layer is collected"
    for tag, (digest, _) in kept.items():
        assert manifest(lb, "keep", tag)[0] == digest
        pull_back(replicas[0], f"keep:{tag}")


def _every_tag(lb) -> dict[str, str]:
    """repository:tag -> digest of every tag, as the load balancer answers."""
    found = {}
    for repository in catalog(lb.registry):
        for tag in tags_of(lb, repository):
            found[f"{repository}:{tag}"] = manifest_head(lb, f"{repository}:{tag}", accept=ACCEPT_ANY)[1]
    return found


def _archives() -> set[Path]:
    return set((SLOT_DIR / "backups").glob("*.tar"))


def test_a_backup_of_the_cluster_killed_half_way_leaves_every_replica_writable_and_no_archive(cluster):
    """Killed while it copies the blobs (the run here and the chore on the host): the window is over, so
    every replica is writable; nothing that looks like an archive is left, here or on the host; the lock
    goes with the run's connection."""
    replicas, _ = cluster
    before = _archives()
    copier = killed_at(replicas, BLOB_COPY, file="backup.py")
    assert [upload_status(copier, f"https://{name}:5000") for name in HOSTS] == ["202", "202"]
    assert not copier.host.run(f"ls {REMOTE_DIR}/*.tar").stdout, "no archive that looks complete on the host"
    assert _archives() == before
    for replica in replicas:
        wait_for(lambda r=replica: "no chore is running" in r.host.check_output(f"{MAINTENANCE_SCRIPT} status"),
                 seconds=30)


def test_a_backup_of_the_cluster_restores_into_its_emptied_bucket_with_every_digest(cluster, tmp_path):
    """backup.py across the replicas, the bucket emptied with the object store's own tools, restore.py killed
    (here and on the host) once it wrote some tags and not shared:1's, then healed by a deploy and run
    again: every tag back with its digest through the load balancer, and pulling, a multi-arch image's every
    platform too."""
    replicas, lb = cluster
    push_unique(replicas[0], "backed-up:1")
    push_multiarch(lb.registry, "multi-backed-up:1", tmp_path)
    tags = _every_tag(lb)
    assert {"backed-up:1", "multi-backed-up:1", "shared:1"} <= tags.keys()
    start_pull_loop(replicas[1], "shared", "1", sorted(manifest(lb, "shared", "1")[1])[0], url=LB_URL)
    before = _archives()
    run = cluster_deploy(file="backup.py")
    log = stop_pull_loop(replicas[1])
    assert run.returncode == 0, run.why()
    assert "every replica refuses uploads (405)" in run.stderr and " failed" not in log
    assert SECRET_KEY_FILE.read_text().strip() not in run.stdout + run.stderr, "the store's key stays on the hosts"
    [archive] = _archives() - before
    manifest_file = json.loads(archive.with_suffix(".json").read_text())
    assert {f"{t['repository']}:{t['tag']}": t["digest"] for t in manifest_file["tags"]} == tags
    store = docker.from_env().containers.get(STORE)
    assert store.exec_run(["radosgw-admin", "bucket", "rm", "--bucket=registry", "--purge-objects"]).exit_code == 0
    sandbox("up", "--first", "3", "--hosts", "6", "--s3")  # the bucket made again, empty
    assert stored_keys() == set()
    named = ("--data", f"registry_backup_archive={archive}")
    killed_at(replicas, "-T*repositories/shared/_manifests/tags/1/current/link", *named,
                            file="restore.py")
    written = {key for key in stored_keys() if key.endswith("/current/link")}
    assert f"{ROOT_KEY}/repositories/backed-up/_manifests/tags/1/current/link" in written
    assert f"{ROOT_KEY}/repositories/shared/_manifests/tags/1/current/link" not in written
    assert [upload_status(replica) for replica in replicas] == ["405", "405"], "left read-only"
    healed = cluster_deploy()
    assert healed.returncode == 0, healed.why()
    restored = cluster_deploy(*named, file="restore.py")
    assert "of the archive's tags and no other: finishing a restore of it that was interrupted" in restored.stderr
    assert restored.returncode == 0, restored.why()
    assert f"restored {len(tags)} tags; every one answers with its digest" in restored.stderr
    assert SECRET_KEY_FILE.read_text().strip() not in restored.stdout + restored.stderr
    assert _every_tag(lb) == tags
    pull_back(replicas[1], "shared:1")
    whole = pull_every_platform(lb.registry, "multi-backed-up:1", tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert [upload_status(replicas[0], f"https://{name}:5000") for name in HOSTS] == ["202", "202"]
    push_unique(replicas[0], "after-restore:1")
    refused = cluster_deploy(*named, file="restore.py")
    assert refused.returncode != 0 and "already holds tags that are not this archive's" in refused.stderr
    assert _every_tag(lb) == {**tags, "after-restore:1": manifest_head(lb, "after-restore:1", accept=ACCEPT_ANY)[1]}


def test_gc_on_one_replica_alone_is_refused(replicas):
    done = replicas[0].host.run(f"{MAINTENANCE_SCRIPT} gc")
    assert done.rc != 0 and "on S3 storage gc needs every replica read-only: run it across replicas" in done.stderr


def stored_keys() -> set[str]:
    """Every object in the bucket, as the object store itself lists it."""
    listed = docker.from_env().containers.get(STORE).exec_run(
        ["radosgw-admin", "bucket", "list", "--bucket=registry", "--max-entries=100000"], stderr=False)
    assert listed.exit_code == 0
    return {entry["name"] for entry in json.loads(listed.output)}


# Where the registry keeps its tree in the bucket.
ROOT_KEY = "docker/registry/v2"


def blob_key(digest: str) -> str:
    hex_ = digest.split(":")[1]
    return f"{ROOT_KEY}/blobs/sha256/{hex_[:2]}/{hex_}/data"


def paused_collector(replicas):
    """The replica that runs a chore's shared step (pyinfra's run-once picks it), once that step is paused."""
    def paused():
        return [replica for replica in replicas if replica.host.run("test -e /tmp/chore.paused").rc == 0]
    wait_for(paused, seconds=120)
    return paused()[0]


def test_gc_across_replicas_fails_no_pull_through_the_load_balancer_and_frees_only_unique_blobs(cluster):
    replicas, lb = cluster
    puller = replicas[1]
    push_unique(replicas[0], "gc-kept:1")
    push_unique(replicas[0], "gc-gone:1")
    _, kept = manifest(lb, "gc-kept", "1")
    gone_digest, gone = manifest(lb, "gc-gone", "1")
    assert session().delete(f"{lb.registry}/v2/gc-gone/manifests/{gone_digest}", timeout=10).status_code == 202
    assert {blob_key(layer) for layer in kept | gone} <= stored_keys()
    start_pull_loop(puller, "gc-kept", "1", sorted(kept - gone)[0], url=LB_URL)
    for replica in replicas:
        pause_collections(replica, S3_COLLECTOR)
    try:
        run = start_deploy(inventory=CLUSTER, file="gc.py")
        collector = paused_collector(replicas)
        during = [upload_status(puller, LB_URL), *(upload_status(puller, f"https://{name}:5000") for name in HOSTS)]
        release_chore(collector)
        stdout, stderr = run.communicate(timeout=300)
    finally:
        for replica in replicas:
            resume_collections(replica, S3_COLLECTOR)
    log = stop_pull_loop(puller)
    print(f"pulls through the load balancer: {log.count(' ok')} ok, {log.count(' failed')} failed;"
          f" outages (s): {pull_outages(log)}")
    assert run.returncode == 0, stderr[-3000:]
    assert "every replica refuses uploads (405)" in stdout + stderr
    assert SECRET_KEY_FILE.read_text().strip() not in stdout + stderr, "the chores' S3 keys stay on the hosts"
    assert during == ["405"] * 3, "the load balancer and every replica refuse uploads while it collects"
    assert log.count(" ok") > 20 and " failed" not in log, "no pull through the load balancer fails"
    assert upload_status(puller, LB_URL) == "202"
    stored = stored_keys()
    assert {blob_key(layer) for layer in kept} <= stored, "the kept tag's layers, shared ones too, stay"
    assert not {blob_key(layer) for layer in gone - kept} & stored, "the deleted tag's own layer is freed"
    pull_back(replicas[0], "gc-kept:1")


def test_a_gc_across_replicas_killed_while_it_collects_is_healed_by_the_next_run(cluster):
    replicas, lb = cluster
    for replica in replicas:
        pause_collections(replica, S3_COLLECTOR)
    try:
        run = start_deploy(inventory=CLUSTER, file="gc.py")
        collector = paused_collector(replicas)
        run.kill()
        run.communicate()
        # The collection the killed run left behind still holds the lock: no deploy overtakes it.
        assert "running: registry-maintenance hold" in collector.host.check_output(f"{MAINTENANCE_SCRIPT} status")
    finally:
        for replica in replicas:
            resume_collections(replica, S3_COLLECTOR)
    assert [upload_status(replica) for replica in replicas] == ["405", "405"], "left read-only"
    healed = cluster_deploy()
    assert healed.returncode == 0, healed.why()
    assert healed.stderr.count("a maintenance chore left the registry read-only") + healed.stderr.count(
        "a maintenance chore is running, waiting for it") == len(replicas)
    assert [upload_status(replica) for replica in replicas] == ["202", "202"]
    assert [upload_status(replicas[0], LB_URL)] == ["202"]
    assert all("writable" in replica.host.check_output(f"{MAINTENANCE_SCRIPT} status") for replica in replicas)
    assert cluster_deploy().changes() == []


def _blob_upload(base: str, repository: str, first_part: bytes):
    """Start an upload of a blob to `repository` at `base` and send its first part; the finish(rest) that
    completes it (the blob is first_part + rest) and returns its digest."""
    client = session()
    started = client.post(f"{base}/v2/{repository}/blobs/uploads/", timeout=10)
    assert started.status_code == 202, started.text
    sent = client.patch(_absolute(base, started.headers["Location"]), data=first_part, timeout=10,
                        headers={"Content-Type": "application/octet-stream"})
    assert sent.status_code == 202, sent.text

    def finish(rest: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(first_part + rest).hexdigest()
        done = client.put(_absolute(base, sent.headers["Location"]), params={"digest": digest}, data=rest,
                          timeout=10, headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        return digest
    return finish


def _absolute(base: str, location: str) -> str:
    return location if location.startswith("http") else base + location


def _push_manifest(base: str, reference: str, config: tuple[str, int], layers: list[tuple[str, int]]) -> str:
    """PUT an image manifest of `config` and `layers` ((digest, size) each) as repository:tag; its digest."""
    repository, tag = reference.split(":")
    body = json.dumps({"schemaVersion": 2, "mediaType": ACCEPT,
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                  "digest": config[0], "size": config[1]},
                       "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                   "digest": digest, "size": size} for digest, size in layers]})
    put = session().put(f"{base}/v2/{repository}/manifests/{tag}", data=body, timeout=10,
                        headers={"Content-Type": ACCEPT})
    assert put.status_code == 201, put.text
    return put.headers["Docker-Content-Digest"]


# The first step after the mark: a replica switched read-only (its config pointed at readonly.yml).
FIRST_SWITCH = ("ln", "readonly.yml")


def gc_held_after_its_mark(replicas, meanwhile, *args) -> str:
    """Run gc.py across the replicas (with `args`), hold it once it has marked, before any replica is switched
    read-only, run meanwhile() there, and let it finish; its output."""
    for replica in replicas:
        pause_collections(replica, FIRST_SWITCH)
    try:
        run = start_deploy(*args, inventory=CLUSTER, file="gc.py")
        paused_collector(replicas)
        meanwhile()
        for replica in replicas:
            release_chore(replica)
        _, stderr = run.communicate(timeout=300)
    finally:
        for replica in replicas:
            resume_collections(replica, FIRST_SWITCH)
    assert run.returncode == 0, stderr[-3000:]
    return stderr


def test_gc_across_replicas_keeps_what_was_pushed_while_it_marked_and_frees_only_garbage(cluster):
    """The collector marks the bucket with every replica writable, then reads, inside the window, only what
    changed since. Each race, made to happen between the mark and the window (the run held just before the
    first replica is switched read-only): an image whose manifest was deleted before the GC (its blobs
    garbage when marked) pushed again under another name; an upload started before the GC, finished and
    given a manifest; a new image. All are kept, whole; garbage that stayed garbage is freed, its layer
    links with it; a replica that had the freed layer in its cache answers 404 for it after."""
    replicas, lb = cluster
    first, second = replicas
    push_unique(first, "race-gone:1")
    gone_digest, gone_layers = manifest(lb, "race-gone", "1")
    assert session().delete(f"{lb.registry}/v2/race-gone/manifests/{gone_digest}", timeout=10).status_code == 202
    push_unique(first, "race-dropped:1")
    dropped_digest, dropped_layers = manifest(lb, "race-dropped", "1")
    (dropped,) = dropped_layers - gone_layers
    assert session().delete(f"{lb.registry}/v2/race-dropped/manifests/{dropped_digest}",
                            timeout=10).status_code == 202
    cached = f"{second.registry}/v2/race-dropped/blobs/{dropped}"
    assert session().head(cached, timeout=10).status_code == 200, "the second replica has it in its cache now"
    finish = _blob_upload(lb.registry, "race-flight", os.urandom(50_000))
    pushed = {}

    def while_it_marked():
        assert [upload_status(replica) for replica in replicas] == ["202", "202"], "it marks them writable"
        first.host.check_output("docker tag localhost:5000/race-gone:1 localhost:5000/race-reuse:1"
                                " && docker push -q localhost:5000/race-reuse:1")
        pushed["layer"] = finish(os.urandom(50_000))
        config = os.urandom(1000)
        pushed["config"] = _blob_upload(lb.registry, "race-flight", config[:500])(config[500:])
        pushed["manifest"] = _push_manifest(lb.registry, "race-flight:1", (pushed["config"], 1000),
                                            [(pushed["layer"], 100_000)])
        push_unique(first, "race-new:1")
    stderr = gc_held_after_its_mark(replicas, while_it_marked)
    stored = stored_keys()
    assert {blob_key(layer) for layer in gone_layers} <= stored, "blobs garbage when marked, pushed again: kept"
    assert blob_key(gone_digest) in stored
    assert {blob_key(digest) for digest in pushed.values()} <= stored
    assert blob_key(dropped) not in stored and blob_key(dropped_digest) not in stored, "garbage is freed"
    assert not [key for key in stored if f"/race-dropped/_layers/sha256/{dropped.split(':')[1]}/" in key], \
        "its layer link with it"
    assert session().head(cached, timeout=10).status_code == 404, "no replica answers from a stale cache"
    pull_back(first, "race-reuse:1")
    pull_back(first, "race-new:1")
    assert session().get(f"{lb.registry}/v2/race-flight/blobs/{pushed['layer']}", timeout=10).status_code == 200
    read = re.search(r"in the window: (\d+) manifests and \d+ tags new or changed since the mark were read", stderr)
    assert read and int(read.group(1)) >= 3, "the window read the manifests pushed while it marked"


@pytest.mark.parametrize("step", ["mark", "sweep"])
def test_a_gc_across_replicas_killed_while_it_marks_or_sweeps_is_finished_by_the_next_run(cluster, step):
    """Killed (the run here and the chore on the host) while it marks, every replica still writable; or half
    way through its sweep, the garbage's blobs removed and their layer links not yet, every replica read-only.
    The next deploy leaves every replica writable; the next GC frees what is left, the layer links too, and
    keeps every image."""
    replicas, lb = cluster
    first, second = replicas
    push_unique(first, f"killed-{step}-kept:1")
    push_unique(first, f"killed-{step}-gone:1")
    gone_digest, gone_layers = manifest(lb, f"killed-{step}-gone", "1")
    _, kept_layers = manifest(lb, f"killed-{step}-kept", "1")
    (unique,) = gone_layers - kept_layers
    assert session().delete(f"{lb.registry}/v2/killed-{step}-gone/manifests/{gone_digest}",
                            timeout=10).status_code == 202
    link = f"/killed-{step}-gone/_layers/sha256/{unique.split(':')[1]}/link"
    match = "gc-mark" if step == "mark" else "gc-sweep*doomed-layers"
    killed_at(replicas, match, file="gc.py")
    stored = stored_keys()
    if step == "mark":
        assert [upload_status(replica) for replica in replicas] == ["202", "202"], "never switched"
        assert blob_key(unique) in stored
    else:
        assert [upload_status(replica) for replica in replicas] == ["405", "405"], "left read-only"
        assert blob_key(unique) not in stored and [key for key in stored if key.endswith(link)], \
            "killed between the blobs and their layer links"
    healed = cluster_deploy()
    assert healed.returncode == 0, healed.why()
    assert [upload_status(replica) for replica in replicas] == ["202", "202"]
    finished = cluster_deploy(file="gc.py")
    assert finished.returncode == 0, finished.why()
    stored = stored_keys()
    assert blob_key(unique) not in stored and not [key for key in stored if key.endswith(link)]
    assert {blob_key(layer) for layer in kept_layers} <= stored
    pull_back(first, f"killed-{step}-kept:1")


def test_a_gc_across_replicas_killed_while_every_replica_switches_is_healed_by_the_next_deploy(cluster):
    """Killed (the run here and the switch on every replica) as the replicas switch to read-only all at once,
    each holding its read-only mark and about to point its configuration at readonly.yml: the next deploy
    leaves every replica writable with no twin left, and the next GC collects."""
    replicas, lb = cluster
    push_unique(replicas[0], "killed-switch-gone:1")
    gone_digest, gone_layers = manifest(lb, "killed-switch-gone", "1")
    (unique,) = gone_layers - manifest(lb, "shared", "1")[1]
    assert session().delete(f"{lb.registry}/v2/killed-switch-gone/manifests/{gone_digest}",
                            timeout=10).status_code == 202
    killed_at(replicas, FIRST_SWITCH[1], file="gc.py", command=FIRST_SWITCH[0], everywhere=True)
    assert all(replica.host.file(READ_ONLY_MARK).exists for replica in replicas), "each switch had begun"
    healed = cluster_deploy()
    assert healed.returncode == 0, healed.why()
    assert [upload_status(replica) for replica in replicas] == ["202", "202"]
    assert [replica.host.run("docker container inspect registry-readonly").rc for replica in replicas] == [1, 1]
    finished = cluster_deploy(file="gc.py")
    assert finished.returncode == 0, finished.why()
    assert blob_key(unique) not in stored_keys(), "collected"
    assert cluster_deploy().changes() == []


def _scheduler_holds(target) -> str:
    """What `target` holds of the scheduler: its authorized key lines, its files and units."""
    return target.host.run("grep -h ' registry-scheduler@' /root/.ssh/authorized_keys;"
                           " ls -d /etc/registry-scheduler /opt/registry-scheduler /etc/systemd/system/registry-sched*"
                           " 2>/dev/null").stdout


# A scheduled run's pyinfra process as ps shows it: its virtualenv's Python (by the directory the link names)
# running pyinfra; its flock, waiting for its turn, starts with /usr/bin/flock.
SCHEDULER_PYTHON = "/opt/registry-scheduler/venv-[^ ]*/bin/python[^ ]* "
# Scheduled retention, its rule for a repository of its own.
RETAIN = ("--data", 'registry_retention_rules=[{"repositories": "scheduled-keep", "keep_last": 1}]',
          "--data", "registry_retention_schedule=*-*-* 04:00:00")


def test_gc_and_retention_scheduled_on_the_cluster_run_from_the_scheduler_and_a_gc_killed_mid_run_is_healed(cluster):
    """The scheduler (here the load balancer's host) runs gc.py across the replicas from its timer, with its
    own key, which each replica authorizes restricted; killed with SIGKILL while the replicas are read-only,
    the run is shown failed and leaves them read-only; the next run switches them back and collects; its
    scheduled retention applies the rules across the replicas; a deploy without a schedule leaves no key and
    no file of the scheduler anywhere."""
    replicas, lb = cluster
    puller = replicas[1]
    push_unique(replicas[0], "scheduled-gone:1")
    gone_digest, gone = manifest(lb, "scheduled-gone", "1")
    assert session().delete(f"{lb.registry}/v2/scheduled-gone/manifests/{gone_digest}", timeout=10).status_code == 202
    push_unique(replicas[0], "scheduled-keep:1")
    time.sleep(1.1)  # push times are kept to the second
    push_unique(replicas[0], "scheduled-keep:2")
    installed = cluster_deploy("--data", "registry_gc_schedule=Sun *-*-* 03:00:00", *RETAIN)
    assert installed.returncode == 0, installed.why()
    secret = SECRET_KEY_FILE.read_text().strip()
    assert secret not in installed.stdout + installed.stderr
    for target in [*replicas, lb]:
        assert re.fullmatch(rf"restrict ssh-ed25519 \S+ registry-scheduler@{LB}\n", _scheduler_holds(target).split(
            "/etc/")[0]), "every host the scheduler reaches authorizes its key, restricted (no forwarding, no pty)"
    assert [replica.host.run("ls /etc/systemd/system/registry-gc.*").rc for replica in replicas] == [2, 2], \
        "no replica has a timer of its own, which would collect while the others take uploads"
    assert lb.host.run("test -e /etc/registry-scheduler/secrets/ca.key || ls /etc/registry-scheduler/secrets/passwords"
                       " | grep -vx registry-deploy").rc == 1, "no CA key and no password but the deploy's own"
    try:
        for replica in replicas:
            pause_collections(replica, S3_COLLECTOR)
        # Due seconds from now (host time), once the deploy below has armed it: the timer starts the run.
        due = int(lb.host.check_output("date -u +%s")) + 20
        soon = ("--data", f"registry_gc_schedule=*-*-* {datetime.fromtimestamp(due, UTC):%H:%M:%S} UTC", *RETAIN)
        rescheduled = cluster_deploy(*soon)
        assert rescheduled.returncode == 0, rescheduled.why()
        paused_collector(replicas)
        assert status(*soon, inventory=CLUSTER)[LB]["scheduled"][0]["running"] is True
        assert upload_status(puller, LB_URL) == "405", "the scheduled GC holds the replicas read-only"
        # Retention due now too waits for its turn, pyinfra not even started (it would take some replicas'
        # locks while the GC holds others').
        lb.host.check_output("systemctl start --no-block registry-scheduled-retention.service; sleep 2")
        assert lb.host.run(f"pgrep -f '^{SCHEDULER_PYTHON}.*/pyinfra .* gc.py'").rc == 0, "the pattern finds a run"
        assert lb.host.run(f"pgrep -f '^{SCHEDULER_PYTHON}.*/pyinfra .* retention.py'").rc == 1
        assert lb.host.run("systemctl is-active registry-scheduled-retention.service").stdout.strip() == "activating"
        lb.host.check_output("systemctl stop registry-scheduled-retention.service")
        lb.host.check_output("systemctl kill --signal=KILL registry-scheduled-gc.service")
        wait_for(lambda: lb.host.run("systemctl is-active registry-scheduled-gc.service").stdout.strip() == "failed")
    finally:
        for replica in replicas:
            resume_collections(replica, S3_COLLECTOR)
    killed = status(*soon, inventory=CLUSTER)[LB]["scheduled"][0]
    assert killed["result"] == "signal" and killed["started"] >= due, killed
    assert [upload_status(replica) for replica in replicas] == ["405", "405"], "the killed run left them read-only"
    healed_at = lb.host.check_output("date +%s")
    lb.host.check_output("systemctl start registry-scheduled-gc.service")  # the next run, as its timer starts it
    journal = lb.host.check_output(f"journalctl -u registry-scheduled-gc.service --since @{healed_at} -o cat")
    assert "every replica refuses uploads (405)" in journal and secret not in journal
    assert status(*soon, inventory=CLUSTER)[LB]["scheduled"][0]["result"] == "success"
    assert [upload_status(replica) for replica in replicas] == ["202", "202"]
    assert upload_status(puller, LB_URL) == "202"
    (unique,) = gone - manifest(lb, "shared", "1")[1]
    assert blob_key(unique) not in stored_keys(), "the deleted manifest's own layer is collected"
    retained_at = lb.host.check_output("date +%s")
    lb.host.check_output("systemctl start registry-scheduled-retention.service")
    journal = lb.host.check_output(f"journalctl -u registry-scheduled-retention.service --since @{retained_at} -o cat")
    assert "scheduled-keep: delete 1" in journal and "every replica refuses uploads (405)" in journal
    assert tags_of(lb, "scheduled-keep") == ["2"]
    assert [run["result"] for run in status(*soon, inventory=CLUSTER)[LB]["scheduled"]] == ["success", "success"]
    removed = cluster_deploy()
    assert removed.returncode == 0, removed.why()
    assert [_scheduler_holds(target) for target in [*replicas, lb]] == ["", "", ""]
    assert cluster_deploy().changes() == []


def test_delete_repos_across_replicas_is_gone_from_every_catalog_and_keeps_the_nested_one(cluster):
    replicas, lb = cluster
    push_unique(replicas[0], "team:1")
    push_unique(replicas[0], "team/app:1")
    run = cluster_deploy("--data", "repositories=team", file="delete_repos.py")
    assert run.returncode == 0, run.why()
    assert "removed repository team" in run.stdout + run.stderr
    for target in [*replicas, lb]:
        listed = catalog(target.registry)
        assert "team" not in listed and "team/app" in listed, (target.name, listed)
    assert manifest_head(lb, "team/app:1")[0] == 200


def test_prune_across_replicas_removes_a_repository_left_without_tags(cluster):
    replicas, lb = cluster
    push_unique(replicas[0], "emptied:1")
    digest = manifest_head(lb, "emptied:1")[1]
    assert session().delete(f"{lb.registry}/v2/emptied/manifests/{digest}", timeout=10).status_code == 202
    assert "emptied" in catalog(lb.registry)
    run = cluster_deploy(file="prune_repos.py")
    assert run.returncode == 0, run.why()
    assert "pruned empty repository emptied" in run.stdout + run.stderr
    assert all("emptied" not in catalog(target.registry) for target in [*replicas, lb])


def test_the_registry_recovers_when_the_gateway_restarts_without_a_redeploy(replicas):
    first, _ = replicas
    store = docker.from_env().containers.get(STORE)
    store.exec_run(["pkill", "-x", "radosgw"])
    wait_for(lambda: manifest_head(first, "shared:1")[0] != 200)
    sandbox("up", "--first", "3", "--hosts", "5", "--s3")  # starts radosgw again, as its unit would
    wait_for(lambda: manifest_head(first, "shared:1")[0] == 200)
    pull_back(first, "shared:1")


def test_a_replica_left_drained_is_put_back_by_the_next_run(cluster):
    _, lb = cluster
    admin = "socat stdio /run/haproxy/admin.sock"
    states = f"echo 'show stat' | {admin} | awk -F, '$1 == \"replicas\" && $2 ~ /^r/ {{ print $18 }}'"
    lb.host.check_output(f"echo 'set server replicas/r1 state drain' | {admin}")
    assert lb.host.check_output(states).split() == ["UP", "DRAIN"]
    run = cluster_deploy()
    assert ("Load balancer | No replica is left drained", LB) in run.changed()
    wait_for(lambda: lb.host.check_output(states).split() == ["UP", "UP"], seconds=10)
    assert cluster_deploy().changes() == []


def test_the_ui_reads_the_registry_through_the_load_balancer(cluster):
    replicas, _ = cluster
    second = replicas[1]
    second.host.check_output(f"docker stop {second.data.registry_container}")
    try:
        assert "via-lb" in catalog(second.ui), "its own registry is stopped: the catalog came through the balancer"
    finally:
        assert cluster_deploy().returncode == 0


def test_replicas_upgrade_to_registry_3_one_at_a_time_and_no_pull_fails(cluster, tmp_path):
    replicas, lb = cluster
    puller = replicas[0]
    sandbox("images", "--registry3")
    pushed = push_multiarch(lb.registry, "multi:1", tmp_path)
    before = {reference: manifest_head(lb, reference) for reference in ("shared:1", "via-lb:1")}
    _, layers = manifest(lb, "shared", "1")
    start_pull_loop(puller, "shared", "1", sorted(layers)[0], url=LB_URL)
    run = cluster_deploy("-v", *ON_3)
    log = stop_pull_loop(puller)
    print(f"pulls through the load balancer during the upgrade: {log.count(' ok')} ok, {log.count(' failed')} failed")
    assert run.returncode == 0 and not run.errors(), run.why()
    assert log.count(" ok") > 20 and " failed" not in log, "no pull through the load balancer fails"
    for replica in replicas:
        assert replica.container(replica.data.registry_container)["Config"]["Image"] == REGISTRY3_IMAGE
        answered = rf"\[{replica.name}\] every one of the \d+ tags answers with its digest from the new"
        assert re.search(answered, run.stderr)
    first, second = (datetime.fromisoformat(replica.container(replica.data.registry_container)["State"]["StartedAt"]
                                            [:26]) for replica in replicas)
    # pyinfra picks the order; the one started later waited for the other to be back in the balance.
    assert abs((second - first).total_seconds()) >= READMIT_SECONDS, "one replica at a time"
    assert {reference: manifest_head(lb, reference) for reference in before} == before
    for target in (*replicas, lb):
        whole = pull_every_platform(target.registry, "multi:1", tmp_path)
        assert whole.returncode == 0, (target.name, whole.stderr)
    for digest in pushed.platforms.values():
        assert pull_every_platform(lb.registry, f"multi@{digest}", tmp_path).returncode == 0
    second = cluster_deploy(*ON_3)
    assert second.returncode == 0 and second.results and second.changes() == []


def test_gc_of_untagged_manifests_across_replicas_on_3_keeps_every_platform(cluster, tmp_path):
    """Untagged manifests go, an image index's platforms stay; a manifest left untagged when marked and
    tagged again while it marked (the run held before the first replica's switch) stays too."""
    replicas, lb = cluster
    doomed = push_multiarch(lb.registry, "multi:doomed", tmp_path)
    assert session().delete(f"{lb.registry}/v2/multi/manifests/doomed", timeout=10).status_code == 202
    push_unique(replicas[0], "retagged:1")
    untagged, _ = manifest(lb, "retagged", "1")
    body = session().get(f"{lb.registry}/v2/retagged/manifests/{untagged}", headers={"Accept": ACCEPT},
                         timeout=10).content
    push_unique(replicas[0], "retagged:1")  # the tag moves on: the first manifest has none

    def tag_it_again():
        put = session().put(f"{lb.registry}/v2/retagged/manifests/back", data=body, timeout=10,
                            headers={"Content-Type": ACCEPT})
        assert put.status_code == 201, put.text
    stderr = gc_held_after_its_mark(replicas, tag_it_again, *ON_3, "--data", "registry_gc_delete_untagged=True")
    assert manifest(lb, "retagged", "back")[0] == untagged, "tagged while it marked: kept"
    pull_back(replicas[0], "retagged:back")
    assert "and 1 tags new or changed since the mark were read" in stderr
    for target in (*replicas, lb):
        whole = pull_every_platform(target.registry, "multi:1", tmp_path)
        assert whole.returncode == 0, (target.name, whole.stderr)
    for digest in (doomed.index, *doomed.platforms.values()):
        assert manifest_head(lb, f"multi@{digest}", accept=ACCEPT_ANY)[0] == 404, f"{digest} survived the collection"
    assert blob_key(doomed.blobs["arm64"][1]) not in stored_keys(), "its layers are gone from the bucket"


def test_a_bucket_with_a_quota_reports_what_its_blobs_leave_of_it(replicas):
    """The storage metrics on S3: the quota as the size, the quota less the blobs' bytes (as the bucket
    lists them) as what is available, for the same RegistryStorageFilling alert as a disk."""
    first, _ = replicas
    run = cluster_deploy(*ON_3, "--data", "registry_node_exporter=True", "--data", "registry_s3_quota_bytes=1000000000")
    assert run.returncode == 0, run.why()
    metrics = first.host.check_output(f"{MAINTENANCE_SCRIPT} metrics && cat {TEXTFILE_DIR}/{CHORE_METRICS}")
    stored = int(first.host.check_output(f"{MAINTENANCE_SCRIPT} stats").split()[-2])
    assert re.search(r"^registry_storage_size_bytes 1000000000$", metrics, re.M)
    assert re.search(rf"^registry_storage_available_bytes {1000000000 - stored}$", metrics, re.M)
