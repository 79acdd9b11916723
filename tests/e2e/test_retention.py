"""Retention on a real registry: the rules' decision per repository, a dry run that changes nothing, the
deletions, their garbage collected, and every kept tag still pulling; a retention killed between two
deletions, finished by the next run."""

import json
import time

import pytest

from dev.operator import deploy
from tests.e2e.chores import (
    RETENTION_DECISION,
    RETENTION_RULES,
    chore_output,
    kill_held_chore,
    push_retention_tags,
    push_unique,
    upload_status,
)
from tests.e2e.conftest import ACCEPT, manifest_head, pull_back, session, tags_of


def _manifest(t, tag, repository="keep"):
    answer = session().get(f"{t.registry}/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT}, timeout=10)
    return answer.headers["Docker-Content-Digest"], {layer["digest"] for layer in answer.json()["layers"]}


def _blob_on_disk(t, digest):
    hex_ = digest.split(":")[1]
    blob = f"/var/lib/registry/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data"
    return t.host.run(f"docker exec {t.data.registry_container} test -f {blob}").rc == 0


@pytest.fixture(scope="module")
def six_tags_over_four_digests(targets, hello_pushed):
    push_retention_tags(targets[0])
    return targets[0]


def test_a_dry_run_says_per_repository_what_goes_and_changes_nothing(six_tags_over_four_digests):
    t = six_tags_over_four_digests
    before = tags_of(t, "keep")
    run = deploy("--limit", t.name, "--data", f"registry_retention_rules={RETENTION_RULES}", file="retention.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert RETENTION_DECISION in run.stderr
    assert "keep: delete v2" in run.stderr and "dry run: 1 manifests would be deleted" in run.stderr
    assert tags_of(t, "keep") == before


def test_keep_last_three_deletes_exactly_v2_and_its_unique_blob(six_tags_over_four_digests):
    t = six_tags_over_four_digests
    kept = {tag: _manifest(t, tag) for tag in ("latest", "v1", "v3", "v4", "stable")}
    v2_digest, v2_layers = _manifest(t, "v2")
    (unique,) = v2_layers - set().union(*(layers for _, layers in kept.values()))
    run = deploy("--limit", t.name, "--data", f"registry_retention_rules={RETENTION_RULES}", "--data",
                 "registry_retention_apply=True",
                 file="retention.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"deleted keep@{v2_digest} (tags v2)" in run.stderr and "writable again" in run.stderr
    assert tags_of(t, "keep") == ["latest", "stable", "v1", "v3", "v4"]
    assert not _blob_on_disk(t, unique), "the garbage was collected"
    for tag, (digest, layers) in kept.items():
        assert _manifest(t, tag)[0] == digest and all(_blob_on_disk(t, layer) for layer in layers)
        pull_back(t, f"keep:{tag}")


def test_a_retention_killed_between_two_deletions_is_finished_by_the_next_run(targets, hello_pushed):
    """The deletions run with the registry writable; killed between two, the next run deletes what is left of
    the same decision and collects the garbage of all of them."""
    t = targets[1]
    pushed = {}
    for tag in ("t1", "t2", "t3", "t4", "t5"):
        push_unique(t, f"trim:{tag}")
        pushed[tag] = _manifest(t, tag, repository="trim")
        time.sleep(1.1)  # push times are kept to the second
    doomed = ["t1", "t2", "t3", "t4"]
    entries = [f"trim@{pushed[tag][0]}={tag}" for tag in doomed]
    started = kill_held_chore(t, "delete-manifests", *entries, pause_at=("curl", f"/manifests/{pushed['t3'][0]}"))
    assert [manifest_head(t, f"trim@{pushed[tag][0]}")[0] for tag in doomed] == [404, 404, 200, 200], \
        chore_output(t, started)
    assert upload_status(t) == "202", "the deletions never made the registry read-only"

    rules = json.dumps([{"repositories": "trim", "keep_last": 1}])
    run = deploy("--limit", t.name, "--data", f"registry_retention_rules={rules}", "--data",
                 "registry_retention_apply=True",
                 file="retention.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "trim: delete t3, t4" in run.stderr, run.stderr[-3000:]
    assert tags_of(t, "trim") == ["t5"]
    kept_layers = pushed["t5"][1]
    for tag in doomed:
        assert manifest_head(t, f"trim@{pushed[tag][0]}")[0] == 404
        assert not any(_blob_on_disk(t, layer) for layer in pushed[tag][1] - kept_layers), "collected"
    pull_back(t, "trim:t5")

