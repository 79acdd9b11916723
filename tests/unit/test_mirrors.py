"""Pull-through mirrors: what is refused before connecting, what each mirror's configuration says, what the
access proxy lets through its door, and what clients are told to use."""

import json
from types import SimpleNamespace

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core import topology
from core.data import DataError, problems, validate
from core.haproxy_files import proxy_config
from core.host_files import mirror_files
from core.mirrors import mirrors
from core.secrets import SecretStore
from dev.operator import Data
from ops.container import LabelledContainers
from tests.unit.inventories import host_of, inventory_of

HUB = {"name": "hub", "upstream": "https://registry-1.docker.io", "port": 5010}
R3 = "registry:3.1.1"


def _with(defaults, *entries, **more) -> Data:
    return Data(defaults, registry_mirrors=list(entries), **more)


def test_a_docker_hub_mirror_passes_and_is_listed_for_the_engines(defaults):
    data = _with(defaults, HUB, {"name": "ghcr", "upstream": "https://ghcr.io", "port": 5011})
    assert problems(data) == []
    hub, ghcr = mirrors(data)
    assert (hub.docker_hub, ghcr.docker_hub) == (True, False)
    assert (hub.backend_port, hub.container, hub.volume) == (6010, "registry-mirror-hub", "registry-mirror-hub")
    inventory = inventory_of([host_of("r1", data, "registry_hosts"), host_of("c", defaults, "registry_clients")])
    assert topology.hub_mirror_urls(inventory) == ["https://r1:5010"]
    assert topology.mirror_clients(inventory) == ["r1", "c"]


@pytest.mark.parametrize("entries,said", [
    ([HUB, {**HUB, "name": "other"}], "other's port 5010 is already mirror hub's port"),
    ([{**HUB, "port": 5000}], "hub's port 5000 is already registry_port's"),
    ([{**HUB, "port": 5050}], "hub's port 5050 is already registry_ui_port's"),
    ([HUB, {**HUB, "port": 5011}], "two mirrors are named 'hub'"),
    ([{**HUB, "upstream": "http://mirror.local:5000"}], "plain http:// needs 'allow_http': True"),
    ([{**HUB, "upstream": "https://registry-1.docker.io/v2/"}], "must be a https:// URL of a registry's root"),
    ([{**HUB, "name": "Hub_1"}], "name='Hub_1' must be lowercase letters"),
    ([{**HUB, "username": "bot"}], "needs its password in $REGISTRY_MIRROR_PASSWORD_HUB"),
    ([{**HUB, "ttl": "168h"}], "ttl needs registry 3"),
    ([{**HUB, "ca": "/no/such/ca.pem"}], "must be None (the public CAs) or a PEM file"),
    ([{**HUB, "remote": "x"}], "unknown field 'remote'"),
    ([{"name": "hub", "port": 5010}], "needs 'upstream'"),
])
def test_a_bad_mirror_is_refused_naming_what_is_wrong(defaults, entries, said):
    found = problems(_with(defaults, *entries))
    assert any(said in problem for problem in found), found


def test_plain_http_upstreams_pass_only_when_the_operator_says_so(defaults):
    assert problems(_with(defaults, {**HUB, "upstream": "http://mirror.local:5000", "allow_http": True})) == []


def test_a_mirror_without_tls_is_refused(defaults):
    found = problems(_with(defaults, HUB, registry_tls="off", registry_auth="none"))
    assert found == [found[0]] and "registry_mirrors: need registry_tls" in found[0]


@pytest.mark.parametrize("upstream", ["https://r1:5000", "https://localhost:5000", "https://registry.example:5000"])
def test_a_mirror_of_this_hosts_own_registry_is_refused(defaults, upstream):
    data = _with(defaults, {**HUB, "upstream": upstream}, registry_name="registry.example")
    host = SimpleNamespace(name="r1", data=data, groups=["registry_hosts"],
                           inventory=SimpleNamespace(get_group=lambda group, default: []))
    with pytest.raises(DataError, match="is this host's own registry"):
        validate(host)
    data["registry_mirrors"] = [{**HUB, "upstream": "https://r2:5000"}]
    validate(host)


def test_the_upstream_password_comes_from_the_environment_or_the_secrets_directory(defaults, monkeypatch):
    entry = {**HUB, "username": "bot", "ttl": "72h"}
    data = _with(defaults, entry, registry_image=R3)
    monkeypatch.setenv("REGISTRY_MIRROR_PASSWORD_HUB", "from-the-environment")
    assert problems(data) == []
    [mirror] = mirrors(data)
    config = yaml.safe_load(mirror_files("r1", data, mirror)["config.yml"])
    assert config["proxy"] == {"remoteurl": HUB["upstream"], "username": "bot", "password": "from-the-environment",
                               "ttl": "72h"}
    assert config["storage"]["delete"] == {"enabled": True}, "the cache's expiry deletes"
    assert config["http"]["addr"] == "127.0.0.1:6010", "behind the access proxy, on loopback"
    assert "tls" not in config["http"]


def test_with_users_off_the_mirror_serves_tls_itself_on_its_port(defaults):
    data = _with(defaults, HUB, registry_auth="none")
    [mirror] = mirrors(data)
    files = mirror_files("r1", data, mirror)
    config = yaml.safe_load(files["config.yml"])
    assert config["http"]["addr"] == ":5010" and config["http"]["tls"]["certificate"].endswith("/registry.crt")
    assert files["registry.crt"].startswith(b"-----BEGIN CERTIFICATE-----")


def test_the_mirrors_door_lets_in_the_inventorys_client_certificates_and_users_for_pulls_only(defaults):
    rules = proxy_config("r1", _with(defaults, HUB), ("r1", "c"))
    door = rules[rules.index("frontend mirror_hub"):]
    assert "bind :5010 ssl crt /usr/local/etc/haproxy/auth-proxy.pem" in door
    assert "ca-file /usr/local/etc/haproxy/mirror-clients-ca.crt verify optional" in door
    assert "acl known_client ssl_c_s_dn(cn) -m str registry-client:r1 registry-client:c" in door
    assert "http-request auth realm Registry unless verified" in door
    assert "acl pull_methods method GET HEAD" in door and "unless pull_methods" in door
    assert "server mirror 127.0.0.1:6010" in door
    assert "frontend mirror" not in proxy_config("r1", defaults)


def test_a_client_certificate_is_for_client_authentication_and_names_its_host(defaults):
    certificate = x509.load_pem_x509_certificate(SecretStore(defaults.registry_secrets_dir).client_certificate("c")[0])
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "registry-client:c"
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_the_mirror_containers_on_a_host_are_read_with_their_mirrors_name():
    label = "io.registry-deploy.mirror"
    answer = json.dumps([{"Names": ["/registry-mirror-hub"], "Labels": {label: "hub", "other": "x"}},
                         {"Names": ["/registry-mirror-old"], "Labels": {label: "old"}}])
    assert LabelledContainers().process([label, answer, "@@200"]) == {
        "registry-mirror-hub": "hub", "registry-mirror-old": "old"}
    assert LabelledContainers().process([label, "", "@@000"]) == {}
