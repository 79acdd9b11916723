"""The S3 cluster on registry 3 (built from distribution's released source): the replicas upgrade from 2 one
at a time with no pull through the load balancer failing; its collector, across the replicas, removes
untagged manifests and keeps every platform of a multi-arch image, and a manifest tagged again while it
marked; a repository deleted across the replicas is gone from every catalog (registry 3 on S3 answers
200 with no tag for it, not 404). The upgrade comes first; every other test upgrades first when run alone.
On a cluster of its own (the `cluster` fixture: tests/e2e/conftest.py)."""

import re
from datetime import datetime

from core.haproxy_files import READMIT_SECONDS
from dev.operator import sandbox
from sandbox.registry3 import REGISTRY3_IMAGE
from tests.e2e.chores import push_unique, start_pull_loop, stop_pull_loop
from tests.e2e.client import ACCEPT
from tests.e2e.cluster import (
    LB_URL,
    ON_3,
    blob_key,
    cluster_deploy,
    delete_repository_across_replicas,
    gc_held_after_its_mark,
    stored_keys,
)
from tests.e2e.conftest import manifest, manifest_head, pull_back, session
from tests.e2e.multiarch import ACCEPT_ANY, pull_every_platform, push_multiarch


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


def on_3():
    """The replicas on registry 3 (upgraded here when a test runs alone)."""
    sandbox("images", "--registry3")
    upgraded = cluster_deploy(*ON_3)
    assert upgraded.returncode == 0, upgraded.why()


def test_delete_repos_across_replicas_on_3_is_gone_from_every_catalog_and_lists_no_tag(cluster):
    on_3()
    delete_repository_across_replicas(cluster, "team3", *ON_3)


def test_gc_of_untagged_manifests_across_replicas_on_3_keeps_every_platform(cluster, tmp_path):
    """Untagged manifests go, an image index's platforms stay; a manifest left untagged when marked and
    tagged again while it marked (the run held before the first replica's switch) stays too."""
    replicas, lb = cluster
    on_3()  # a tag is deleted through the API from registry 3 on
    push_multiarch(lb.registry, "multi:kept", tmp_path)
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
        whole = pull_every_platform(target.registry, "multi:kept", tmp_path)
        assert whole.returncode == 0, (target.name, whole.stderr)
    for digest in (doomed.index, *doomed.platforms.values()):
        assert manifest_head(lb, f"multi@{digest}", accept=ACCEPT_ANY)[0] == 404, f"{digest} survived the collection"
    assert blob_key(doomed.blobs["arm64"][1]) not in stored_keys(), "its layers are gone from the bucket"
