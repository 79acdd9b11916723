"""The deploy's data, checked once before any host is touched, and what follows from it."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import yaml

from pyinfra.api.exceptions import PyinfraError

from . import registry_yaml
from .images import archive_name

CHOICES = {
    "registry_storage": ("volume", "bind"),
    "image_source": ("pull", "archives"),
    "docker_package_source": ("distribution", "docker-ce"),
}
BOOLEANS = ("registry_delete_enabled", "ui_enabled", "ui_delete_images", "firewalld_open_ports",
            "gc_dry_run", "gc_delete_untagged")
PORTS = ("registry_port", "ui_port")
POSITIVE = ("health_timeout", "docker_log_max_file", "maintenance_lock_timeout", "maintenance_timeout")
STRING_LISTS = ("docker_registry_mirrors", "docker_insecure_registries")
ABSOLUTE_PATHS = ("registry_bind_path", "registry_config_dir")
NAMES = ("registry_container", "ui_container", "registry_volume")

DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
# An image reference with an explicit tag: [registry/]path:tag (a digest pin is accepted too).
IMAGE_REF = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._/-][a-z0-9]+)*)?"
                       r"(?::[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")
SIZE = re.compile(r"^[0-9]+[kmg]$")
# The distribution spec's repository name: lowercase path components joined by "/".
REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def managed_containers(data) -> list[str]:
    """The containers the deploy runs on a host: the registry, and the UI when it is enabled."""
    return [data.registry_container] + ([data.ui_container] if data.ui_enabled else [])


def wanted_images(data) -> list[str]:
    """The images those containers run."""
    return [data.registry_image] + ([data.ui_image] if data.ui_enabled else [])


def repository_names(value) -> list:
    """`repositories` as a list: a list, or a comma-separated string as --data gives it."""
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return list(value or [])


class DataError(PyinfraError):
    """The deploy's data is invalid; nothing was changed on any host."""


def problems(data) -> list[str]:
    """Every problem in `data` (anything with .get), each naming the key, the value and what is allowed."""
    found = []

    def bad(key, allowed):
        found.append(f"{key}={data.get(key)!r}: {allowed}")

    for key, choices in CHOICES.items():
        if data.get(key) not in choices:
            bad(key, "must be one of " + ", ".join(choices))
    for key in BOOLEANS:
        if not isinstance(data.get(key), bool):
            bad(key, "must be True or False")
    for key in PORTS:
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
            bad(key, "must be a port number from 1 to 65535")
    if data.get("ui_enabled") and data.get("registry_port") == data.get("ui_port"):
        bad("ui_port", "must differ from registry_port")
    for key in POSITIVE:
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            bad(key, "must be a whole number of at least 1")
    for key in STRING_LISTS:
        value = data.get(key)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            bad(key, "must be a list of non-empty strings")
    for key in NAMES:
        if not isinstance(data.get(key), str) or not DOCKER_NAME.match(data.get(key)):
            bad(key, "must be a Docker name: letters, digits, '_', '.', '-'")
    if not isinstance(data.get("ui_title"), str):
        bad("ui_title", "must be a string")
    if not SIZE.match(str(data.get("docker_log_max_size"))):
        bad("docker_log_max_size", "must be a size like 10m, 512k or 1g")
    if not isinstance(data.get("docker_ce_version"), str) or not data.get("docker_ce_version"):
        bad("docker_ce_version", "must be the package version as the package manager spells it")
    if data.get("docker_io_version") is not None and not isinstance(data.get("docker_io_version"), str):
        bad("docker_io_version", "must be None or a Debian package version")

    for key in ABSOLUTE_PATHS:
        path = data.get(key)
        if not isinstance(path, str) or not path.startswith("/") or ".." in PurePosixPath(path).parts:
            bad(key, "must be an absolute path without '..'")
        elif PurePosixPath(path) == PurePosixPath("/"):
            bad(key, "must not be /")

    schedule = data.get("gc_schedule")
    if schedule is not None and (not isinstance(schedule, str) or not schedule.strip() or "\n" in schedule):
        bad("gc_schedule", "must be None or a systemd OnCalendar expression like 'Sun *-*-* 03:00:00'")
    repositories = data.get("repositories")
    if not isinstance(repositories, (str, list, tuple)):
        bad("repositories", "must be a list or a comma-separated string of repository names")
    else:
        for name in repository_names(repositories):
            if len(name) > 255 or not REPOSITORY.match(name):
                found.append(f"repositories: {name!r} is not a repository name (lowercase letters, digits,"
                             " '.', '_', '-' in components joined by '/'; no '..', no leading '/')")

    config_src = Path(str(data.get("registry_config_src")))
    if not config_src.is_file():
        bad("registry_config_src", "must be a readable file (relative to the directory pyinfra runs in)")
    else:
        try:
            config_problems = registry_yaml.problems(registry_yaml.load(str(config_src)))
        except yaml.YAMLError as error:
            config_problems = [f"is not valid YAML: {error}"]
        for problem in config_problems:
            bad("registry_config_src", problem)

    images = ["registry_image"] + (["ui_image"] if data.get("ui_enabled") else [])
    for key in images:
        if not isinstance(data.get(key), str) or not IMAGE_REF.match(data.get(key)):
            bad(key, "must be an image reference pinned by tag, like registry:2.8.3")
    if data.get("image_source") == "archives":
        archive_dir = Path(str(data.get("image_archive_dir")))
        for key in images:
            archive = archive_dir / archive_name(str(data.get(key)))
            if not archive.is_file():
                bad(key, f"needs the archive {archive} (image_source is archives)")
    return found


def validate(host) -> None:
    """Raise DataError naming every problem in the host's data."""
    found = problems(host.data)
    if found:
        raise DataError(f"Invalid data for host {host.name}:\n  " + "\n  ".join(found))
