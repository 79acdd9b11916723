"""Maintenance on both storage modes: garbage collection, repository deletion, pruning, scheduled GC."""

import pytest
import requests

from tests.e2e.conftest import catalog, pull_back
from tests.support import deploy

ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
BLOBS = "/var/lib/registry/docker/registry/v2/blobs/sha256"
REPOSITORIES = "/var/lib/registry/docker/registry/v2/repositories"


def push_unique(t, reference, size=300_000):
    """Build `reference` on the host from hello plus a layer of its own random bytes, and push it."""
    port = t.data.registry_port
    context = f"/tmp/build-{reference.replace('/', '-').replace(':', '-')}"
    t.host.check_output(
        f"rm -rf {context} && mkdir -p {context} && head -c {size} /dev/urandom > {context}/unique"
        f" && printf 'FROM localhost:{port}/hello\\nCOPY unique /unique\\n' > {context}/Dockerfile"
        f" && docker build -q -t localhost:{port}/{reference} {context} >/dev/null"
        f" && docker push -q localhost:{port}/{reference}"
    )


def manifest(t, repository, tag):
    answer = requests.get(f"{t.registry}/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT}, timeout=10)
    answer.raise_for_status()
    return answer.headers["Docker-Content-Digest"], {layer["digest"] for layer in answer.json()["layers"]}


def on_disk(t, digest):
    hex_ = digest.split(":")[1]
    return t.host.run(f"docker exec {t.data.registry_container} test -f {BLOBS}/{hex_[:2]}/{hex_}/data").rc == 0


def repository_dir_exists(t, name):
    return t.host.run(f"docker exec {t.data.registry_container} test -d {REPOSITORIES}/{name}").rc == 0


def test_gc_frees_a_deleted_tags_unique_layer_and_keeps_the_shared_one(target, hello_pushed):
    push_unique(target, "gcapp:v1")
    push_unique(target, "gcapp:v2")
    digest1, layers1 = manifest(target, "gcapp", "v1")
    _, layers2 = manifest(target, "gcapp", "v2")
    (unique1,), shared = layers1 - layers2, layers1 & layers2
    assert shared, "both tags share hello's base layer"
    assert requests.delete(f"{target.registry}/v2/gcapp/manifests/{digest1}", timeout=10).status_code == 202

    dry = deploy("--limit", target.name, "--data", "gc_dry_run=True", file="gc.py")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "blobs would go; nothing removed" in dry.stderr and on_disk(target, unique1)

    run = deploy("--limit", target.name, file="gc.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "before: " in run.stderr and "after: " in run.stderr
    assert not on_disk(target, unique1)
    assert all(on_disk(target, digest) for digest in shared | layers2)
    pull_back(target, "gcapp:v2")


def test_deleted_repository_is_gone_from_catalog_ui_and_disk(target, hello_pushed):
    push_unique(target, "team/app:1")
    assert "team/app" in catalog(target.registry) and repository_dir_exists(target, "team/app")

    run = deploy("--limit", target.name, "--data", "repositories=team/app", file="delete_repos.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "team/app" not in catalog(target.registry)
    assert "team/app" not in catalog(target.ui)
    assert not repository_dir_exists(target, "team/app")
    pull_back(target, hello_pushed)


def test_prune_removes_repositories_left_empty_by_a_ui_delete(target, hello_pushed):
    push_unique(target, "lonely:1")
    digest, _ = manifest(target, "lonely", "1")
    assert requests.delete(f"{target.registry}/v2/lonely/manifests/{digest}", timeout=10).status_code == 202
    assert "lonely" in catalog(target.registry), "the registry API alone leaves the empty repository"

    run = deploy("--limit", target.name, file="prune_repos.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "pruned empty repository lonely" in run.stderr
    assert "lonely" not in catalog(target.registry) and hello_pushed in catalog(target.registry)


PULL_LOOP = """
mark=/run/registry-maintenance.read-only
url=http://127.0.0.1:{port}/v2
until [ -e $mark ]; do sleep 0.01; done
docker push localhost:{port}/pushprobe:1 > /tmp/push.out 2>&1; echo $? > /tmp/push.rc
pulls=0; failed=0
while [ -e $mark ]; do
    if curl -sf -H 'Accept: {accept}' $url/hello/manifests/latest -o /dev/null $url/hello/blobs/{layer} -o /dev/null
    then
        pulls=$((pulls + 1))
    elif [ -e $mark ]; then
        failed=$((failed + 1))
    fi
done
echo "$pulls $failed" > /tmp/pulls.result
"""


def test_pulls_work_and_pushes_are_refused_during_gc_then_pushes_work(targets, hello_pushed):
    t = targets[0]
    port = t.data.registry_port
    _, layers = manifest(t, "hello", "latest")
    t.host.check_output(
        f"mkdir -p /tmp/probe && head -c 100000 /dev/urandom > /tmp/probe/unique"
        f" && printf 'FROM localhost:{port}/hello\\nCOPY unique /unique\\n' > /tmp/probe/Dockerfile"
        f" && docker build -q -t localhost:{port}/pushprobe:1 /tmp/probe >/dev/null && rm -f /tmp/pulls.result")
    script = PULL_LOOP.format(port=port, accept=ACCEPT, layer=sorted(layers)[0])
    t.host.check_output(f"cat > /tmp/pull-loop.sh <<'EOF'\n{script}\nEOF\nnohup sh /tmp/pull-loop.sh >/dev/null 2>&1 &")

    run = deploy("--limit", t.name, file="gc.py")
    assert run.returncode == 0, run.stderr[-3000:]

    pulls, failed = map(int, t.host.check_output("cat /tmp/pulls.result").split())
    assert pulls > 0 and failed == 0
    assert t.host.check_output("cat /tmp/push.rc") != "0", "a push during GC is refused"
    # The registry's read-only mode answers writes 405 Method Not Allowed: refused before any upload.
    assert "HTTP 405" in t.host.check_output("cat /tmp/push.out")
    t.host.check_output(f"docker push -q localhost:{port}/pushprobe:1")


BAD_REQUESTS = [
    (["--data", "repositories=../etc"], "'../etc' is not a repository name"),
    (["--data", "repositories=/var/lib/registry"], "'/var/lib/registry' is not a repository name"),
    (["--data", "repositories=Team/App"], "'Team/App' is not a repository name"),
    (["--data", "repositories=no/such-repo"], "no such repository: no/such-repo"),
    (["--data", "repositories=hello", "--data", "registry_delete_enabled=False"],
     "registry_delete_enabled is False: deleting repositories is refused"),
    ([], "Name the repositories to delete"),
]


@pytest.mark.parametrize("args,message", BAD_REQUESTS, ids=[a[-1] if a else "none" for a, _ in BAD_REQUESTS])
def test_bad_repository_requests_are_refused_and_nothing_changes(targets, hello_pushed, args, message):
    t = targets[0]
    listing = f"docker exec {t.data.registry_container} find /var/lib/registry | sort"
    before = t.host.check_output(listing)
    run = deploy("--limit", t.name, *args, file="delete_repos.py")
    assert run.returncode != 0
    assert message in run.stderr
    assert t.host.check_output(listing) == before


def test_scheduled_gc_timer_runs_the_same_sequence_and_goes_away(targets):
    t = targets[1]
    on = deploy("--limit", t.name, "--data", "gc_schedule=Sun *-*-* 03:00:00")
    assert on.returncode == 0, on.stderr[-2000:]
    assert t.host.service("registry-gc.timer").is_enabled
    assert t.host.run("systemctl start registry-gc.service").rc == 0
    assert "writable again" in t.host.check_output("journalctl -u registry-gc.service --no-pager")

    off = deploy("--limit", t.name)
    assert off.returncode == 0 and off.changed()
    assert not t.host.file("/etc/systemd/system/registry-gc.timer").exists
    assert (deploy("--limit", t.name).changed()) == []
