"""Registry replicas on one S3 bucket (the sandbox's real Ceph RGW) behind HAProxy: what one replica or
the load balancer takes, every replica serves; a stopped replica costs no pull through the load
balancer; a second run changes nothing; a missing bucket is refused before anything changes; the chores
refuse to collect on a shared store; the gateway restarting heals without a redeploy. Runs on hosts of its
own (replicas registry-sandbox-3 and -4, load balancer -5), made and removed here."""

import os

import docker
import pytest

from dev.operator import deploy, inventory_hosts, sandbox, ssh_host
from ops.data import public_urls
from sandbox.object_store import NAME as STORE
from sandbox.object_store import SECRET_KEY_FILE
from tests.e2e.chores import push_unique
from tests.e2e.conftest import Target, manifest_head, pull_back, push_hello, wait_for

CLUSTER = "inventory/sandbox_cluster.py"
HOSTS = ("registry-sandbox-3", "registry-sandbox-4")
LB = "registry-sandbox-5"


def cluster_deploy(*args, **options):
    return deploy(*args, inventory=CLUSTER, **options)


def _target(name, data) -> Target:
    return Target(name, data, ssh_host(data.ssh_port), *public_urls(name, data))


@pytest.fixture(scope="module")
def cluster(first_run):
    """(replicas, load balancer), deployed by inventory/sandbox_cluster.py on hosts of their own."""
    os.environ["SANDBOX_CLUSTER_HOSTS"] = ",".join([*HOSTS, LB])
    try:
        sandbox("up", "--hosts", "6", "--s3")
        run = cluster_deploy()
        assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
        found = dict(inventory_hosts(CLUSTER))
        yield [_target(name, found[name]) for name in HOSTS], _target(LB, found[LB])
    finally:
        del os.environ["SANDBOX_CLUSTER_HOSTS"]
        sandbox("down", "--only", *HOSTS, LB)


@pytest.fixture(scope="module")
def replicas(cluster):
    return cluster[0]


def test_what_one_replica_takes_the_other_serves_with_the_same_digest(replicas):
    first, second = replicas
    push_hello(first)
    push_unique(first, "shared:1")
    status, pushed = manifest_head(first, "shared:1")
    assert status == 200 and pushed
    assert manifest_head(second, "shared:1") == (200, pushed)
    pull_back(second, "shared:1")
    local = first.host.run(f"docker exec {first.data.registry_container} test -d /var/lib/registry/docker")
    assert local.rc != 0, "no data on the replica's own disk"


def test_a_push_through_the_load_balancer_is_served_by_every_replica(cluster):
    replicas, lb = cluster
    first = replicas[0]
    first.host.check_output(f"docker tag localhost:5000/shared:1 {LB}:{lb.data.lb_port}/via-lb:1"
                            f" && docker push -q {LB}:{lb.data.lb_port}/via-lb:1")
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
    assert cluster_deploy().changed() == []


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
    assert run.returncode == 0, run.stderr[-3000:]
    assert lb.host.check_output(serving).split() == ["1", f"{HOSTS[0]}:5000"]
    assert manifest_head(lb, "via-lb:1")[0] == 200
    assert cluster_deploy().returncode == 0
    assert lb.host.check_output(serving).split() == ["2", f"{HOSTS[0]}:5000", f"{HOSTS[1]}:5000"]


def test_a_second_run_changes_nothing_and_prints_no_store_secret(replicas):
    run = cluster_deploy("-v")
    assert run.returncode == 0 and run.changed() == [], run.changed()
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


@pytest.mark.parametrize("chore, args, said", [
    ("gc.py", (), "gc does not run on S3 storage yet"),
    ("retention.py", ("--data", 'retention_rules=[{"repositories": "*", "keep_last": 1}]'),
     "retention does not run on S3 storage yet"),
])
def test_chores_refuse_to_collect_on_a_shared_store(replicas, chore, args, said):
    run = cluster_deploy(*args, file=chore)
    assert run.returncode != 0
    assert f"{said} (it needs every replica read-only); nothing was done" in run.stderr
    assert manifest_head(replicas[0], "shared:1")[0] == 200


def test_the_registry_recovers_when_the_gateway_restarts_without_a_redeploy(replicas):
    first, _ = replicas
    store = docker.from_env().containers.get(STORE)
    store.exec_run(["pkill", "-x", "radosgw"])
    wait_for(lambda: manifest_head(first, "shared:1")[0] != 200)
    sandbox("up", "--hosts", "5", "--s3")  # starts radosgw again, as its unit would
    wait_for(lambda: manifest_head(first, "shared:1")[0] == 200)
    pull_back(first, "shared:1")
