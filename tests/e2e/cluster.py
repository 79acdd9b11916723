"""The S3 cluster the test_s3*.py files share: registry replicas on one bucket of the sandbox's Ceph RGW,
behind HAProxy, on hosts of their own (replicas host_name(3) and host_name(4), load balancer host_name(5));
what each file's `cluster` fixture (tests/e2e/conftest.py) makes, and how the tests hold and kill a chore
across it and read the bucket."""

import json
import os
from contextlib import contextmanager

import docker

from dev.operator import deploy, inventory_hosts, sandbox, start_deploy
from sandbox.hosts import host_name
from sandbox.object_store import NAME as STORE
from sandbox.registry3 import REGISTRY3_IMAGE
from tests.e2e.chores import PAUSING, pause_collections, push_unique, release_chore, resume_collections
from tests.e2e.conftest import catalog, manifest_head, push_hello, session, target_for, wait_for

CLUSTER = "inventory/sandbox_cluster.py"
HOSTS = (host_name(3), host_name(4))
LB = host_name(5)
# The load balancer as the replica hosts reach it (registry_lb_port).
LB_URL = f"https://{LB}:5000"
ON_3 = ("--data", f"registry_image={REGISTRY3_IMAGE}")
# The first step after the mark: a replica switched read-only (its config pointed at readonly.yml).
FIRST_SWITCH = ("ln", "readonly.yml")
# Where the registry keeps its tree in the bucket.
ROOT_KEY = "docker/registry/v2"


def cluster_deploy(*args, **options):
    return deploy(*args, inventory=CLUSTER, **options)


@contextmanager
def made_cluster():
    """(replicas, load balancer), deployed by inventory/sandbox_cluster.py on fresh hosts and an emptied bucket,
    holding what every test may read: hello and shared:1 pushed to the first replica, via-lb:1 through the
    balancer. The hosts are removed at the end; the object store stays."""
    os.environ["SANDBOX_CLUSTER_HOSTS"] = ",".join([*HOSTS, LB])
    try:
        empty_bucket()
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


def empty_bucket() -> bool:
    """Remove the bucket and every object in it, with the object store's own tools, if the store is up
    (another test file of the same session may have filled it); whether it was removed. `sandbox up --s3`
    makes it again, empty."""
    try:
        store = docker.from_env().containers.get(STORE)
    except docker.errors.NotFound:
        return False
    removed = ["radosgw-admin", "bucket", "rm", "--bucket=registry", "--purge-objects"]
    return store.status == "running" and store.exec_run(removed).exit_code == 0


def stored_keys() -> set[str]:
    """Every object in the bucket, as the object store itself lists it."""
    listed = docker.from_env().containers.get(STORE).exec_run(
        ["radosgw-admin", "bucket", "list", "--bucket=registry", "--max-entries=100000"], stderr=False)
    assert listed.exit_code == 0
    return {entry["name"] for entry in json.loads(listed.output)}


def blob_key(digest: str) -> str:
    hex_ = digest.split(":")[1]
    return f"{ROOT_KEY}/blobs/sha256/{hex_[:2]}/{hex_}/data"


def paused_collector(replicas):
    """The replica that runs a chore's shared step (pyinfra's run-once picks it), once that step is paused."""
    def paused():
        return [replica for replica in replicas if replica.host.run("test -e /tmp/chore.paused").rc == 0]
    wait_for(paused, seconds=120)
    return paused()[0]


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


def delete_repository_across_replicas(cluster, name: str, *args):
    """Push name:1 and name/app:1, run delete_repos.py for `name` across the replicas (with `args`): every
    replica and the balancer list it in no catalog, answer 404 for its tag and list none of its tags (404, or
    200 with none: registry 3 on S3), and keep the nested repository."""
    replicas, lb = cluster
    push_unique(replicas[0], f"{name}:1")
    push_unique(replicas[0], f"{name}/app:1")
    run = cluster_deploy(*args, "--data", f"repositories={name}", file="delete_repos.py")
    assert run.returncode == 0, run.why()
    assert f"removed repository {name}" in run.stdout + run.stderr
    for target in [*replicas, lb]:
        listed = catalog(target.registry)
        assert name not in listed and f"{name}/app" in listed, (target.name, listed)
        assert manifest_head(target, f"{name}:1")[0] == 404
        answer = session().get(f"{target.registry}/v2/{name}/tags/list", timeout=10)
        assert answer.status_code == 404 or not answer.json()["tags"], (target.name, answer.text)
    assert manifest_head(lb, f"{name}/app:1")[0] == 200
