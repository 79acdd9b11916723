"""Backup and restore: an archive with its manifest and checksum, restored onto a fresh host whose every
tag then pulls with the same digest; an interrupted backup leaves the registry writable and no archive that
looks complete. Runs on a host of its own (registry-sandbox-3), made and removed here."""

import json
from pathlib import Path

import pytest

from core.data import public_urls
from dev.operator import deploy, inventory_hosts, sandbox, ssh_host
from sandbox.settings import STATE_DIR
from tests.e2e.chores import push_unique
from tests.e2e.conftest import Target, manifest_head, pull_back, push_hello, session

HOST = "registry-sandbox-3"


def _target() -> Target:
    data = dict(inventory_hosts())[HOST]
    return Target(HOST, data, ssh_host(data.ssh_port), *public_urls(HOST, data))


def _fresh_host() -> Target:
    sandbox("down", "--only", HOST)
    sandbox("up", "--hosts", "4")
    run = deploy("--limit", HOST)
    assert run.returncode == 0, run.stderr[-3000:]
    return _target()


def _digests(t, references):
    return {ref: manifest_head(t, ref)[1] for ref in references}


@pytest.fixture(scope="module")
def backed_up(first_run):
    """A registry with images sharing layers, backed up; then its host is destroyed."""
    t = _fresh_host()
    push_hello(t)
    references = ["hello:latest", "app:1", "app:2", "team/tool:1"]
    for reference in references[1:]:
        push_unique(t, reference)
    digests = _digests(t, references)
    run = deploy("--limit", HOST, file="backup.py")
    assert run.returncode == 0, run.stderr[-3000:]
    [archive] = sorted((STATE_DIR / "backups").glob(f"{HOST}-*.tar"))[-1:]
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


def test_a_fresh_host_restored_from_it_pulls_every_tag_with_the_same_digest(backed_up):
    archive, digests = backed_up
    t = _fresh_host()
    run = deploy("--limit", HOST, "--data", f"registry_backup_archive={archive}", file="restore.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"restored {len(digests)} tags" in run.stderr
    assert _digests(t, digests) == digests
    for reference in digests:
        pull_back(t, reference)


def test_a_manifest_edited_beside_a_valid_archive_is_refused_and_runs_nothing_on_the_host(backed_up, tmp_path):
    archive, _ = backed_up
    t = _target()
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


def test_a_restore_onto_a_registry_that_holds_data_is_refused_unless_forced(backed_up):
    archive, digests = backed_up
    t = _target()
    refused = deploy("--limit", HOST, "--data", f"registry_backup_archive={archive}", file="restore.py")
    assert refused.returncode != 0 and "the registry already holds tags: refused" in refused.stderr
    forced = deploy("--limit", HOST, "--data", f"registry_backup_archive={archive}", "--data",
                    "registry_restore_force=True",
                    file="restore.py")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert _digests(t, digests) == digests


def test_an_interrupted_backup_leaves_the_registry_writable_and_no_archive_that_looks_complete(backed_up):
    t = _target()
    t.host.check_output("head -c 200000000 /dev/urandom > /tmp/big && mkdir -p /tmp/bigctx && mv /tmp/big /tmp/bigctx/"
                        " && printf 'FROM localhost:5000/hello\\nCOPY big /big\\n' > /tmp/bigctx/Dockerfile"
                        " && docker build -q -t localhost:5000/big:1 /tmp/bigctx >/dev/null && docker push -q"
                        " localhost:5000/big:1")
    t.host.check_output("systemctl reset-failed interrupted-backup 2>/dev/null; systemd-run --unit=interrupted-backup"
                        " --collect --quiet /usr/local/sbin/registry-maintenance backup /var/lib/registry-backups/x.tar"
                        " && until [ -e /var/lib/registry-backups/x.tar.partial ]; do sleep 0.05; done"
                        " && systemctl kill -s SIGKILL interrupted-backup")
    assert t.host.run("test -e /var/lib/registry-backups/x.tar").rc != 0, "nothing that looks complete"
    assert not t.host.file("/var/lib/registry-maintenance/read-only").exists, "the registry is writable"
    probe = session().post(f"{t.registry}/v2/probe/blobs/uploads/", timeout=10)
    assert probe.status_code == 202
    again = deploy("--limit", HOST, "--data", "registry_backup_host_dir=/var/lib/registry-backups", file="backup.py")
    assert again.returncode == 0, again.stderr[-3000:]
    assert not t.host.run("ls /var/lib/registry-backups/*.partial").stdout, "the next backup clears leftovers"
