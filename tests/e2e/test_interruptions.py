"""Maintenance interrupted anywhere: signals, SIGKILL, a held lock, two chores at once, a deploy meanwhile.

Chores are started on the host as transient systemd units (see tests/e2e/chores.py), held inside their
read-only window, and signalled there as `systemctl stop` or a dropped SSH session would.
"""

import os
import re
import subprocess

import pytest

from core.host_paths import LOCK, READ_ONLY_MARK
from dev.operator import PYINFRA, ROOT, SANDBOX_INVENTORY, deploy, status, status_output
from tests.e2e.chores import (
    COLLECTOR,
    UNIT,
    chore_output,
    kill_held_chore,
    pause_collections,
    push_unique,
    release_chore,
    resume_collections,
    signal_chore,
    start_chore,
    upload_status,
    wait_for_chore,
    wait_for_pause,
)
from tests.e2e.client import session
from tests.e2e.conftest import catalog, manifest_head, pull_back, wait_for


@pytest.fixture(autouse=True)
def no_chore_left_held(targets):
    """A test that fails while it holds a chore paused, or the lock, must not leave them to every later deploy
    on that host (each would wait out the lock timeout and fail)."""
    yield
    for t in targets:
        t.host.run("touch /tmp/chore.release; rm -f /usr/local/bin/docker; systemctl stop lock-holder 2>/dev/null;"
                   f" for i in $(seq 300); do systemctl is-active -q {UNIT} || exit 0; sleep 0.1; done")


@pytest.mark.parametrize("signal", ["HUP", "INT", "TERM"])
def test_signal_while_read_only_switches_back_before_exiting(targets, hello_pushed, signal):
    t = targets[0]
    t.host.check_output("rm -f /var/log/registry-maintenance.log")
    started = start_chore(t, "gc")
    assert upload_status(t) == "405"
    signal_chore(t, f"SIG{signal}")
    release_chore(t)
    wait_for_chore(t)
    # After a hang-up the script writes to its log file: nobody reads the session any more.
    said = (t.host.check_output("cat /var/log/registry-maintenance.log") if signal == "HUP"
            else chore_output(t, started))
    assert f"interrupted by SIG{signal} while read-only: switching back" in said
    assert "writable again: a test upload was accepted" in said
    assert not t.host.file(READ_ONLY_MARK).exists
    assert t.host.file(f"{t.data.registry_config_dir}/config.yml").linked_to.endswith("/writable.yml")
    assert upload_status(t) == "202"

    run = deploy("--limit", t.name, file="gc.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "leftover" not in run.stderr, "nothing was left for the next chore to repair"
    push_unique(t, f"after-sig{signal.lower()}:1")
    pull_back(t, hello_pushed)


# The read-only twin serving every request, the registry not yet restarted read-only behind it.
TWIN_SERVING = ("docker", "restart?registry")


@pytest.mark.parametrize("next_run, where", [("deploy.py", COLLECTOR), ("gc.py", COLLECTOR),
                                             ("deploy.py", TWIN_SERVING)], ids=["collector", "gc", "twin"])
def test_sigkill_while_read_only_is_repaired_by_the_next_run(targets, hello_pushed, next_run, where):
    """SIGKILL inside the read-only window (while the registry's read-only twin serves), at the collector or
    just after the twin took over: uploads are refused and pulls served until the next run switches back."""
    t = targets[1]
    kill_held_chore(t, "gc", pause_at=where)
    assert t.host.file(READ_ONLY_MARK).exists, "SIGKILL cannot be trapped: the mark stays"
    assert upload_status(t) == "405", "and the registry is still read-only"
    assert manifest_head(t, f"{hello_pushed}:latest")[0] == 200, "pulls are served meanwhile"
    assert t.host.docker(f"{t.data.registry_container}-readonly").is_running, "by the read-only twin"

    run = deploy("--limit", t.name, file=next_run)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "found the registry left read-only by an interrupted chore: registry-maintenance gc" in run.stderr
    assert "repaired the leftover read-only state" in run.stderr
    assert upload_status(t) == "202" and not t.host.file(READ_ONLY_MARK).exists
    assert t.host.run(f"docker container inspect {t.data.registry_container}-readonly").rc != 0, "the twin is gone"
    push_unique(t, f"after-kill-{next_run.removesuffix('.py')}:1")
    pull_back(t, hello_pushed)
    assert deploy("--limit", t.name).changes() == []


def test_a_chore_waits_for_the_lock_then_fails_naming_its_real_holder(targets):
    """The holder writes nothing in the lock file, which names an earlier chore: the kernel's word counts."""
    t = targets[0]
    t.host.check_output(f"mkdir -p -m 700 {os.path.dirname(LOCK)} && echo 'an earlier chore' > {LOCK}"
                        f" && systemd-run --unit=lock-holder --collect --quiet flock {LOCK} sleep 30; sleep 0.5")
    try:
        run = deploy("--limit", t.name, "--data", "registry_maintenance_lock_timeout=2", file="gc.py")
        assert run.returncode != 0
        assert re.search(r"gave up after 2s waiting for the maintenance lock, held by an earlier chore \(the kernel"
                         rf" names pid \d+: [^ ]*flock {LOCK} sleep 30 \)", run.stderr), run.stderr[-2000:]
        assert not t.host.file(READ_ONLY_MARK).exists and upload_status(t) == "202"
    finally:
        t.host.run("systemctl stop lock-holder")
    assert deploy("--limit", t.name).returncode == 0


def test_two_gc_runs_at_once_take_turns_and_lose_nothing(targets, hello_pushed):
    """The first holds the lock inside its read-only window (paused before collecting); the second waits on
    the lock, never reaching the collector meanwhile, and collects once the first is writable again."""
    t = targets[0]
    push_unique(t, "together:1")
    command = [PYINFRA, "-y", SANDBOX_INVENTORY, "gc.py", "--limit", t.name]
    pause_collections(t)
    try:
        first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_pause(t)
        t.host.check_output("rm -f /tmp/chore.paused")
        second = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: t.host.run("pgrep -f 'flock -w'").rc == 0, seconds=120)  # the second waits on the lock
        assert first.poll() is None and second.poll() is None
        assert not t.host.file("/tmp/chore.paused").exists, "only the first reached the collector"
        release_chore(t)
        (_, first_said), (_, second_said) = (run.communicate(timeout=300) for run in (first, second))
    finally:
        resume_collections(t)
    assert first.returncode == 0 and second.returncode == 0, (first_said + second_said)[-3000:]
    assert "writable again: a test upload was accepted" in first_said
    assert re.search(r"waiting up to \d+s for the maintenance lock, held by registry-maintenance gc", second_said)
    assert "writable again: a test upload was accepted" in second_said or "nothing to collect" in second_said
    assert upload_status(t) == "202"
    pull_back(t, "together:1")
    pull_back(t, hello_pushed)


def test_deploy_during_gc_waits_for_it_and_the_host_ends_writable(targets, hello_pushed):
    t = targets[1]
    push_unique(t, "during:1")
    started = start_chore(t, "gc")  # paused read-only, holding the lock, for as long as we like
    deploying = subprocess.Popen([PYINFRA, "-y", SANDBOX_INVENTORY, "deploy.py", "--limit", t.name], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t.host.check_output("sleep 8")
        assert deploying.poll() is None, "the deploy waits for the chore"
        assert upload_status(t) == "405", "the deploy did not make the registry writable under the chore"
    finally:
        release_chore(t)
    _, stderr = deploying.communicate(timeout=300)
    assert deploying.returncode == 0, stderr[-3000:]
    assert "a maintenance chore is running, waiting for it: registry-maintenance gc" in stderr
    wait_for_chore(t)
    said = chore_output(t, started)
    assert "garbage collected in" in said and "writable again: a test upload was accepted" in said
    assert "interrupted" not in said
    assert upload_status(t) == "202"
    pull_back(t, "during:1")


def _untagged(t, repository):
    """A repository whose only tag was deleted through the API: what prune removes."""
    push_unique(t, f"{repository}:1")
    digest = manifest_head(t, f"{repository}:1")[1]
    assert session().delete(f"{t.registry}/v2/{repository}/manifests/{digest}", timeout=10).status_code == 202


# Chores that remove a repository inside the read-only window, killed after the removal and before the
# collector: (the chore's arguments, how to make what it removes).
REMOVALS = {"delete-repos": (("delete-repos", "doomed/app"), lambda t: push_unique(t, "doomed/app:1")),
            "prune": (("prune",), lambda t: _untagged(t, "doomed/app"))}


@pytest.mark.parametrize("chore", REMOVALS)
def test_a_removal_killed_before_it_collects_leaves_the_repository_gone_and_the_next_runs_heal(targets, hello_pushed,
                                                                                               chore):
    t = targets[1]
    args, make = REMOVALS[chore]
    make(t)
    kill_held_chore(t, *args)  # at the collector: the repository is already removed, the registry read-only
    assert t.host.file(READ_ONLY_MARK).exists and upload_status(t) == "405"
    assert "doomed/app" not in catalog(t.registry)
    run = deploy("--limit", t.name)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "repaired the leftover read-only state" in run.stderr
    assert upload_status(t) == "202" and not t.host.file(READ_ONLY_MARK).exists
    collected = deploy("--limit", t.name, file="gc.py")  # the removed repository's layers, left to collect
    assert collected.returncode == 0, collected.stderr[-3000:]
    assert "doomed/app" not in catalog(t.registry)
    pull_back(t, hello_pushed)


def test_status_names_a_running_chore_then_a_killed_one_then_the_repair(targets, hello_pushed):
    """What status.py says at each point, against what the test did on the host."""
    t = targets[0]
    start_chore(t, "gc")
    held = status("--limit", t.name)[t.name]["registry"]
    assert held["running"].startswith("registry-maintenance gc") and held["read_only"]
    assert held["last_chore"][:2] == ["gc", "started"] and upload_status(t) == "405"
    signal_chore(t, "SIGKILL")
    wait_for_chore(t)
    killed = status("--limit", t.name)[t.name]["registry"]
    assert killed["running"] is None and killed["read_only"] == t.host.file(READ_ONLY_MARK).content_string.strip()
    assert killed["last_chore"][:2] == ["gc", "started"], "a chore that never said how it ended"
    table = status_output("--limit", t.name)
    assert "READ-ONLY since registry-maintenance gc" in table and "never finished (killed" in table
    healed = deploy("--limit", t.name)
    assert healed.returncode == 0, healed.stderr[-3000:]
    repaired = status("--limit", t.name)[t.name]["registry"]
    assert repaired["read_only"] is None and upload_status(t) == "202"
    assert repaired["last_chore"][:2] == ["recover", "ok"]
