"""Maintenance on both storage modes: garbage collection, repository deletion, pruning, scheduled GC; what
status.py says of each registry."""

from datetime import UTC, datetime

import pytest
import yaml
from cryptography import x509

from dev.operator import ROOT, deploy, status, status_output
from tests.e2e.chores import (
    chore_output,
    pull_outages,
    push_unique,
    release_chore,
    start_chore,
    start_pull_loop,
    stop_pull_loop,
    upload_status,
    wait_for_chore,
)
from tests.e2e.conftest import catalog, manifest, pull_back, session

BLOBS = "/var/lib/registry/docker/registry/v2/blobs/sha256"
REPOSITORIES = "/var/lib/registry/docker/registry/v2/repositories"


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
    assert session().delete(f"{target.registry}/v2/gcapp/manifests/{digest1}", timeout=10).status_code == 202

    dry = deploy("--limit", target.name, "--data", "registry_gc_dry_run=True", file="gc.py")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "would go; nothing removed" in dry.stderr and on_disk(target, unique1)

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


def test_deleting_a_repository_leaves_the_ones_nested_under_it(target, hello_pushed):
    push_unique(target, "nest/app:1")
    push_unique(target, "nest:1")
    run = deploy("--limit", target.name, "--data", "repositories=nest", file="delete_repos.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "nest" not in catalog(target.registry) and "nest/app" in catalog(target.registry)
    assert repository_dir_exists(target, "nest/app/_manifests")
    assert not repository_dir_exists(target, "nest/_manifests")
    pull_back(target, "nest/app:1")


def test_prune_removes_repositories_left_empty_by_a_ui_delete(target, hello_pushed):
    push_unique(target, "lonely:1")
    digest, _ = manifest(target, "lonely", "1")
    assert session().delete(f"{target.registry}/v2/lonely/manifests/{digest}", timeout=10).status_code == 202
    assert "lonely" in catalog(target.registry), "the registry API alone leaves the empty repository"

    run = deploy("--limit", target.name, file="prune_repos.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "pruned empty repository lonely" in run.stderr
    assert "lonely" not in catalog(target.registry) and hello_pushed in catalog(target.registry)


def test_pulls_never_fail_during_gc_while_the_read_only_twin_serves(targets, hello_pushed):
    """Behind the access proxy the registry's read-only twin serves while the registry restarts read-only and
    back: pulls through the proxy never fail, the two restarts included."""
    t = targets[0]
    _, layers = manifest(t, "hello", "latest")
    start_pull_loop(t, "hello", "latest", sorted(layers)[0])
    started = start_chore(t, "gc")  # held read-only while it collects
    during = t.host.check_output("sleep 2; wc -l < /tmp/pulls.log")
    t.host.check_output("sleep 1")
    held = t.host.check_output("tail -n 5 /tmp/pulls.log")
    release_chore(t)
    wait_for_chore(t)
    log = stop_pull_loop(t)
    assert "writable again" in chore_output(t, started)

    outages = pull_outages(log)
    print(f"pulls: {log.count(' ok')} ok, {log.count(' failed')} failed; outages (s): {outages}")
    assert int(t.host.check_output("wc -l < /tmp/pulls.log")) > int(during) and "failed" not in held, \
        "every pull succeeds while the registry is read-only"
    assert " failed" not in log and not outages, "not even across the two restarts"


def test_push_while_read_only_is_refused_with_405_then_pushes_work(targets, hello_pushed):
    t = targets[0]
    port = t.data.registry_port
    t.host.check_output(
        f"mkdir -p /tmp/probe && head -c 100000 /dev/urandom > /tmp/probe/unique"
        f" && printf 'FROM localhost:{port}/hello\\nCOPY unique /unique\\n' > /tmp/probe/Dockerfile"
        f" && docker build -q -t localhost:{port}/pushprobe:1 /tmp/probe >/dev/null")
    start_chore(t, "gc")
    try:
        refused = t.host.run(f"docker push localhost:{port}/pushprobe:1")
    finally:
        release_chore(t)
        wait_for_chore(t)
    assert refused.rc != 0 and "405" in refused.stdout + refused.stderr
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
    on = deploy("--limit", t.name, "--data", "registry_gc_schedule=Sun *-*-* 03:00:00")
    assert on.returncode == 0, on.stderr[-2000:]
    assert t.host.service("registry-gc.timer").is_enabled
    since = t.host.check_output("date +%s")
    assert t.host.run("systemctl start registry-gc.service").rc == 0
    said = t.host.check_output(f"journalctl -u registry-gc.service --since @{since} --no-pager -o cat")
    assert "writable again" in said
    assert "nothing to repair" in said, "the unit's stop check found the registry writable"

    off = deploy("--limit", t.name)
    assert off.returncode == 0 and off.changed()
    assert not t.host.file("/etc/systemd/system/registry-gc.timer").exists
    assert (deploy("--limit", t.name).changed()) == []


UPLOAD_PURGING = {"enabled": True, "age": "168h", "interval": "24h", "dryrun": False}


def test_config_with_its_own_maintenance_block_is_read_only_during_gc_and_keeps_it(targets, hello_pushed, tmp_path):
    t = targets[1]
    config = yaml.safe_load((ROOT / t.data.registry_config_src).read_text())
    config["storage"]["maintenance"] = {"uploadpurging": UPLOAD_PURGING}
    custom = tmp_path / "config.yml"
    custom.write_text(yaml.safe_dump(config))
    run = deploy("--limit", t.name, "--data", f"registry_config_src={custom}")
    assert run.returncode == 0, run.stderr[-3000:]
    try:
        for name, mode in (("writable.yml", {}), ("readonly.yml", {"readonly": {"enabled": True}})):
            on_host = yaml.safe_load(t.host.file(f"{t.data.registry_config_dir}/{name}").content_string)
            assert on_host["storage"]["maintenance"] == {"uploadpurging": UPLOAD_PURGING, **mode}
        start_chore(t, "gc")
        try:
            assert upload_status(t) == "405"
        finally:
            release_chore(t)
            wait_for_chore(t)
        assert upload_status(t) == "202"
    finally:
        assert deploy("--limit", t.name).returncode == 0
    pull_back(t, hello_pushed)


@pytest.fixture(scope="module")
def empty(spare):
    """The spare host's registry made anew on a volume of its own that nothing was ever pushed to. (Its
    container goes first: pointing a registry that holds data at empty storage is refused.)"""
    spare.host.check_output(f"docker rm -f {spare.data.registry_container}")
    run = deploy("--limit", spare.name, "--data", "registry_volume=never-pushed")
    assert run.returncode == 0, run.stderr[-3000:]
    yield spare
    spare.host.check_output(f"docker rm -f {spare.data.registry_container}")
    assert deploy("--limit", spare.name).returncode == 0


@pytest.mark.parametrize("file,args,message", [
    ("gc.py", [], "nothing to collect: the registry holds no blob"),
    ("gc.py", ["--data", "registry_gc_dry_run=True"], "nothing to collect: the registry holds no blob"),
    ("prune_repos.py", [], "nothing to prune: every repository has a tag"),
])
def test_chores_on_a_registry_that_holds_nothing_say_so_and_succeed(empty, file, args, message):
    run = deploy("--limit", empty.name, "--data", "registry_volume=never-pushed", *args, file=file)
    assert run.returncode == 0, run.stderr[-3000:]
    assert message in run.stderr


def test_deleting_from_a_registry_that_holds_nothing_is_refused(empty):
    run = deploy("--limit", empty.name, "--data", "registry_volume=never-pushed", "--data", "repositories=hello",
                 file="delete_repos.py")
    assert run.returncode != 0 and "no such repository: hello; nothing was deleted" in run.stderr


def test_scheduled_gc_on_a_registry_that_holds_nothing_ends_successfully(empty):
    on = deploy("--limit", empty.name, "--data", "registry_volume=never-pushed", "--data",
                "registry_gc_schedule=Sun *-*-* 03:00:00")
    assert on.returncode == 0, on.stderr[-2000:]
    assert empty.host.run("systemctl start registry-gc.service").rc == 0
    assert empty.host.service("registry-gc.service").systemd_properties["Result"] == "success"


def _tag_count(t) -> tuple[int, int]:
    """(repositories with a tag, tags) as the registry's API lists them."""
    listed = [session().get(f"{t.registry}/v2/{name}/tags/list", timeout=10).json()["tags"] or []
              for name in catalog(t.registry)]
    return len([tags for tags in listed if tags]), sum(len(tags) for tags in listed)


def _certificate_days_left(t) -> int:
    pem = t.host.file(f"{t.data.registry_config_dir}/registry.crt").content
    expires = x509.load_pem_x509_certificate(pem).not_valid_after_utc
    return (expires - datetime.now(UTC)).days


def test_status_shows_each_registry_as_it_is_and_its_last_chore(targets, hello_pushed):
    """status.py's JSON, each field compared with what the host and the registry's API say themselves."""
    gc = deploy("--limit", targets[0].name, file="gc.py")
    assert gc.returncode == 0, gc.stderr[-3000:]
    found = status(*[flag for t in targets for flag in ("--limit", t.name)])
    assert sorted(found) == sorted(t.name for t in targets)
    for t in targets:
        registry = found[t.name]["registry"]
        container = t.container(t.data.registry_container)
        assert registry["image"] == container["Config"]["Image"] and registry["state"] == "running"
        place = {"volume": f"volume {t.data.registry_volume}", "bind": f"bind {t.data.registry_bind_path}"}
        assert registry["storage"] == place[t.data.registry_storage]
        assert tuple(registry["tags"]) == _tag_count(t)
        assert registry["read_only"] is None and upload_status(t) == "202"
        assert registry["running"] is None
        assert abs(found[t.name]["certificate"]["days_left"] - _certificate_days_left(t)) <= 1
    chore, how, _ = found[targets[0].name]["registry"]["last_chore"]
    assert (chore, how) == ("gc", "ok")
    table = status_output("--limit", targets[0].name)
    assert "writable; no chore running" in table and "last chore   gc ok at " in table
