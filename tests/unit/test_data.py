"""Data validation: the defaults pass; each bad value is named with its key and what is allowed."""

from types import SimpleNamespace

import pytest

from core.archives import archive_name
from core.data import RENAMED, DataError, problems, registry_major, tag_major, validate
from dev.operator import Data, group_defaults
from dev.refused import BAD


def test_defaults_are_valid(defaults):
    assert problems(defaults) == []


def test_there_are_at_least_twenty_distinct_bad_values():
    assert len({(key, repr(value)) for key, value, _ in BAD}) >= 20


def test_htpasswd_users_without_tls_are_refused(defaults):
    defaults.update(registry_tls="off")
    assert "registry_auth='htpasswd': htpasswd needs TLS" in " ".join(problems(defaults))
    defaults.update(registry_auth="none")
    assert problems(defaults) == []


@pytest.mark.parametrize("url", ["https://mirror.local", "http://10.0.0.5:5000", "https://mirror.local:5000/"])
def test_mirror_urls_with_a_scheme_pass(defaults, url):
    defaults["registry_docker_registry_mirrors"] = [url]
    assert problems(defaults) == []


@pytest.mark.parametrize("mirror", ["mirror.local", "ftp://mirror.local", "https://mirror.local/v2/path"])
def test_mirror_without_a_scheme_is_refused(defaults, mirror):
    defaults["registry_docker_registry_mirrors"] = [mirror]
    wanted = f"registry_docker_registry_mirrors: {mirror!r} must be a URL like https://mirror.local:5000"
    assert wanted in problems(defaults)[0]


def test_plain_http_repo_url_passes_when_the_operator_opts_in(defaults):
    defaults.update(registry_docker_ce_repo_url="http://mirror.internal/docker", registry_docker_repo_allow_http=True)
    assert problems(defaults) == []


@pytest.mark.parametrize("key,value,allowed", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_bad_value_is_named_with_what_is_allowed(defaults, key, value, allowed):
    defaults[key] = value
    assert f"{key}={value!r}: {allowed}" in " ".join(problems(defaults))


def test_archives_must_exist_for_every_image(defaults, tmp_path):
    defaults.update(registry_image_source="archives", registry_image_archive_dir=str(tmp_path))
    (tmp_path / archive_name(defaults["registry_image"])).write_bytes(b"")
    (tmp_path / archive_name(defaults["registry_auth_proxy_image"])).write_bytes(b"")
    found = problems(defaults)
    assert len(found) == 1 and found[0].startswith("registry_ui_image=") and "needs the archive" in found[0]


def test_disabled_ui_needs_no_archive(defaults, tmp_path):
    defaults.update(registry_image_source="archives", registry_image_archive_dir=str(tmp_path),
                    registry_ui_enabled=False)
    (tmp_path / archive_name(defaults["registry_image"])).write_bytes(b"")
    (tmp_path / archive_name(defaults["registry_auth_proxy_image"])).write_bytes(b"")
    assert problems(defaults) == []


def test_images_pinned_by_tag_and_digest_are_accepted_for_pulling(defaults):
    defaults.update(registry_image="registry:3.1.1@sha256:" + "a" * 64,
                    registry_ui_image="joxit/docker-registry-ui:2.6.0@sha256:" + "b" * 64)
    assert problems(defaults) == []


def test_a_digest_with_archives_is_refused_as_the_archive_holds_none(defaults, tmp_path):
    defaults.update(registry_image_source="archives", registry_image_archive_dir=str(tmp_path),
                    registry_ui_enabled=False,
                    registry_image="registry:2.8.3@sha256:" + "a" * 64, registry_auth="none")
    [found] = problems(defaults)
    assert found.startswith("registry_image=") and "must name a tag, not a digest" in found


def test_archive_name_flattens_the_reference():
    assert archive_name("joxit/docker-registry-ui:2.5.7") == "joxit_docker-registry-ui_2.5.7.tar"


@pytest.mark.parametrize("names", ["../etc", "/var/lib/registry", "Team/App", "team//app", "team/", "a" * 256,
                                   "hello,../x"])
def test_repository_names_outside_the_grammar_are_refused(defaults, names):
    defaults["registry_repositories"] = names
    assert any(p.startswith("registry_repositories: ") and "is not a repository name" in p for p in problems(defaults))


@pytest.mark.parametrize("names", ["team/app", "a.b_c-d/e__f", ["hello", "team/app"], "hello, team/app"])
def test_repository_names_in_the_grammar_pass(defaults, names):
    defaults["registry_repositories"] = names
    assert problems(defaults) == []


S3 = dict(registry_storage="s3", registry_s3_endpoint="http://10.0.0.5:7480", registry_s3_bucket="registry",
          registry_s3_access_key="AKIA0123")


def test_s3_storage_names_each_setting_it_lacks(defaults, monkeypatch):
    monkeypatch.delenv("REGISTRY_S3_SECRET_KEY", raising=False)
    defaults.update(registry_storage="s3")
    found = " ".join(problems(defaults))
    for key in ("registry_s3_endpoint", "registry_s3_bucket", "registry_s3_access_key"):
        assert f"{key}=None: must be" in found
    assert "needs the object store's secret key: set $REGISTRY_S3_SECRET_KEY or write it to" in found


def test_s3_storage_with_its_settings_and_a_secret_key_passes(defaults, monkeypatch):
    monkeypatch.setenv("REGISTRY_S3_SECRET_KEY", "not-in-the-repo")
    defaults.update(S3)
    assert problems(defaults) == []


@pytest.mark.parametrize("key, value, said", [
    ("registry_s3_endpoint", "s3.example.com", "must be the object store's URL"),
    ("registry_s3_endpoint", "https://s3.example.com/bucket", "must be the object store's URL"),
    ("registry_s3_bucket", "Registry_Data", "must be an S3 bucket name"),
    ("registry_s3_region", "us east", "must be a region name"),
    ("registry_storage_migrate", True, "cannot move data into S3"),
])
def test_s3_storage_refuses(defaults, monkeypatch, key, value, said):
    monkeypatch.setenv("REGISTRY_S3_SECRET_KEY", "not-in-the-repo")
    defaults.update(S3)
    defaults[key] = value
    found = problems(defaults)
    assert len(found) == 1 and found[0].startswith(f"{key}=") and said in found[0], found


def _host(name, data, groups, replicas=()):
    """A host of an inventory whose registry_hosts are `replicas`, as validate sees it."""
    return SimpleNamespace(name=name, data=data, groups=groups,
                           inventory=SimpleNamespace(get_group=lambda group, default: list(replicas)
                                                     if group == "registry_hosts" else default))


def test_a_host_both_replica_and_load_balancer_is_refused(defaults):
    host = _host("h", defaults, ["registry_hosts", "registry_lb"])
    with pytest.raises(DataError, match="a registry replica or its load balancer .registry_lb., not both"):
        validate(host)
    host.groups = ["registry_lb"]
    validate(host)


@pytest.mark.parametrize("name", ["registry1\n    server evil 10.0.0.1:5000", "r1; touch /tmp/x", "-r1", "r1 r2",
                                  "a" * 254])
def test_a_host_name_that_is_not_a_dns_name_or_address_is_refused(defaults, name):
    with pytest.raises(DataError, match="must be a DNS name or an IP address"):
        validate(_host(name, defaults, ["registry_lb"]))


@pytest.mark.parametrize("name", ["registry1", "registry.example.com", "10.0.0.5", "fd00::5"])
def test_a_host_named_by_a_dns_name_or_address_is_accepted(defaults, name):
    validate(_host(name, defaults, ["registry_lb"]))


def test_replicas_share_one_bucket_or_none_uses_s3(defaults, monkeypatch):
    monkeypatch.setenv("REGISTRY_S3_SECRET_KEY", "not-in-the-repo")
    on_disk = Data(defaults)
    defaults.update(S3)
    first = _host("r0", defaults, ["registry_hosts"])
    second = _host("r1", Data(defaults), ["registry_hosts"])
    first.inventory = second.inventory = SimpleNamespace(
        get_group=lambda group, default: [first, second] if group == "registry_hosts" else default)
    validate(first)
    second.data = Data(defaults, registry_s3_bucket="another")
    with pytest.raises(DataError, match="must be the same on every host of registry_hosts with S3 storage; r1"):
        validate(first)
    second.data = on_disk
    with pytest.raises(DataError, match="r1 differs"):
        validate(first)


@pytest.mark.parametrize("image,major", [
    ("registry:2", 2), ("registry:2.8.3", 2), ("registry:3", 3), ("registry:3.1.1", 3), ("registry:v3.0.0-rc.1", 3),
    ("mirror.local:5000/library/registry:3.0.0", 3), ("mirror.local:5000/registry:2.8", 2),
    ("registry:latest", None), ("registry:4.0.0", None), ("registry@sha256:" + "a" * 64, None), ("ours:prod", None),
    ("registry:3.1.1@sha256:" + "a" * 64, 3), ("mirror.local:5000/registry:2.8.3@sha256:" + "b" * 64, 2),
])
def test_the_tag_says_which_registry_an_image_is(image, major):
    assert tag_major(image) == major


def test_an_image_whose_tag_does_not_tell_passes_once_its_line_is_named(defaults):
    defaults.update(registry_image="registry@sha256:" + "a" * 64, registry_major_version=3)
    assert problems(defaults) == []
    assert registry_major(defaults) == 3


def test_registry_3_may_delete_untagged_manifests(defaults):
    defaults.update(registry_image="registry:3.1.1", registry_gc_delete_untagged=True)
    assert problems(defaults) == []


def test_an_old_unprefixed_name_still_works_for_one_release_with_a_warning(defaults):
    inventory = {"ui_title": "Old name", "gc_schedule": "daily"}  # over group_data/all.py's defaults
    warnings = validate(_host("h", defaults, ["registry_hosts"]), layers=[inventory, defaults])
    assert defaults.registry_ui_title == "Old name" and defaults.registry_gc_schedule == "daily"
    assert sorted(warnings) == [
        "gc_schedule is now named registry_gc_schedule: the old name works for this release only, rename it",
        "ui_title is now named registry_ui_title: the old name works for this release only, rename it"]


def test_an_old_name_counts_where_its_layer_decides(defaults):
    """--data ui_title=... over a group's registry_ui_title: the old name wins; the reverse: it is ignored."""
    group = {"registry_ui_title": "From the group"}
    validate(_host("h", defaults, ["registry_hosts"]), layers=[{"ui_title": "From --data"}, group, defaults])
    assert defaults.registry_ui_title == "From --data"
    ignored = Data(defaults, registry_ui_title="From --data")
    warnings = validate(_host("h", ignored, ["registry_hosts"]),
                        layers=[{"registry_ui_title": "From --data"}, {"ui_title": "From the host"}, defaults])
    assert ignored.registry_ui_title == "From --data"
    assert warnings == ["ui_title is now named registry_ui_title, which is set where it overrides ui_title:"
                        " ui_title is ignored, remove it"]


def test_an_old_and_a_new_name_set_to_different_values_in_one_place_are_refused(defaults):
    inventory = {"ui_port": 6000, "registry_ui_port": 7000}
    with pytest.raises(DataError, match="ui_port=6000 and registry_ui_port=7000: ui_port is the old name of"
                                        " registry_ui_port; set registry_ui_port only"):
        validate(_host("h", defaults, ["registry_hosts"]), layers=[inventory, defaults])
    inventory["registry_ui_port"] = 6000
    assert validate(_host("h", defaults, ["registry_hosts"]), layers=[inventory, defaults]) == [
        "ui_port is now named registry_ui_port: the old name works for this release only, rename it"]


def test_every_variable_of_the_project_starts_with_registry():
    assert [name for name in group_defaults() if not name.startswith("registry_")] == []
    assert set(RENAMED.values()) <= set(group_defaults())
