"""Drift: a re-run repairs exactly what changed on a host, keeps the data, then reports nothing.

Each scenario pushes an image first, drifts the host by hand, checks that `--dry` names the drift,
re-runs the deploy, checks the repair, pulls the image back, and checks a further run changes nothing.
"""

import json

import pytest
import yaml

from dev.operator import deploy
from tests.e2e.conftest import catalog, pull_back

REGISTRY_OPS = "Registry | Registry container is running"
UI_OP = "Registry UI | Registry UI container is running"
PROXY_OP = "Access proxy | Access proxy container is running"


def _run_args(t, **overrides):
    """`docker run` arguments for a registry made by hand, as an operator would type them."""
    data = t.data
    args = {
        "port": f"127.0.0.1:{data.registry_backend_port}",  # where the deploy publishes it, behind the proxy
        "image": data.registry_image,
        "env": "",
    }
    args.update(overrides)
    storage = (f"type=volume,src={data.registry_volume}" if data.registry_storage == "volume"
               else f"type=bind,src={data.registry_bind_path}")
    return (f"docker rm -f {data.registry_container} && docker run -d --name {data.registry_container}"
            f" --restart always -p {args['port']}:5000 --mount {storage},dst=/var/lib/registry"
            f" -v {data.registry_config_dir}:/etc/docker/registry:ro"
            f" {args['env']} {args['image']}")


def _build_other_registry_tag(t):
    t.host.check_output(f"printf 'FROM {t.data.registry_image}\\nLABEL drift=yes\\n'"
                        f" | docker build -q -t {t.data.registry_image}-drift -")
    return _run_args(t, image=f"{t.data.registry_image}-drift")


SCENARIOS = {
    "registry removed": (0, lambda t: f"docker rm -f {t.data.registry_container}",
                         REGISTRY_OPS, "container registry is missing"),
    "ui stopped": (0, lambda t: f"docker stop {t.data.registry_ui_container}", UI_OP,
                   "container registry-ui is stopped"),
    "registry by hand with deletes off": (0, lambda t: _run_args(t, env="-e REGISTRY_STORAGE_DELETE_ENABLED=false"),
                                          REGISTRY_OPS, "env REGISTRY_STORAGE_DELETE_ENABLED: false -> (unset)"),
    "registry on another port": (1, lambda t: _run_args(t, port=5002), REGISTRY_OPS,
                                 "port 5000: 5002 -> 127.0.0.1:5001"),
    "access proxy removed": (0, lambda t: f"docker rm -f {t.data.registry_auth_proxy_container}", PROXY_OP,
                             "container registry-auth is missing"),
    "access rules edited": (1, lambda t: f"sed -i 's/ admin_methods$/ push_methods/' {t.data.registry_config_dir}"
                                         "/haproxy.cfg", "Access proxy | The access rules are checked and in place",
                            None),
    "registry from another tag": (1, _build_other_registry_tag, REGISTRY_OPS, "image: "),
    "ui on a wrong registry url": (0, lambda t: (
        f"docker rm -f {t.data.registry_ui_container} && docker run -d --name {t.data.registry_ui_container}"
        " --restart always"
        f" -p {t.data.registry_ui_port}:80 -e NGINX_PROXY_PASS_URL=http://127.0.0.1:5999 -e SINGLE_REGISTRY=true"
        f" -e DELETE_IMAGES=true -e 'REGISTRY_TITLE={t.data.registry_ui_title}' {t.data.registry_ui_image}"),
        UI_OP, "env NGINX_PROXY_PASS_URL: http://127.0.0.1:5999 -> https://"),
    "config edited": (1, lambda t: f"sed -i 's/enabled: true/enabled: false/' {t.data.registry_config_dir}"
                                   "/writable.yml",
                      "Registry | Registry configuration is in place",
                      "writable.yml differs from what the data renders"),
    "daemon.json edited": (0, lambda t: "sed -i 's/\"max-file\": \"3\"/\"max-file\": \"9\"/' /etc/docker/daemon.json",
                           "Docker engine | Docker daemon configuration is in place (a running engine reloads or"
                           " restarts for it)", "log-opts changed: the engine restarts"),
    "docker disabled and stopped": (1, lambda t: "systemctl disable --now docker.service docker.socket",
                                    "Docker engine | Docker engine is running and enabled", None),
    "bind directory mode changed": (1, lambda t: f"chmod 0777 {t.data.registry_bind_path}",
                                    "Registry storage | Registry directory /mnt/registry exists", None),
}


def _env(t, container) -> dict:
    return dict(e.split("=", 1) for e in t.container(container)["Config"]["Env"])


def _running(t, container) -> bool:
    return t.container(container)["State"]["Running"]


# What each scenario's repair leaves on the host, read from the host itself.
REPAIRED = {
    "registry removed": lambda t: _running(t, t.data.registry_container),
    "ui stopped": lambda t: _running(t, t.data.registry_ui_container),
    "registry by hand with deletes off": lambda t: "REGISTRY_STORAGE_DELETE_ENABLED" not in _env(
        t, t.data.registry_container),
    "registry on another port": lambda t: t.container(t.data.registry_container)["HostConfig"]["PortBindings"][
        "5000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(t.data.registry_backend_port)}],
    "access proxy removed": lambda t: _running(t, t.data.registry_auth_proxy_container),
    "access rules edited": lambda t: t.host.run(
        f"grep -q ' admin_methods$' {t.data.registry_config_dir}/haproxy.cfg").rc == 0,
    "registry from another tag": lambda t: t.container(t.data.registry_container)["Config"]["Image"]
    == t.data.registry_image,
    "ui on a wrong registry url": lambda t: _env(t, t.data.registry_ui_container)["NGINX_PROXY_PASS_URL"].startswith(
        "https://"),
    "config edited": lambda t: yaml.safe_load(t.host.file(f"{t.data.registry_config_dir}/writable.yml")
                                              .content_string)["storage"]["delete"] == {"enabled": True},
    "daemon.json edited": lambda t: json.loads(t.host.file("/etc/docker/daemon.json").content_string)["log-opts"][
        "max-file"] == "3",
    "docker disabled and stopped": lambda t: t.host.service("docker").is_enabled and t.host.service(
        "docker").is_running,
    "bind directory mode changed": lambda t: t.host.file(t.data.registry_bind_path).mode == 0o700,
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_drift_is_named_repaired_and_data_kept(targets, hello_pushed, name):
    index, drift, operation, reason = SCENARIOS[name]
    t = targets[index]
    assert hello_pushed in catalog(t.registry)
    t.host.check_output(drift(t))

    dry = deploy("--limit", t.name, dry=True)
    planned = [p["name"] for p in json.loads(dry.stdout)["plan"] if t.name in p["hosts_with_change"]]
    assert operation in planned, dry.stderr[-2000:]
    if reason:
        assert reason in dry.stderr

    repair = deploy("--limit", t.name)
    assert repair.returncode == 0 and not repair.errors(), repair.stderr[-3000:]
    assert (operation, t.name) in repair.changed()
    assert REPAIRED[name](t), f"the host is repaired: {name}"

    assert hello_pushed in catalog(t.registry)
    pull_back(t, hello_pushed)
    again = deploy("--limit", t.name)
    assert again.changes() == []


def test_one_run_repairs_everything_that_drifted_at_once(targets, hello_pushed):
    t = targets[1]
    data = t.data
    t.host.check_output(" && ".join([
        "sed -i 's/\"max-file\": \"3\"/\"max-file\": \"9\"/' /etc/docker/daemon.json",
        f"sed -i 's/enabled: true/enabled: false/' {data.registry_config_dir}/writable.yml",
        f"chmod 0777 {data.registry_bind_path}",
        _run_args(t, port=5002),
    ]))
    repair = deploy("--limit", t.name)
    assert repair.returncode == 0 and not repair.errors(), repair.stderr[-3000:]
    assert t.host.service("docker").is_enabled and t.host.service("docker").is_running
    assert json.loads(t.host.file("/etc/docker/daemon.json").content_string)["log-opts"]["max-file"] == "3"
    config = yaml.safe_load(t.host.file(f"{data.registry_config_dir}/writable.yml").content_string)
    assert config["storage"]["delete"] == {"enabled": True}
    registry = t.container(data.registry_container)
    assert registry["Config"]["Image"] == data.registry_image
    assert registry["HostConfig"]["PortBindings"]["5000/tcp"][0]["HostPort"] == str(data.registry_backend_port)
    assert t.host.file(data.registry_bind_path).mode == 0o700
    pull_back(t, hello_pushed)
    assert deploy("--limit", t.name).changes() == []


def test_clean_host_dry_run_plans_nothing(targets):
    dry = deploy(dry=True)
    assert [p["name"] for p in json.loads(dry.stdout)["plan"] if p["hosts_with_change"]] == []
