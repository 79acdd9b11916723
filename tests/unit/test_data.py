"""Data validation: the defaults pass; each bad value is named with its key and what is allowed."""

import pytest

from ops.data import problems
from ops.images import archive_name


def test_defaults_are_valid(defaults):
    assert problems(defaults) == []


BAD = [
    ("registry_storage", "nfs", "must be one of volume, bind"),
    ("registry_bind_path", "relative/dir", "must be an absolute path without '..'"),
    ("registry_bind_path", "/mnt/../etc", "must be an absolute path without '..'"),
    ("registry_bind_path", "/", "must not be /"),
    ("registry_config_dir", "etc/registry", "must be an absolute path without '..'"),
    ("registry_port", 0, "must be a port number from 1 to 65535"),
    ("ui_port", 65536, "must be a port number from 1 to 65535"),
    ("ui_port", 5000, "must differ from registry_port"),
    ("registry_port", "5000", "must be a port number from 1 to 65535"),
    ("image_source", "ftp", "must be one of pull, archives"),
    ("docker_package_source", "snap", "must be one of distribution, docker-ce"),
    ("registry_delete_enabled", "yes", "must be True or False"),
    ("registry_image", "registry", "must be an image reference pinned by tag"),
    ("ui_image", "Joxit/UI:latest!", "must be an image reference pinned by tag"),
    ("registry_volume", "../vol", "must be a Docker name"),
    ("docker_log_max_size", "10 MB", "must be a size like 10m"),
    ("docker_registry_mirrors", "https://mirror", "must be a list of non-empty strings"),
    ("health_timeout", 0, "must be a whole number of at least 1"),
    ("gc_schedule", "", "must be None or a systemd OnCalendar expression"),
    ("gc_dry_run", "yes", "must be True or False"),
    ("repositories", 7, "must be a list or a comma-separated string of repository names"),
    ("registry_config_src", "files/no-such.yml", "must be a readable file"),
]


@pytest.mark.parametrize("key,value,allowed", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_bad_value_is_named_with_what_is_allowed(defaults, key, value, allowed):
    defaults[key] = value
    assert f"{key}={value!r}: {allowed}" in " ".join(problems(defaults))


def test_archives_must_exist_for_every_image(defaults, tmp_path):
    defaults.update(image_source="archives", image_archive_dir=str(tmp_path))
    (tmp_path / archive_name(defaults["registry_image"])).write_bytes(b"")
    found = problems(defaults)
    assert len(found) == 1 and found[0].startswith("ui_image=") and "needs the archive" in found[0]


def test_disabled_ui_needs_no_archive(defaults, tmp_path):
    defaults.update(image_source="archives", image_archive_dir=str(tmp_path), ui_enabled=False)
    (tmp_path / archive_name(defaults["registry_image"])).write_bytes(b"")
    assert problems(defaults) == []


def test_archive_name_flattens_the_reference():
    assert archive_name("joxit/docker-registry-ui:2.5.7") == "joxit_docker-registry-ui_2.5.7.tar"


@pytest.mark.parametrize("names", ["../etc", "/var/lib/registry", "Team/App", "team//app", "team/", "a" * 256,
                                   "hello,../x"])
def test_repository_names_outside_the_grammar_are_refused(defaults, names):
    defaults["repositories"] = names
    assert any(p.startswith("repositories: ") and "is not a repository name" in p for p in problems(defaults))


@pytest.mark.parametrize("names", ["team/app", "a.b_c-d/e__f", ["hello", "team/app"], "hello, team/app"])
def test_repository_names_in_the_grammar_pass(defaults, names):
    defaults["repositories"] = names
    assert problems(defaults) == []
