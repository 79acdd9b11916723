"""The drift decision: `docker inspect` documents in, action and reasons out."""

import copy
import shlex

import pytest

from ops.container import ContainerSpec, Mount, compare

SPEC = ContainerSpec(
    name="registry",
    image="registry:2.8.3",
    env={"REGISTRY_STORAGE_DELETE_ENABLED": "true"},
    ports={5000: 5000},
    mounts=(Mount("volume", "registry-vol", "/var/lib/registry"),
            Mount("bind", "/etc/registry", "/etc/docker/registry", True)),
    labels={"io.registry-deploy.config-sha256": "abc"},
)
IMAGE = {"Id": "sha256:" + "1" * 64,
         "Config": {"Env": ["PATH=/usr/bin"], "Labels": {"org.opencontainers.image.version": "2.8.3"}}}
RUNNING = {
    "Image": IMAGE["Id"],
    "State": {"Running": True},
    "Config": {
        "Image": "registry:2.8.3",
        "Env": ["REGISTRY_STORAGE_DELETE_ENABLED=true", "PATH=/usr/bin"],
        "Labels": {"io.registry-deploy.config-sha256": "abc", "org.opencontainers.image.version": "2.8.3"},
    },
    "HostConfig": {"PortBindings": {"5000/tcp": [{"HostIp": "", "HostPort": "5000"}]},
                   "RestartPolicy": {"Name": "always"}},
    "Mounts": [
        {"Type": "volume", "Name": "registry-vol", "Source": "/var/lib/docker/volumes/registry-vol/_data",
         "Destination": "/var/lib/registry", "RW": True},
        {"Type": "bind", "Source": "/etc/registry", "Destination": "/etc/docker/registry", "RW": False},
    ],
}


def drifted(change):
    doc = copy.deepcopy(RUNNING)
    change(doc)
    return doc


def test_matching_running_container_needs_nothing():
    assert compare(SPEC, RUNNING, IMAGE) == ("none", [])


def test_missing_container_is_created():
    assert compare(SPEC, None, IMAGE)[0] == "create"


def test_stopped_container_is_started():
    doc = drifted(lambda d: d["State"].update(Running=False))
    assert compare(SPEC, doc, IMAGE) == ("start", ["container registry is stopped"])


DRIFTS = {
    "deletes off": (lambda d: d["Config"].update(Env=["REGISTRY_STORAGE_DELETE_ENABLED=false", "PATH=/usr/bin"]),
                    "env REGISTRY_STORAGE_DELETE_ENABLED: false -> true"),
    "env missing": (lambda d: d["Config"].update(Env=["PATH=/usr/bin"]),
                    "env REGISTRY_STORAGE_DELETE_ENABLED: (unset) -> true"),
    "extra env": (lambda d: d["Config"]["Env"].append("REGISTRY_HTTP_SECRET=x"),
                  "env REGISTRY_HTTP_SECRET: x -> (unset)"),
    "other port": (lambda d: d["HostConfig"].update(PortBindings={"5000/tcp": [{"HostIp": "", "HostPort": "5001"}]}),
                   "port 5000: 5001 -> 5000"),
    "loopback only": (lambda d: d["HostConfig"]["PortBindings"]["5000/tcp"][0].update(HostIp="127.0.0.1"),
                      "port 5000: 127.0.0.1:5000 -> 5000"),
    "other image": (lambda d: d.update(Image="sha256:" + "2" * 64),
                    "image: registry:2.8.3 (222222222222) -> registry:2.8.3 (111111111111)"),
    "restart policy": (lambda d: d["HostConfig"].update(RestartPolicy={"Name": "no"}),
                       "restart policy: no -> always"),
    "host network": (lambda d: d["HostConfig"].update(NetworkMode="host"), "network: host -> default"),
    "other user": (lambda d: d["Config"].update(User="0"), "user: 0 -> (image)"),
    "config changed": (lambda d: d["Config"]["Labels"].update({"io.registry-deploy.config-sha256": "old"}),
                       "label io.registry-deploy.config-sha256: old -> abc"),
    "anonymous volume": (lambda d: d["Mounts"].__setitem__(0, {
        "Type": "volume", "Name": "f00", "Source": "/x", "Destination": "/var/lib/registry", "RW": True}),
        "mount type=volume,src=f00,dst=/var/lib/registry: unwanted"),
    "config writable": (lambda d: d["Mounts"][1].update(RW=True),
                        "mount type=bind,src=/etc/registry,dst=/etc/docker/registry,readonly: missing"),
}


@pytest.mark.parametrize("change,reason", DRIFTS.values(), ids=DRIFTS.keys())
def test_drift_is_recreated_and_named(change, reason):
    action, reasons = compare(SPEC, drifted(change), IMAGE)
    assert action == "recreate"
    assert reason in reasons


def test_env_and_labels_the_image_sets_are_not_drift_but_ours_are():
    doc = drifted(lambda d: (d["Config"]["Env"].append("FROM_IMAGE=1"), d["Config"]["Labels"].update(mine="x")))
    image = {**IMAGE, "Config": {**IMAGE["Config"], "Env": ["PATH=/usr/bin", "FROM_IMAGE=1"]}}
    assert compare(SPEC, doc, image) == ("recreate", ["label mine: x -> (unset)"])


def test_image_not_on_host_compares_by_tag():
    doc = drifted(lambda d: d["Config"].update(Image="registry:2.7.1"))
    assert compare(SPEC, doc, None) == ("recreate", ["image: registry:2.7.1 -> registry:2.8.3"])


def test_drifted_and_stopped_is_recreated_not_just_started():
    doc = drifted(lambda d: (d["State"].update(Running=False), d["HostConfig"].update(RestartPolicy={})))
    assert compare(SPEC, doc, IMAGE)[0] == "recreate"


def test_replace_command_holds_every_setting_as_separate_words():
    words = shlex.split(SPEC.replace_command())
    assert words[:3] == ["/usr/local/sbin/registry-container", "replace", "registry"]
    arguments = words[3:]
    pairs = set(zip(arguments, arguments[1:], strict=False))
    for pair in [("--restart", "always"), ("--publish", "5000:5000"), ("--env", "REGISTRY_STORAGE_DELETE_ENABLED=true"),
                 ("--mount", "type=volume,src=registry-vol,dst=/var/lib/registry"),
                 ("--mount", "type=bind,src=/etc/registry,dst=/etc/docker/registry,readonly"),
                 ("--label", "io.registry-deploy.config-sha256=abc")]:
        assert pair in pairs
    assert arguments[-1] == "registry:2.8.3"


def test_an_env_value_with_shell_characters_stays_one_word():
    spec = ContainerSpec("ui", "ui:2", env={"REGISTRY_TITLE": "it's $(rm -rf /) & more"})
    assert "REGISTRY_TITLE=it's $(rm -rf /) & more" in shlex.split(spec.replace_command())


def test_gateway_is_filled_into_env_values():
    spec = ContainerSpec("ui", "ui:2", env={"NGINX_PROXY_PASS_URL": "http://{bridge_gateway}:5000"})
    assert spec.with_gateway("172.18.0.1").env == {"NGINX_PROXY_PASS_URL": "http://172.18.0.1:5000"}


def test_leftover_replacement_beside_a_matching_container_is_tidied():
    assert compare(SPEC, RUNNING, IMAGE, aside=True) == (
        "tidy", ["container registry-next was left aside by an interrupted replace"])


def test_missing_container_with_its_replacement_left_is_created_by_adoption():
    action, reasons = compare(SPEC, None, IMAGE, aside=True)
    assert action == "create" and reasons[-1].startswith("container registry-next was left aside")


def test_a_stop_timeout_shorter_than_the_drain_is_drift():
    spec = ContainerSpec(**{**SPEC.__dict__, "stop_timeout": 35})
    doc = drifted(lambda d: d["Config"].update(StopTimeout=10))
    assert compare(spec, doc, IMAGE) == ("recreate", ["stop timeout: 10 -> 35"])
    assert "--stop-timeout" in shlex.split(spec.replace_command())


def test_an_anonymous_volume_for_a_volume_the_image_declares_is_not_drift_but_a_named_one_is():
    spec = ContainerSpec(name="registry", image="registry:2.8.3", env=SPEC.env, ports=SPEC.ports,
                         mounts=SPEC.mounts[1:], labels=SPEC.labels)  # S3 storage: no data mount
    image = {**IMAGE, "Config": {**IMAGE["Config"], "Volumes": {"/var/lib/registry": {}}}}
    anonymous = drifted(lambda d: d["Mounts"][0].update(Name="ab" * 32))
    assert compare(spec, anonymous, image) == ("none", [])
    assert compare(spec, RUNNING, image)[1] == ["mount type=volume,src=registry-vol,dst=/var/lib/registry: unwanted"]
