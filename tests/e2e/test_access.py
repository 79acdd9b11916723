"""Least privilege on a real registry: each role does what it is granted and nothing more, with Docker
(on the client host), skopeo and curl as clients; the UI shows each user what they may see; a role change
takes effect on the next run and never restarts the registry; a password is checked once, not per request.

The first host gets users and rules for this module, and its defaults back at the end."""

import json

import pytest

from core.haproxy_files import PROXY_CONFIG, proxy_config
from core.secrets import PULL_USER
from dev.operator import Data, deploy, upload
from sandbox.settings import SECRETS_DIR
from tests.e2e.conftest import session, wait_for
from tests.e2e.multiarch import INDEX, pull_every_platform, push_as

USERS = ["admin", "ci", "alice", "bob"]
ACCESS = [{"users": ["ci"], "repositories": "*", "role": "pull"},
          {"users": ["alice"], "repositories": "team-a/*", "role": "push"},
          {"users": ["bob"], "repositories": "team-a/*", "role": "admin"},
          {"users": ["admin"], "repositories": "*", "role": "admin"}]
CATALOG = ["admin", "ci"]


def _roles(access) -> tuple[str, ...]:
    return ("--data", f"registry_users={json.dumps(USERS)}", "--data", f"registry_access={json.dumps(access)}",
            "--data", f"registry_catalog_users={json.dumps(CATALOG)}")


def _password(user):
    return (SECRETS_DIR / "passwords" / user).read_text()


def _started(t) -> str:
    return t.container(t.data.registry_container)["State"]["StartedAt"]


@pytest.fixture(scope="module")
def roles(targets, hello_pushed, tmp_path_factory):
    """(registry target, client target, the run that gave the roles, when the registry started before it);
    team-a/app:1 pushed by alice, and hello as everyone's."""
    t, client = targets
    started = _started(t)
    run = deploy("--limit", t.name, *_roles(ACCESS))
    assert run.returncode == 0, run.stderr[-3000:]
    pushed, _ = push_as("alice", t.registry, "team-a/app:1", tmp_path_factory.mktemp("alice"))
    assert pushed.returncode == 0, pushed.stderr
    yield t, client, run, started
    restored = deploy("--limit", t.name)
    assert restored.returncode == 0, restored.stderr[-3000:]


def _address(t):
    return f"{t.name}:{t.data.registry_port}"


def _docker(t, client, user, command):
    """A docker command on the client host, logged in to `t`'s registry as `user` (its own DOCKER_CONFIG)."""
    config = f"/tmp/docker-{user}"
    client.host.check_output(f"mkdir -p {config} && cat > {config}/password <<'EOF'\n{_password(user)}\nEOF")
    return client.host.run(f"export DOCKER_CONFIG={config} && docker login -u {user} --password-stdin"
                           f" {_address(t)} < {config}/password >/dev/null && {command}")


def test_giving_roles_changed_nothing_on_the_registry_itself(roles):
    t, _, run, started = roles
    assert _started(t) == started, "the registry was not restarted"
    assert ("Registry | Registry container is running", t.name) not in run.changed()
    assert deploy("--limit", t.name, *_roles(ACCESS)).changes() == [], "a second run changes nothing"


@pytest.mark.parametrize("user,repository,allowed", [
    ("ci", "hello", True), ("ci", "team-a/app", True), (PULL_USER, "team-a/app", True),
    ("alice", "hello", False), ("alice", "team-a/app", True), ("bob", "team-a/app", True), ("bob", "hello", False),
])
def test_docker_pulls_only_what_the_user_may_read(roles, user, repository, allowed):
    t, client, _, _ = roles
    tag = "latest" if repository == "hello" else "1"
    image = f"{_address(t)}/{repository}:{tag}"
    pulled = _docker(t, client, user, f"docker rmi -f {image} >/dev/null 2>&1; docker pull -q {image}")
    assert (pulled.rc == 0) == allowed, pulled.stderr


PUSHES = [
    ("ci", "team-a/ci", False), (PULL_USER, "team-a/pull", False), ("alice", "team-a/alice", True),
    ("alice", "team-b/alice", False), ("alice", "alice", False), ("bob", "team-a/bob", True), ("bob", "bob", False),
    ("admin", "admin-own", True),
]


@pytest.fixture(scope="module")
def docker_pushes(roles) -> dict:
    """Every push of PUSHES, all at once on the client host (Docker retries a refused push for 50 s: one after
    another they took minutes), each logged in on its own: {(user, repository): (exit status, stderr)}."""
    t, client, _, _ = roles
    for index, (user, repository, _) in enumerate(PUSHES):
        image, config = f"{_address(t)}/{repository}:1", f"/tmp/docker-push-{index}"
        client.host.check_output(
            f"rm -rf {config} && mkdir -p {config} && cat > {config}/password <<'EOF'\n{_password(user)}\nEOF\n"
            f"(export DOCKER_CONFIG={config}; docker login -u {user} --password-stdin {_address(t)}"
            f" < {config}/password >/dev/null && docker tag registry-sandbox/hello:1 {image}"
            f" && docker push -q {image}; echo $? > {config}/rc) >/dev/null 2>{config}/stderr &")
    done = {}
    for index, (user, repository, _) in enumerate(PUSHES):
        config = f"/tmp/docker-push-{index}"
        wait_for(lambda config=config: client.host.run(f"test -s {config}/rc").rc == 0, seconds=180, every=1)
        done[user, repository] = (int(client.host.check_output(f"cat {config}/rc")),
                                  client.host.check_output(f"cat {config}/stderr"))
    return done


@pytest.mark.parametrize("user,repository,allowed", PUSHES)
def test_docker_pushes_only_inside_the_users_pattern(docker_pushes, user, repository, allowed):
    status, stderr = docker_pushes[user, repository]
    assert (status == 0) == allowed, stderr
    if not allowed:
        assert "denied" in stderr


@pytest.mark.parametrize("user,repository,allowed", [
    ("ci", "team-a/skopeo-ci", False), ("alice", "team-a/skopeo-alice", True), ("alice", "skopeo-alice", False)])
def test_skopeo_pushes_a_multi_arch_image_only_inside_the_users_pattern(roles, tmp_path, user, repository, allowed):
    t, _, _, _ = roles
    done, _ = push_as(user, t.registry, f"{repository}:1", tmp_path)
    assert (done.returncode == 0) == allowed, done.stderr
    if allowed:
        assert pull_every_platform(t.registry, f"{repository}:1", tmp_path, user="ci").returncode == 0


@pytest.mark.parametrize("user,status", [("ci", 403), ("alice", 403), ("bob", 202)])
def test_only_the_admin_role_deletes_and_a_deleted_manifest_is_gone(roles, tmp_path, user, status):
    t, _, _, _ = roles
    done, pushed = push_as("bob", t.registry, f"team-a/delete-{user}:1", tmp_path)
    assert done.returncode == 0, done.stderr
    url = f"{t.registry}/v2/team-a/delete-{user}/manifests/{pushed.index}"
    assert session(user).delete(url, timeout=10).status_code == status
    after = session("admin").head(url, headers={"Accept": INDEX}, timeout=10).status_code
    assert after == (404 if status == 202 else 200)


@pytest.mark.parametrize("user,status", [("admin", 200), ("ci", 200), ("alice", 403), ("bob", 403),
                                         (PULL_USER, 403)])
def test_the_catalog_is_read_only_by_whom_the_operator_named(roles, user, status):
    t, _, _, _ = roles
    assert session(user).get(f"{t.registry}/v2/_catalog", timeout=10).status_code == status


@pytest.mark.parametrize("user,tags,delete", [("ci", 200, 403), ("bob", 200, 202)])
def test_the_ui_lists_tags_for_each_role_and_deletes_only_for_admins(roles, tmp_path, user, tags, delete):
    t, _, _, _ = roles
    done, pushed = push_as("admin", t.registry, f"team-a/ui-{user}:1", tmp_path)
    assert done.returncode == 0, done.stderr
    assert session(user).get(f"{t.ui}/v2/team-a/ui-{user}/tags/list", timeout=10).status_code == tags
    assert session(user).delete(f"{t.ui}/v2/team-a/ui-{user}/manifests/{pushed.index}",
                                timeout=10).status_code == delete


def test_a_role_taken_away_is_refused_on_the_next_run_without_restarting_the_registry(roles):
    t, _, _, _ = roles
    started = _started(t)
    assert session("ci").get(f"{t.registry}/v2/hello/tags/list", timeout=10).status_code == 200
    without_ci = [rule for rule in ACCESS if rule["users"] != ["ci"]]
    run = deploy("--limit", t.name, *_roles(without_ci))
    assert run.returncode == 0, run.stderr[-3000:]
    try:
        assert session("ci").get(f"{t.registry}/v2/hello/tags/list", timeout=10).status_code == 403
        assert _started(t) == started
    finally:
        restored = deploy("--limit", t.name, *_roles(ACCESS))  # raised first, the body's error is the one shown
    assert restored.returncode == 0, restored.stderr[-3000:]


def test_rules_moved_in_by_a_run_that_never_reloaded_are_loaded_by_the_next(roles, tmp_path):
    """The state a run killed (or whose SSH session dropped) between moving the new rules in and reloading
    the proxy leaves: the new file on the host, the old rules live. The next run must not take the file
    being in place for the rules being in force."""
    t, _, _, _ = roles
    without_ci = [rule for rule in ACCESS if rule["users"] != ["ci"]]
    data = Data({**vars(t.data), "registry_users": USERS, "registry_access": without_ci,
                 "registry_catalog_users": CATALOG})
    rules = tmp_path / PROXY_CONFIG
    rules.write_text(proxy_config(t.name, data))
    live = f"{t.data.registry_config_dir}/{PROXY_CONFIG}"
    upload(t.data.ssh_port, rules, f"{live}.new")
    t.host.check_output(f"chmod 600 {live}.new && mv {live}.new {live}")
    try:
        assert session("ci").get(f"{t.registry}/v2/hello/tags/list", timeout=10).status_code == 200, \
            "the old rules are still live"
        run = deploy("--limit", t.name, *_roles(without_ci))
        assert run.returncode == 0, run.stderr[-3000:]
        assert ("Access proxy | The access proxy reloads its rules and certificate (transfers in flight finish)",
                t.name) in run.changed()
        assert session("ci").get(f"{t.registry}/v2/hello/tags/list", timeout=10).status_code == 403
    finally:
        restored = deploy("--limit", t.name, *_roles(ACCESS))  # raised first, the body's error is the one shown
    assert restored.returncode == 0, restored.stderr[-3000:]


def test_wrong_passwords_are_refused_then_slowed_before_any_check(roles):
    t, _, _, _ = roles
    guesses = [session(None).get(f"{t.registry}/v2/", auth=("admin", f"guess-{n}"), timeout=10).status_code
               for n in range(40)]
    assert guesses[0] == 401 and guesses[-1] == 429
    assert session("admin").get(f"{t.registry}/v2/", timeout=10).status_code == 429, "from the same address"
