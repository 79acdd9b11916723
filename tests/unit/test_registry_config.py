"""The registry's configuration as the deploy renders it: the operator's file, what the deploy owns, and
the read-only twin maintenance switches to."""

import pytest
import yaml

from core import registry_yaml
from core.data import problems
from core.host_files import config_files

OPERATOR_CONFIG = {
    "version": 0.1,
    "storage": {
        "filesystem": {"rootdirectory": "/var/lib/registry"},
        "maintenance": {"uploadpurging": {"enabled": True, "age": "72h", "interval": "12h", "dryrun": False}},
    },
    "http": {"headers": {"X-Content-Type-Options": ["nosniff"]}},
}


def test_read_only_twin_keeps_the_operators_maintenance_settings():
    twin = registry_yaml.read_only(OPERATOR_CONFIG)
    assert twin["storage"]["maintenance"] == {
        "uploadpurging": {"enabled": True, "age": "72h", "interval": "12h", "dryrun": False},
        "readonly": {"enabled": True},
    }
    assert "readonly" not in OPERATOR_CONFIG["storage"]["maintenance"], "the operator's config is not changed"


@pytest.mark.parametrize("deletes", [True, False])
def test_writable_config_listens_where_published_and_deletes_as_data_says(deletes):
    config = registry_yaml.writable(OPERATOR_CONFIG, deletes)
    assert "secret" not in config["http"]
    assert config["http"] == {"headers": {"X-Content-Type-Options": ["nosniff"]}, "addr": ":5000",
                              "draintimeout": "30s"}
    assert config["storage"]["delete"] == {"enabled": deletes}


def test_rendered_files_parse_and_differ_only_in_read_only_mode(defaults):
    files = config_files("r1", defaults)
    writable, readonly = (yaml.safe_load(files[name]) for name in ("writable.yml", "readonly.yml"))
    assert readonly["storage"].pop("maintenance") == {"readonly": {"enabled": True}}
    assert readonly == writable
    assert files == config_files("r1", defaults), "the same data renders the same bytes, keys and hashes"


def test_behind_the_access_proxy_the_registry_serves_plain_http_asking_no_one_but_shares_its_secret(defaults):
    files = config_files("r1", defaults)
    config = yaml.safe_load(files["writable.yml"])
    assert len(config["http"]["secret"]) == 64 and yaml.safe_load(config_files("r2", defaults)["writable.yml"])[
        "http"]["secret"] == config["http"]["secret"], "every host of the inventory signs uploads alike"
    assert "tls" not in config["http"] and "auth" not in config, "the proxy serves TLS and checks users"
    assert {"registry.crt", "registry.key", "ca.crt", "ui-tls.conf"} <= files.keys() and "htpasswd" not in files


def test_without_users_the_registry_serves_tls_itself(defaults):
    defaults.update(registry_auth="none")
    config = yaml.safe_load(config_files("r1", defaults)["writable.yml"])
    assert config["http"]["tls"] == {"certificate": "/etc/docker/registry/registry.crt",
                                     "key": "/etc/docker/registry/registry.key"}


def test_plain_and_open_registry_has_neither(defaults):
    defaults.update(registry_tls="off", registry_auth="none")
    files = config_files("r1", defaults)
    config = yaml.safe_load(files["writable.yml"])
    assert "tls" not in config["http"] and "auth" not in config
    assert set(files) == {"writable.yml", "readonly.yml"}


OWNED = {
    "readonly set by hand": ({"storage": {"maintenance": {"readonly": {"enabled": True}}}},
                             "storage.maintenance.readonly is switched by the maintenance chores"),
    "deletes in the file": ({"storage": {"delete": {"enabled": True}}}, "storage.delete is set from"),
    "other listen address": ({"http": {"addr": ":5443"}}, "http.addr must be :5000"),
    "data elsewhere": ({"storage": {"filesystem": {"rootdirectory": "/data"}}},
                       "storage.filesystem.rootdirectory must be /var/lib/registry"),
    "other driver": ({"storage": {"filesystem": None, "inmemory": {}}}, "must use the 'filesystem' driver"),
}


@pytest.mark.parametrize("change,message", OWNED.values(), ids=OWNED.keys())
def test_settings_the_deploy_owns_are_refused_in_the_operators_file(defaults, tmp_path, change, message):
    config = registry_yaml._merge(OPERATOR_CONFIG, change)
    source = tmp_path / "config.yml"
    source.write_text(yaml.safe_dump(config))
    defaults["registry_config_src"] = str(source)
    assert any(p.startswith("registry_config_src=") and message in p for p in problems(defaults))


def test_config_that_is_not_yaml_is_refused(defaults, tmp_path):
    source = tmp_path / "config.yml"
    source.write_text("storage: [unclosed\n")
    defaults["registry_config_src"] = str(source)
    assert any("is not valid YAML" in p for p in problems(defaults))


def test_s3_storage_replaces_the_filesystem_and_keeps_the_store_checked():
    s3 = registry_yaml.s3_storage("http://10.0.0.5:7480/", "registry", "us-east-1", "AK", "SK", redirect=False)
    config = registry_yaml.writable(OPERATOR_CONFIG, True, s3=s3)
    storage = config["storage"]
    assert "filesystem" not in storage and "filesystem" in OPERATOR_CONFIG["storage"]
    assert storage["s3"] == {"regionendpoint": "http://10.0.0.5:7480", "bucket": "registry", "region": "us-east-1",
                             "accesskey": "AK", "secretkey": "SK", "secure": False, "forcepathstyle": True}
    assert storage["redirect"] == {"disable": True}, "clients cannot reach the store: the registry serves pulls"
    assert storage["maintenance"]["uploadpurging"]["enabled"], "the operator's own settings stay"
    assert config["health"]["storagedriver"]["enabled"] is True
    assert registry_yaml.read_only(config)["storage"]["s3"] == storage["s3"]
