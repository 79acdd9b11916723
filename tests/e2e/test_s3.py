"""Registry replicas on one S3 bucket (the sandbox's real Ceph RGW): what one replica takes, the other
serves; a second run changes nothing; a missing bucket is refused before anything changes; the chores
refuse to collect on a shared store; the gateway restarting heals without a redeploy. Runs on two hosts of
its own (registry-sandbox-3 and -4), made and removed here."""

import docker
import pytest

from dev.operator import deploy, inventory_hosts, sandbox, ssh_host
from ops.data import public_urls
from sandbox.object_store import NAME as STORE
from sandbox.object_store import SECRET_KEY_FILE
from tests.e2e.chores import push_unique
from tests.e2e.conftest import Target, pull_back, push_hello, session, wait_for

CLUSTER = "inventory/sandbox_cluster.py"
HOSTS = ("registry-sandbox-3", "registry-sandbox-4")
ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"


def cluster_deploy(*args, **options):
    return deploy(*[arg for name in HOSTS for arg in ("--limit", name)], *args, inventory=CLUSTER, **options)


@pytest.fixture(scope="module")
def replicas(first_run):
    sandbox("up", "--hosts", "5", "--s3")
    run = cluster_deploy()
    assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
    found = {name: data for name, data in inventory_hosts(CLUSTER)}
    yield [Target(name, found[name], ssh_host(found[name].ssh_port), *public_urls(name, found[name]))
           for name in HOSTS]
    sandbox("down", "--only", *HOSTS)


def digest(t, reference):
    repository, tag = reference.split(":")
    answer = session().head(f"{t.registry}/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT}, timeout=10)
    return answer.status_code, answer.headers.get("Docker-Content-Digest")


def test_what_one_replica_takes_the_other_serves_with_the_same_digest(replicas):
    first, second = replicas
    push_hello(first)
    push_unique(first, "shared:1")
    status, pushed = digest(first, "shared:1")
    assert status == 200 and pushed
    assert digest(second, "shared:1") == (200, pushed)
    pull_back(second, "shared:1")
    local = first.host.run(f"docker exec {first.data.registry_container} test -d /var/lib/registry/docker")
    assert local.rc != 0, "no data on the replica's own disk"


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
    assert digest(first, "shared:1")[0] == 200


def test_pointing_a_replica_back_at_an_empty_disk_is_refused(replicas):
    first, _ = replicas
    before = first.container(first.data.registry_container)["Id"]
    run = cluster_deploy("--data", "registry_storage=volume")
    assert run.returncode != 0
    assert "the registry's data is in its S3 bucket, and this run would point it at volume:registry-vol" in run.stderr
    assert first.container(first.data.registry_container)["Id"] == before
    assert digest(first, "shared:1")[0] == 200


def test_chores_refuse_to_collect_on_a_shared_store(replicas):
    run = cluster_deploy(file="gc.py")
    assert run.returncode != 0
    assert "gc does not run on S3 storage yet (it needs every replica read-only); nothing was done" in run.stderr
    assert digest(replicas[0], "shared:1")[0] == 200


def test_the_registry_recovers_when_the_gateway_restarts_without_a_redeploy(replicas):
    first, _ = replicas
    store = docker.from_env().containers.get(STORE)
    store.exec_run(["pkill", "-x", "radosgw"])
    wait_for(lambda: digest(first, "shared:1")[0] != 200)
    sandbox("up", "--hosts", "5", "--s3")  # starts radosgw again, as its unit would
    wait_for(lambda: digest(first, "shared:1")[0] == 200)
    pull_back(first, "shared:1")
