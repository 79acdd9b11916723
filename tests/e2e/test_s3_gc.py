"""GC, repository deletion and pruning across S3 replicas behind HAProxy: GC on one replica alone is
refused; across the replicas it fails no pull through the load balancer, frees only garbage and keeps what
was pushed while it marked (each race made to happen there); killed while it marks, collects, switches or
sweeps, the next run heals and finishes. Registry 3's: test_s3_registry3.py. On a cluster of its own (the
`cluster` fixture: tests/e2e/conftest.py)."""

import hashlib
import json
import os
import re

import pytest

from core.host_paths import MAINTENANCE_SCRIPT, READ_ONLY_MARK
from dev.operator import start_deploy
from sandbox.object_store import SECRET_KEY_FILE
from tests.e2e.chores import (
    S3_COLLECTOR,
    pause_collections,
    pull_outages,
    push_unique,
    release_chore,
    resume_collections,
    start_pull_loop,
    stop_pull_loop,
    upload_status,
)
from tests.e2e.client import ACCEPT
from tests.e2e.cluster import (
    CLUSTER,
    FIRST_SWITCH,
    HOSTS,
    LB_URL,
    blob_key,
    cluster_deploy,
    delete_repository_across_replicas,
    gc_held_after_its_mark,
    killed_at,
    paused_collector,
    stored_keys,
)
from tests.e2e.conftest import (
    catalog,
    manifest,
    manifest_head,
    pull_back,
    session,
)


def test_gc_on_one_replica_alone_is_refused(replicas):
    done = replicas[0].host.run(f"{MAINTENANCE_SCRIPT} gc")
    assert done.rc != 0 and "on S3 storage gc needs every replica read-only: run it across replicas" in done.stderr


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


def test_delete_repos_across_replicas_is_gone_from_every_catalog_and_keeps_the_nested_one(cluster):
    delete_repository_across_replicas(cluster, "team")


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
