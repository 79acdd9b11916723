"""Registry 3 (distribution 3.1.1, built offline from its source) and multi-arch images: registry 2's
collector is never asked to delete untagged manifests (it would break every multi-arch image); a host
holding images upgrades from 2 to 3 in place with every tag proved; on 3 the collector keeps an index's
platform manifests, retention deletes an index with its platforms, and a backup restores every platform;
going back to 2 is refused unless the operator says so; an image that says it is another registry than its
tag is refused; drift on 3 is repaired and a second run changes nothing.
Runs on hosts of its own (host_name(3) on bind storage, host_name(4) on the volume), made and removed here."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from core.archives import archive_name
from core.host_paths import MAINTENANCE_SCRIPT
from dev.operator import deploy, inventory_hosts, sandbox
from sandbox.hosts import host_name
from sandbox.offline_images import HAPROXY_IMAGE, REGISTRY_IMAGE, UI_IMAGE
from sandbox.registry3 import REGISTRY3_IMAGE
from sandbox.settings import IMAGE_DIR
from tests.e2e.conftest import catalog, manifest_head, pull_back, push_hello, session, target_for
from tests.e2e.multiarch import ACCEPT_ANY, MANIFEST, pull_every_platform, push_multiarch

HOSTS = (host_name(3), host_name(4))
ON_3 = ("--data", f"registry_image={REGISTRY3_IMAGE}")


def on_hosts(*args, **options):
    return deploy(*[flag for name in HOSTS for flag in ("--limit", name)], *args, **options)


def assert_unchanged(run):
    """The run succeeded, reported its results, and changed nothing."""
    assert run.returncode == 0 and run.results, run.stderr[-3000:]
    assert run.changes() == []


def index_head(t, path) -> int:
    """The status of HEAD /v2/<path> on a target's registry, accepting any manifest type."""
    return session().head(f"{t.registry}/v2/{path}", headers={"Accept": ACCEPT_ANY}, timeout=10).status_code


def every_platform_pulls(t, reference, pushed, tmp_path):
    """The index's tag, and each platform's manifest by digest, pull whole (manifest and every blob)."""
    whole = pull_every_platform(t.registry, reference, tmp_path)
    assert whole.returncode == 0, whole.stderr
    repository = reference.split(":")[0]
    for arch, digest in pushed.platforms.items():
        one = pull_every_platform(t.registry, f"{repository}@{digest}", tmp_path)
        assert one.returncode == 0, f"{arch} ({digest}): {one.stderr}"


@pytest.fixture(scope="module")
def hosts(fresh_sandbox, tmp_path_factory):
    """Hosts 3 and 4 deployed on registry 2 (the default), each holding hello and a multi-arch image."""
    sandbox("images", "--registry3")
    try:
        sandbox("up", "--first", "3", "--hosts", "5", "--engine")
        run = on_hosts()
        assert run.returncode == 0 and not run.errors() and len({h for _, h in run.changed()}) == 2, \
            run.stderr[-3000:]
        found = dict(inventory_hosts())
        targets = [target_for(name, found[name]) for name in HOSTS]
        tmp = tmp_path_factory.mktemp("multiarch")
        pushed = {}
        for t in targets:
            push_hello(t)
            pushed[t.name] = push_multiarch(t.registry, "multi:1", tmp)
        yield targets, pushed
    finally:
        sandbox("down", "--only", *HOSTS)


def test_registry_2_refuses_to_delete_untagged_manifests(hosts, tmp_path):
    targets, pushed = hosts
    t = targets[0]
    run = deploy("--limit", t.name, "--data", "registry_gc_delete_untagged=True", file="gc.py")
    assert run.returncode != 0 and "registry_gc_delete_untagged=True: must be False on registry 2" in run.stderr
    by_hand = t.host.run(f"{MAINTENANCE_SCRIPT} gc --delete-untagged")
    assert by_hand.rc != 0 and "would break every multi-arch image" in by_hand.stderr
    every_platform_pulls(t, "multi:1", pushed[t.name], tmp_path)


def test_an_image_that_says_it_is_another_registry_is_refused(hosts, tmp_path):
    """A registry 3 image under a tag that does not tell, declared as registry 2: the host asks the image."""
    targets, _ = hosts
    t = targets[0]
    unnamed = "registry-sandbox/registry:unnamed"
    subprocess.run(["docker", "tag", REGISTRY3_IMAGE, unnamed], check=True)
    try:
        subprocess.run(["docker", "save", "-o", str(tmp_path / archive_name(unnamed)), unnamed], check=True)
    finally:  # the sandbox saves its archives under an image's first tag: leave it none of ours
        subprocess.run(["docker", "rmi", unnamed], check=True, capture_output=True)
    for image in (UI_IMAGE, HAPROXY_IMAGE):
        (tmp_path / archive_name(image)).symlink_to(IMAGE_DIR / archive_name(image))
    run = deploy("--limit", t.name, "--data", f"registry_image_archive_dir={tmp_path}", "--data",
                 f"registry_image={unnamed}",
                 "--data", "registry_major_version=2")
    assert run.returncode != 0
    assert f"{unnamed} says it is registry 3, but the deploy configures it as registry 2" in run.stderr
    assert t.container(t.data.registry_container)["Config"]["Image"] == REGISTRY_IMAGE, "nothing changed"
    rerun = deploy("--limit", t.name)
    assert rerun.returncode == 0 and ("Registry | Registry container is running", t.name) not in rerun.changed()


def test_upgrade_to_3_in_place_keeps_every_tag_and_platform(hosts, tmp_path):
    targets, pushed = hosts
    before = {t.name: manifest_head(t, "hello:latest") for t in targets}
    run = on_hosts("-v", *ON_3)
    assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
    for t in targets:
        assert f"[{t.name}] the running registry serves 2 tags; each must answer the same from {REGISTRY3_IMAGE}" \
            in run.stderr
        assert f"[{t.name}] every one of the 2 tags answers with its digest from the new registry" in run.stderr
        assert t.container(t.data.registry_container)["Config"]["Image"] == REGISTRY3_IMAGE
        assert "OTEL_TRACES_EXPORTER=none" in t.container(t.data.registry_container)["Config"]["Env"]
        assert t.host.run(f"docker exec {t.data.registry_container} test -f /etc/distribution/config.yml").rc == 0
        assert "v3.1.1" in t.logs(t.data.registry_container)
        assert manifest_head(t, "hello:latest") == before[t.name]
        every_platform_pulls(t, "multi:1", pushed[t.name], tmp_path)
        pull_back(t, "hello")
    assert_unchanged(on_hosts(*ON_3))


def test_registry_3_collects_untagged_manifests_and_keeps_every_platform(hosts, tmp_path):
    targets, pushed = hosts
    t = targets[1]
    doomed = push_multiarch(t.registry, "multi:doomed", tmp_path)
    # Another tag names one of its platforms: what the collector must keep once the index goes.
    arm = doomed.platforms["arm64"]
    raw = session().get(f"{t.registry}/v2/multi/manifests/{arm}", headers={"Accept": MANIFEST}, timeout=10)
    tagged = session().put(f"{t.registry}/v2/multi/manifests/arm-only", data=raw.content,
                           headers={"Content-Type": MANIFEST}, timeout=10)
    assert tagged.status_code == 201, tagged.text
    # As the UI deletes a tag: its manifest, by digest. The index's platforms are left untagged.
    answer = session().delete(f"{t.registry}/v2/multi/manifests/{doomed.index}", timeout=10)
    assert answer.status_code == 202, answer.text
    run = deploy("--limit", t.name, *ON_3, "--data", "registry_gc_delete_untagged=True", file="gc.py")
    assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
    every_platform_pulls(t, "multi:1", pushed[t.name], tmp_path)
    kept = pull_every_platform(t.registry, "multi:arm-only", tmp_path)
    assert kept.returncode == 0, kept.stderr
    for digest in (doomed.index, doomed.platforms["amd64"]):
        assert index_head(t, f"multi/manifests/{digest}") == 404, f"{digest} survived the collection"
    layer = doomed.blobs["amd64"][1]
    assert session().head(f"{t.registry}/v2/multi/blobs/{layer}", timeout=10).status_code == 404
    pull_back(t, "hello")


def test_retention_on_3_deletes_an_old_index_with_its_platforms_and_keeps_the_new_one(hosts, tmp_path):
    targets, _ = hosts
    t = targets[1]
    old = push_multiarch(t.registry, "fleet:old", tmp_path)
    time.sleep(1.1)  # push times are kept to the second
    new = push_multiarch(t.registry, "fleet:new", tmp_path)
    rules = json.dumps([{"repositories": "fleet", "keep_last": 1}])
    run = deploy("--limit", t.name, *ON_3, "--data", f"registry_retention_rules={rules}", "--data",
                 "registry_retention_apply=True",
                 file="retention.py")
    assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
    every_platform_pulls(t, "fleet:new", new, tmp_path)
    for digest in (old.index, *old.platforms.values()):
        assert index_head(t, f"fleet/manifests/{digest}") == 404, f"{digest} outlived its index"


def test_repository_deletion_and_pruning_on_3_take_indexes_whole(hosts, tmp_path):
    targets, pushed = hosts
    t = targets[1]
    push_multiarch(t.registry, "gone/multi:1", tmp_path)
    emptied = push_multiarch(t.registry, "emptied:1", tmp_path)
    assert session().delete(f"{t.registry}/v2/emptied/manifests/{emptied.index}", timeout=10).status_code == 202
    deleted = deploy("--limit", t.name, *ON_3, "--data", "repositories=gone/multi", file="delete_repos.py")
    assert deleted.returncode == 0 and not deleted.errors(), deleted.stderr[-3000:]
    pruned = deploy("--limit", t.name, *ON_3, file="prune_repos.py")
    assert pruned.returncode == 0 and "pruned empty repository emptied" in pruned.stderr, pruned.stderr[-3000:]
    listed = catalog(t.registry)
    assert "gone/multi" not in listed and "emptied" not in listed and "multi" in listed
    every_platform_pulls(t, "multi:1", pushed[t.name], tmp_path)


def test_backup_and_restore_on_3_bring_back_every_platform(hosts, tmp_path):
    targets, pushed = hosts
    t = targets[1]
    run = deploy("--limit", t.name, *ON_3, file="backup.py")
    assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
    [archive] = sorted(Path(t.data.registry_backup_dir).glob(f"{t.name}-*.tar"))[-1:]
    push_multiarch(t.registry, "multi:1", tmp_path)  # the tag moves on after the backup
    restored = deploy("--limit", t.name, *ON_3, "--data", f"registry_backup_archive={archive}", "--data",
                      "registry_restore_force=True",
                      file="restore.py")
    assert restored.returncode == 0 and not restored.errors(), restored.stderr[-3000:]
    answer = session().head(f"{t.registry}/v2/multi/manifests/1", headers={"Accept": ACCEPT_ANY}, timeout=10)
    assert answer.headers.get("Docker-Content-Digest") == pushed[t.name].index, "the backed-up index is back"
    every_platform_pulls(t, "multi:1", pushed[t.name], tmp_path)


def test_drift_on_registry_3_is_repaired(hosts):
    targets, _ = hosts
    t = targets[0]
    t.host.check_output(f"docker rm -f {t.data.registry_container}")
    run = deploy("--limit", t.name, *ON_3)
    assert run.returncode == 0 and ("Registry | Registry container is running", t.name) in run.changed()
    assert "hello" in catalog(t.registry)
    assert_unchanged(deploy("--limit", t.name, *ON_3))


def test_going_back_to_registry_2_is_refused_unless_the_operator_says_so(hosts, tmp_path):
    targets, pushed = hosts
    t = targets[0]
    refused = deploy("--limit", t.name)
    assert refused.returncode != 0
    assert "this host's registry data was last served by registry 3; registry 2 never ran on" in refused.stderr
    assert "registry_allow_downgrade=True" in refused.stderr
    assert t.container(t.data.registry_container)["Config"]["Image"] == REGISTRY3_IMAGE, "still registry 3"
    every_platform_pulls(t, "multi:1", pushed[t.name], tmp_path)

    allowed = deploy("--limit", t.name, "--data", "registry_allow_downgrade=True")
    assert allowed.returncode == 0 and not allowed.errors(), allowed.stderr[-3000:]
    assert t.container(t.data.registry_container)["Config"]["Image"] == REGISTRY_IMAGE
    every_platform_pulls(t, "multi:1", pushed[t.name], tmp_path)
    back = deploy("--limit", t.name)  # without the word: registry 2 is this host's line now
    assert back.returncode == 0 and ("Registry | Registry container is running", t.name) not in back.changed()
    assert_unchanged(deploy("--limit", t.name))
