"""Safety: a change that cannot start never takes a working registry down; an unhealthy host fails with
its containers' logs; the UI can be switched off and back on."""


from core.host_files import probe_urls
from dev.operator import deploy
from sandbox.offline_images import HELLO_IMAGE
from sandbox.settings import ROOT
from tests.e2e.conftest import catalog, pull_back, session

# An image that is no registry: what a wrong registry_image looks like to the deploy.
NOT_A_REGISTRY = ["--data", f"registry_image={HELLO_IMAGE}", "--data", "registry_major_version=2",
                  "--data", "registry_health_timeout=3"]


def test_an_image_that_is_no_registry_never_replaces_the_working_one(targets, hello_pushed):
    t = targets[0]
    run = deploy("--limit", t.name, *NOT_A_REGISTRY)
    assert run.returncode != 0
    assert f"{HELLO_IMAGE} says it is registry (no version: is it a registry image?)" in run.stderr
    assert session().get(f"{t.registry}/v2/", timeout=10).json() == {}
    assert t.container(t.data.registry_container)["Config"]["Image"] == t.data.registry_image
    assert t.host.run(f"docker inspect {t.data.registry_container}-next").rc != 0, "nothing is left aside"
    pull_back(t, hello_pushed)
    rerun = deploy("--limit", t.name)  # puts the host scripts' settings back; the registry was never changed
    assert rerun.returncode == 0 and ("Registry | Registry container is running", t.name) not in rerun.changed()


def test_missing_registry_is_not_made_from_an_image_that_is_no_registry(targets, hello_pushed):
    t = targets[0]
    t.host.check_output(f"docker rm -f {t.data.registry_container}")
    try:
        run = deploy("--limit", t.name, *NOT_A_REGISTRY)
    finally:
        repair = deploy("--limit", t.name)
    assert run.returncode != 0
    assert f"{HELLO_IMAGE} says it is registry (no version: is it a registry image?)" in run.stderr
    assert repair.returncode == 0 and not repair.errors(), repair.stderr[-2000:]
    assert hello_pushed in catalog(t.registry), "the data outlived the missing container"
    pull_back(t, hello_pushed)


def test_registry_that_runs_but_does_not_answer_is_not_swapped_in(targets, hello_pushed):
    t = targets[0]
    # Without users (no access proxy in front), a real registry published on an address the deploy's probes
    # (and every client) do not reach.
    open_registry = ("--data", "registry_auth=none", "--data", "registry_ui_enabled=False")
    assert deploy("--limit", t.name, *open_registry).returncode == 0
    run = deploy("--limit", t.name, *open_registry, "--data", "registry_bind_address=127.0.0.2",
                 "--data", "registry_health_timeout=3")
    assert run.returncode != 0
    assert ("the new registry container did not keep running and answering as the old one did; the old one is"
            " kept") in run.stderr
    assert f"--- last log lines of {t.data.registry_container}-next:" in run.stderr
    assert session().get(f"{t.registry}/v2/", timeout=10).json() == {}
    assert t.host.run(f"docker inspect {t.data.registry_container}-next").rc != 0, "nothing is left aside"
    repair = deploy("--limit", t.name)
    assert repair.returncode == 0 and not repair.errors(), repair.stderr[-2000:]
    pull_back(t, hello_pushed)


def test_users_turned_off_with_a_registry_that_does_not_answer_leave_the_proxy_serving(targets, hello_pushed):
    """The access proxy gives registry_port up only for the swap: when the registry that would serve the
    port itself does not answer, the old registry and the proxy in front of it serve again, users on."""
    t = targets[0]
    run = deploy("--limit", t.name, "--data", "registry_auth=none", "--data", "registry_ui_enabled=False",
                 "--data", "registry_bind_address=127.0.0.2", "--data", "registry_health_timeout=3")
    assert run.returncode != 0
    assert "the new registry container did not keep running and answering as the old one did; the old one is" \
           " kept" in run.stderr
    assert t.container(t.data.registry_auth_proxy_container)["State"]["Running"]
    assert session(None).get(f"{t.registry}/v2/", timeout=10).status_code == 401, "users are still on"
    assert session().get(f"{t.registry}/v2/", timeout=10).json() == {}
    repair = deploy("--limit", t.name)
    assert repair.returncode == 0 and not repair.errors(), repair.stderr[-2000:]
    pull_back(t, hello_pushed)


def test_unhealthy_host_fails_the_gate_and_shows_the_containers_logs(targets, hello_pushed):
    t = targets[0]
    t.host.check_output(f"docker pause {t.data.registry_container}")
    try:
        run = deploy("--limit", t.name, "--data", "registry_health_timeout=3")
    finally:
        t.host.check_output(f"docker unpause {t.data.registry_container}")
    assert run.returncode != 0
    assert f"unhealthy: registry: GET {probe_urls(t.name, t.data)[0]}/v2/ gave no answer" in run.stderr
    assert f"--- last log lines of {t.data.registry_container}:" in run.stderr
    assert deploy("--limit", t.name).returncode == 0
    pull_back(t, hello_pushed)


def test_ui_can_be_switched_off_and_back_on(targets, hello_pushed):
    t = targets[1]
    off = deploy("--limit", t.name, "--data", "registry_ui_enabled=False")
    assert off.returncode == 0 and ("Registry UI | Registry UI container is absent", t.name) in off.changed()
    assert t.host.run(f"docker inspect {t.data.registry_ui_container}").rc != 0
    assert session().get(f"{t.registry}/v2/", timeout=10).json() == {}

    on = deploy("--limit", t.name)
    assert on.returncode == 0 and ("Registry UI | Registry UI container is running", t.name) in on.changed()
    assert hello_pushed in catalog(t.ui)
    assert deploy("--limit", t.name).changes() == []


def test_config_that_cannot_start_never_replaces_the_working_one(targets, hello_pushed, tmp_path):
    t = targets[1]
    live = f"{t.data.registry_config_dir}/writable.yml"
    before = t.host.file(live).sha256sum
    broken = tmp_path / "config.yml"
    broken.write_text((ROOT / t.data.registry_config_src).read_text().replace("log:", "log:\n  level: nosuchlevel"))

    run = deploy("--limit", t.name, "--data", f"registry_config_src={broken}")
    assert run.returncode != 0
    assert "the new configuration does not start" in run.stderr and "invalid loglevel nosuchlevel" in run.stderr
    assert t.host.file(live).sha256sum == before
    assert not t.host.file(f"{t.data.registry_config_dir}.next").exists
    assert session().get(f"{t.registry}/v2/", timeout=10).json() == {}
    pull_back(t, hello_pushed)
    assert deploy("--limit", t.name).changes() == []
