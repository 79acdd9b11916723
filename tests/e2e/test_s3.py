"""Registry replicas on one S3 bucket (the sandbox's real Ceph RGW) behind HAProxy: what one replica or
the load balancer takes, every replica serves; a stopped replica, or its whole host, costs no pull through
the load balancer and a run repairs it; a second run changes nothing; a missing bucket or an empty disk is
refused before anything changes; the gateway restarting heals without a redeploy; a bucket's quota is
reported as its size. On registry 3: test_s3_registry3.py. On a cluster of its own (the `cluster` fixture:
tests/e2e/conftest.py)."""

import os
import re
import time

import docker

from core.host_paths import CHORE_METRICS, MAINTENANCE_SCRIPT, TEXTFILE_DIR
from dev.operator import sandbox, status
from sandbox.object_store import NAME as STORE
from sandbox.object_store import SECRET_KEY_FILE
from tests.e2e.chores import (
    failed_pulls,
    start_pull_loop,
    stop_pull_loop,
)
from tests.e2e.cluster import (
    CLUSTER,
    HOSTS,
    LB,
    LB_URL,
    cluster_deploy,
)
from tests.e2e.conftest import (
    catalog,
    manifest,
    manifest_head,
    pull_back,
    wait_for,
)


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
    again, at whatever address it gets, the balancer sends it requests again with no deploy.

    One failure is allowed, and only of one kind: an answer the killed replica had begun sending (200) that the
    kill cut (curl 18 or 56), within a second of the kill. No balancer can send again an answer it has begun
    forwarding (HAProxy retries a request only while no answer has begun); docker retries such a layer."""
    replicas, lb = cluster
    puller = replicas[0]
    _, layers = manifest(lb, "shared", "1")
    assert _balanced(lb) == {"r0": "UP", "r1": "UP"}
    start_pull_loop(puller, "shared", "1", sorted(layers)[0], url=LB_URL)
    host = docker.from_env().containers.get(HOSTS[1])
    killed = time.time()
    host.kill()
    time.sleep(10)
    host.start()
    wait_for(lambda: manifest_head(replicas[1], "shared:1")[0] == 200, seconds=180)
    log = stop_pull_loop(puller)
    times = [float(line.split()[0]) for line in log.splitlines()]
    slowest = max(later - earlier for earlier, later in zip(times, times[1:], strict=False))
    print(f"pulls through the load balancer: {log.count(' ok')} ok, {log.count(' failed')} failed,"
          f" slowest {slowest:.2f}s")
    failed = failed_pulls(log)
    assert log.count(" ok") > 20 and all(code in (18, 56) and set(statuses) == {"200"} and 0 <= when - killed < 1
                                         for when, code, statuses in failed) and len(failed) <= 1, \
        f"no pull through the load balancer fails but one cut by the kill: {failed}"
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


def test_a_bucket_with_a_quota_reports_what_its_blobs_leave_of_it(replicas):
    """The storage metrics on S3: the quota as the size, the quota less the blobs' bytes (as the bucket
    lists them) as what is available, for the same RegistryStorageFilling alert as a disk."""
    first, _ = replicas
    run = cluster_deploy("--data", "registry_node_exporter=True", "--data", "registry_s3_quota_bytes=1000000000")
    assert run.returncode == 0, run.why()
    metrics = first.host.check_output(f"{MAINTENANCE_SCRIPT} metrics && cat {TEXTFILE_DIR}/{CHORE_METRICS}")
    stored = int(first.host.check_output(f"{MAINTENANCE_SCRIPT} stats").split()[-2])
    assert re.search(r"^registry_storage_size_bytes 1000000000$", metrics, re.M)
    assert re.search(rf"^registry_storage_available_bytes {1000000000 - stored}$", metrics, re.M)
