"""Nothing for another local user: a first deploy that connects as a user with sudo (as the production
inventory says to), while an unprivileged account on the host copies every file it can reach where uploads
used to be staged, leaks no key, password or hash; the maintenance lock is root's alone.
Runs on a host of its own (host_name(3)), made and removed here."""

import shlex

import pytest

from core.host_paths import LOCK
from core.secrets import DEPLOY_USER, SecretStore
from dev.operator import deploy, sandbox
from ops.files import UPLOAD_DIR
from sandbox.hosts import host_name
from tests.e2e.conftest import target_for

HOST = host_name(3)
LOOT = "/home/intruder/loot"
# Where uploads were staged before (pyinfra's default temporary directory) and where they are now.
WATCHED = ("/tmp", "/var/tmp", UPLOAD_DIR)
AS_DEPLOYER = ("--limit", HOST, "--data", "ssh_user=deployer", "--sudo")


def _copy_everything_readable() -> str:
    """The intruder's loop: copy every file of WATCHED it can read, as fast as it can."""
    sources = " ".join(f"{d}/* {d}/.[!.]*" for d in WATCHED)
    return f"while :; do for f in {sources}; do cp \"$f\" {LOOT}/ 2>/dev/null; done; done"


@pytest.fixture(scope="module")
def deployed_with_sudo(fresh_sandbox):
    """(target, the first run as deployer with sudo) with the intruder copying throughout."""
    sandbox("down", "--only", HOST)
    sandbox("up", "--first", "3", "--hosts", "4")  # no engine: the run as deployer installs it with sudo
    t = target_for(HOST)
    t.host.check_output(
        "useradd -m -s /bin/sh deployer && useradd -m -s /bin/sh intruder"
        " && echo 'deployer ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deployer && chmod 440 /etc/sudoers.d/deployer"
        " && install -d -o deployer -m 700 /home/deployer/.ssh"
        " && install -o deployer -m 600 /root/.ssh/authorized_keys /home/deployer/.ssh/"
        f" && install -d -o intruder -m 700 {LOOT} && echo decoy > /tmp/decoy-readable-by-all"
        " && systemd-run --unit=intruder --uid=intruder --collect --quiet"
        f" sh -c {shlex.quote(_copy_everything_readable())}")
    run = deploy(*AS_DEPLOYER)
    t.host.check_output("systemctl stop intruder")
    yield t, run
    sandbox("down", "--only", HOST)


def _secrets(t) -> dict[str, str]:
    """What the deploy put on the host that only root may read: name -> a string that gives it away."""
    store = SecretStore(t.data.registry_secrets_dir)
    return {
        "TLS private key": (store.root / "hosts" / f"{HOST}.key").read_text().splitlines()[1],
        "deploy user's password": store.password(DEPLOY_USER),
        "http.secret": store.http_secret(),
        "deploy user's bcrypt hash": t.host.check_output(
            f"grep ' user {DEPLOY_USER} password ' {t.data.registry_config_dir}/haproxy.cfg").split()[-1][7:],
    }


def test_a_first_deploy_as_a_sudo_user_succeeds_and_a_second_changes_nothing(deployed_with_sudo):
    _, run = deployed_with_sudo
    assert run.returncode == 0, run.stderr[-3000:]
    again = deploy(*AS_DEPLOYER)
    assert again.returncode == 0 and again.results and again.changes() == [], again.changed()


def test_another_local_user_copying_throughout_the_deploy_got_no_secret(deployed_with_sudo):
    t, _ = deployed_with_sudo
    assert t.host.file(f"{LOOT}/decoy-readable-by-all").exists, "the intruder's loop copied what it could read"
    leaked = {name for name, secret in _secrets(t).items()
              if t.host.run(f"grep -rqF -- {shlex.quote(secret)} {LOOT}").rc == 0}
    assert leaked == set()


def test_uploads_are_staged_where_only_the_login_user_may_enter(deployed_with_sudo):
    t, _ = deployed_with_sudo
    staging = t.host.file(UPLOAD_DIR)
    assert (staging.is_directory, staging.user, staging.mode) == (True, "deployer", 0o700)
    assert t.host.run(f"su -s /bin/sh intruder -c 'ls {UPLOAD_DIR}'").rc != 0


def test_the_maintenance_lock_is_roots_alone(deployed_with_sudo):
    t, _ = deployed_with_sudo
    directory = t.host.file(LOCK.rsplit("/", 1)[0])
    assert (directory.user, directory.mode) == ("root", 0o700)
    refused = t.host.run(f"su -s /bin/sh intruder -c 'flock -n {LOCK} true'")
    assert refused.rc != 0 and "Permission denied" in refused.stderr
