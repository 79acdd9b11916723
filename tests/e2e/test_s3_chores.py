"""Retention, backup and restore, and their schedule, across S3 replicas behind HAProxy: retention decides
as on a volume and deletes under pulls through the load balancer; a backup restores into its emptied
bucket with every digest; each killed inside its read-only window is healed and finished by the next run;
the scheduler host runs GC and retention from its timers, one at a time, and a scheduled GC killed mid-run
is healed. On a cluster of its own (the `cluster` fixture: tests/e2e/conftest.py)."""

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from core.host_paths import MAINTENANCE_SCRIPT
from dev.operator import sandbox, status
from sandbox.object_store import SECRET_KEY_FILE
from sandbox.settings import SLOT_DIR
from tasks.backup import REMOTE_DIR
from tests.e2e.chores import (
    RETENTION_DECISION,
    RETENTION_RULES,
    S3_COLLECTOR,
    pause_collections,
    push_retention_tags,
    push_unique,
    resume_collections,
    start_pull_loop,
    stop_pull_loop,
    upload_status,
)
from tests.e2e.cluster import (
    CLUSTER,
    HOSTS,
    LB,
    LB_URL,
    ROOT_KEY,
    blob_key,
    cluster_deploy,
    empty_bucket,
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
    tags_of,
    wait_for,
)
from tests.e2e.multiarch import ACCEPT_ANY, pull_every_platform, push_multiarch

# What a backup's copy of a blob from the bucket asks curl for.
BLOB_COPY = "docker/registry/v2/blobs/sha256"



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
    assert empty_bucket()
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
