"""Backup and restore: an archive with its manifest and checksum, restored onto a fresh host whose every
tag then pulls with the same digest; a backup killed inside its read-only window or while it archives
leaves what the next backup heals, and no archive that looks complete; a restore killed while it swaps the
data leaves one whole registry (the data before, or the archive's) after the next run. Runs on a host of its own
(the sandbox's fourth, host_name(3)), made and removed here."""

import json
from pathlib import Path

import pytest

from core.host_paths import MAINTENANCE_SCRIPT, READ_ONLY_MARK
from dev.operator import deploy, sandbox
from sandbox.hosts import host_name
from tests.e2e.chores import chore_output, kill_held_chore, push_unique, upload_status
from tests.e2e.conftest import Target, manifest_head, pull_back, push_hello, target_for

HOST = host_name(3)


def _fresh_host() -> Target:
    sandbox("down", "--only", HOST)
    sandbox("up", "--first", "3", "--hosts", "4", "--engine")
    run = deploy("--limit", HOST)
    assert run.returncode == 0, run.stderr[-3000:]
    return target_for(HOST)


def _digests(t, references):
    return {ref: manifest_head(t, ref)[1] for ref in references}


@pytest.fixture(scope="module")
def backed_up(fresh_sandbox):
    """A registry with images sharing layers, backed up; then its host is destroyed."""
    t = _fresh_host()
    push_hello(t)
    references = ["hello:latest", "app:1", "app:2", "team/tool:1"]
    for reference in references[1:]:
        push_unique(t, reference)
    digests = _digests(t, references)
    run = deploy("--limit", HOST, file="backup.py")
    assert run.returncode == 0, run.stderr[-3000:]
    [archive] = sorted(Path(t.data.registry_backup_dir).glob(f"{HOST}-*.tar"))[-1:]
    sandbox("down", "--only", HOST)
    yield archive, digests
    sandbox("down", "--only", HOST)


def test_the_backup_is_one_archive_with_its_manifest_and_checksum(backed_up):
    archive, digests = backed_up
    manifest = json.loads(archive.with_suffix(".json").read_text())
    assert {f"{t['repository']}:{t['tag']}": t["digest"] for t in manifest["tags"]} == digests
    assert manifest["sha256"] and "secret" not in manifest["config"]["http"]
    assert archive.with_suffix(".json").stat().st_mode & 0o777 == 0o600
    assert not list(Path(archive.parent).glob("*.partial"))


@pytest.fixture(scope="module")
def restored(backed_up):
    """A fresh host, the archive restored onto it: (the host, what restore.py said)."""
    archive, _ = backed_up
    t = _fresh_host()
    run = deploy("--limit", HOST, "--data", f"registry_backup_archive={archive}", file="restore.py")
    assert run.returncode == 0, run.stderr[-3000:]
    return t, run.stderr


def test_a_fresh_host_restored_from_it_pulls_every_tag_with_the_same_digest(backed_up, restored):
    _, digests = backed_up
    t, said = restored
    assert f"restored {len(digests)} tags" in said
    assert _digests(t, digests) == digests
    for reference in digests:
        pull_back(t, reference)


def test_a_manifest_edited_beside_a_valid_archive_is_refused_and_runs_nothing_on_the_host(backed_up, restored,
                                                                                          tmp_path):
    archive, _ = backed_up
    t, _ = restored
    forged = tmp_path / archive.name
    forged.write_bytes(archive.read_bytes())
    manifest = json.loads(archive.with_suffix(".json").read_text())
    manifest["archive"] = "x.tar; touch /root/PWNED; echo"
    forged.with_suffix(".json").write_text(json.dumps(manifest))
    refused = deploy("--limit", HOST, "--data", f"registry_backup_archive={forged}", "--data",
                     "registry_restore_force=True",
                     file="restore.py")
    assert refused.returncode != 0 and "is not signed with this deploy's backup key" in refused.stderr
    assert not t.host.file("/root/PWNED").exists


def test_a_restore_onto_a_registry_that_holds_data_is_refused_unless_forced(backed_up, restored):
    archive, digests = backed_up
    t, _ = restored
    refused = deploy("--limit", HOST, "--data", f"registry_backup_archive={archive}", file="restore.py")
    assert refused.returncode != 0 and "the registry already holds tags: refused" in refused.stderr
    forced = deploy("--limit", HOST, "--data", f"registry_backup_archive={archive}", "--data",
                    "registry_restore_force=True",
                    file="restore.py")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert _digests(t, digests) == digests


# Where a backup is killed: inside its read-only window (hard-linking the data aside), and while it archives
# the snapshot with the registry writable again.
KILL_POINTS = {"read-only window": ("cp", "-al", "405"), "archiving": ("tar", "-cf", "202")}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_backup_killed_anywhere_leaves_no_archive_that_looks_complete_and_the_next_one_heals(restored, point):
    t, _ = restored
    command, arguments, uploads = KILL_POINTS[point]
    started = kill_held_chore(t, "backup", "/var/lib/registry-backups/x.tar", pause_at=(command, arguments))
    assert t.host.run("test -e /var/lib/registry-backups/x.tar").rc != 0, "nothing that looks complete"
    assert upload_status(t) == uploads, f"killed at {point}: " + chore_output(t, started)
    assert t.host.file(READ_ONLY_MARK).exists == (point == "read-only window"), "the mark tells what was left"
    again = deploy("--limit", HOST, "--data", "registry_backup_host_dir=/var/lib/registry-backups", file="backup.py")
    assert again.returncode == 0, again.stderr[-3000:]
    assert ("repaired the leftover read-only state" in again.stderr) == (point == "read-only window")
    assert upload_status(t) == "202" and not t.host.file(READ_ONLY_MARK).exists
    _, data = t.data_mount()
    left = t.host.run(f"ls -d /var/lib/registry-backups/*.partial {data}/.backup-snapshot 2>/dev/null")
    assert not left.stdout, "the next backup clears what the killed one left"


# Where a restore is killed while it swaps the data, inside its read-only window: the registry's data moved
# aside and the archive's not yet in place (the registry serves nothing), or the archive's in place and the
# replaced data not yet removed. What the next run makes of each: the data before, or the archive's.
RESTORE_KILL_POINTS = {
    "data moved aside": ("mv", ".restore/docker"),
    "archive's data in place": ("rm", ".restore*.replaced"),  # a glob: the last rm names both
}


@pytest.mark.parametrize("point", RESTORE_KILL_POINTS)
def test_a_restore_killed_while_it_swaps_the_data_leaves_one_whole_registry_after_the_next_run(backed_up, restored,
                                                                                                point):
    _, digests = backed_up
    t, _ = restored
    archive = "/var/lib/registry-backups/before-restore.tar"
    t.host.check_output(f"{MAINTENANCE_SCRIPT} backup {archive}")
    later = f"later:{point.split()[-1]}"  # in the registry, not in the archive (nor in the other case's)
    push_unique(t, later)
    started = kill_held_chore(t, "restore", archive, "--force", pause_at=RESTORE_KILL_POINTS[point])
    _, data = t.data_mount()
    assert upload_status(t) == "405" and t.host.file(READ_ONLY_MARK).exists, chore_output(t, started)
    assert t.host.file(f"{data}/.replaced").is_directory
    assert t.host.file(f"{data}/docker").exists == (point == "archive's data in place")

    healed = deploy("--limit", HOST)
    assert healed.returncode == 0, healed.stderr[-3000:]
    said = ("removed the data it replaced" if point == "archive's data in place"
            else "put it back (the archive was not restored)")
    assert said in healed.stderr and "repaired the leftover read-only state" in healed.stderr
    assert upload_status(t) == "202" and not t.host.file(READ_ONLY_MARK).exists
    assert not t.host.run(f"ls -d {data}/.replaced {data}/.restore 2>/dev/null").stdout
    assert _digests(t, digests) == digests
    assert manifest_head(t, later)[0] == (404 if point == "archive's data in place" else 200), \
        "the data from before the restore, or the archive's: never a mix, never nothing"
    for reference in digests:
        pull_back(t, reference)
    assert deploy("--limit", HOST).changes() == []

