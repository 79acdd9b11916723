"""Backup and restore of a registry's data: one archive per backup, with a manifest of every tag and its
digest, and the archive's checksum.

The host makes the archive (`registry-maintenance backup`): the registry is read-only only while its data
is hard-linked aside (blobs never change once written, so the links are a consistent snapshot), then
writable again while the snapshot is archived. The archive is written as `.partial` and renamed once
complete, so an interrupted backup never leaves one that looks complete. It is then downloaded here, its
checksum checked, and its manifest written beside it.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import shlex
import tarfile
from pathlib import Path

import yaml
from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import files, python, server

from core import topology
from core.host_files import config_files
from core.secrets import SecretStore

from .maintenance import CHORE, across_replicas, run_chore

REMOTE_DIR = "/var/lib/registry-backups"
# Where a backup across replicas keeps the links it captured in the window, until their blobs are archived.
CAPTURE_DIR = f"{REMOTE_DIR}/.s3-capture"
# Configuration keys distribution's configuration reference marks as secrets (http.secret, the storage
# drivers' keys, redis and proxy passwords, a notification endpoint's headers, which carry its credentials),
# at any depth: never in a backup's manifest.
SECRET_KEYS = {"secret", "secretkey", "accesskey", "accesskeysecret", "accountkey", "sessiontoken", "password",
               "credentials", "privatekey", "headers"}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def archive_tags(path: Path) -> list[dict]:
    """The tags a backup archive holds, from its tags.txt ("pushed repository tag digest" lines)."""
    with tarfile.open(path) as archive:
        lines = archive.extractfile("tags.txt").read().decode().splitlines()
    fields = ("pushed", "repository", "tag", "digest")
    return [dict(zip(fields, line.split(" "), strict=True)) for line in lines if line]


def without_secrets(value):
    """A configuration value with every SECRET_KEYS entry removed, at any depth."""
    if isinstance(value, dict):
        return {key: without_secrets(item) for key, item in value.items() if str(key).lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def public_config(name: str, data) -> dict:
    """The registry's configuration as rendered, without its secrets."""
    return without_secrets(yaml.safe_load(config_files(name, data)["writable.yml"]))


def signature(manifest: dict, key: bytes) -> str:
    """HMAC-SHA256 of a manifest (all but its signature), with the secrets directory's backup key."""
    body = json.dumps({k: v for k, v in manifest.items() if k != "signature"}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def write_manifest(archive: Path, host_name: str, data, made) -> None:
    """Check the downloaded archive against the checksum the host printed, then write NAME.json beside it."""
    said = [line.rsplit("sha256:", 1)[1] for line in made.stdout_lines if "sha256:" in line and archive.name in line]
    if not said or sha256_of(archive) != said[-1]:
        archive.rename(archive.with_suffix(".tar.damaged"))
        raise DeployError(f"{archive} does not match the checksum the host gave it: renamed .damaged")
    manifest = {
        "archive": archive.name,
        "sha256": said[-1],
        "host": host_name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "tags": archive_tags(archive),
        "config": public_config(host_name, data),
    }
    manifest["signature"] = signature(manifest, SecretStore(data.registry_secrets_dir).backup_key())
    descriptor = os.open(archive.with_suffix(".json"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(manifest, indent=1) + "\n")
    host.log(f"backup {archive} ({archive.stat().st_size} bytes, {len(manifest['tags'])} tags,"
             f" sha256 {manifest['sha256'][:16]}...)")


@deploy("Backup")
def backup():
    """An archive of each registry host's data; on replicas of one S3 bucket, one archive of the bucket,
    made by the first replica: the links captured inside the window every replica refuses uploads, the
    blobs (which never change) copied with every replica writable again."""
    data = host.data
    shared = topology.shared_store(inventory)
    if not shared and not topology.is_registry(host):
        return
    name = (f"{data.registry_s3_bucket}-{CHORE}.tar" if shared
            else f"{host.name}-{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}.tar")
    remote_dir = data.registry_backup_host_dir or REMOTE_DIR
    remote = f"{remote_dir}/{name}"
    once = {"_run_once": True} if shared else {}
    if shared:
        made = across_replicas("The bucket's data is backed up", "backup", CAPTURE_DIR,
                               after=("backup", CAPTURE_DIR, remote))
        if not topology.is_registry(host):
            return
    else:
        made = run_chore("The registry's data is archived on the host", "backup", remote)
    if data.registry_backup_host_dir:
        return
    local = Path(data.registry_backup_dir) / name
    local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    files.get(name="The archive is downloaded", src=remote, dest=str(local), **once)
    python.call(name="The archive's manifest is written beside it", function=write_manifest, archive=local,
                host_name=host.name, data=data, made=made, **once)
    server.shell(name="The host's copy is removed", commands=[f"rm -f {shlex.quote(remote)}"], **once)


def checked_archive(path: str, key: bytes) -> dict:
    """A backup's manifest, once it carries the signature `key` gives it and its archive matches the checksum
    in it; refused otherwise. The signature is what the manifest alone cannot forge: whoever edits it (or
    writes one for another archive) lacks the key, which never leaves the secrets directory."""
    archive = Path(path)
    manifest_path = archive.with_suffix(".json")
    if not archive.is_file() or not manifest_path.is_file():
        raise DeployError(f"registry_backup_archive={path!r}: needs the archive and its manifest {manifest_path.name}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError as error:
        raise DeployError(f"registry_backup_archive={path!r}: {manifest_path.name} is not JSON ({error}):"
                          " refused") from None
    if not isinstance(manifest, dict) or not hmac.compare_digest(str(manifest.get("signature")),
                                                                 signature(manifest, key)):
        raise DeployError(f"registry_backup_archive={path!r}: {manifest_path.name} is not signed with this deploy's"
                          " backup key (backup.key in registry_secrets_dir): refused")
    if sha256_of(archive) != manifest.get("sha256"):
        raise DeployError(f"registry_backup_archive={path!r}: its checksum does not match {manifest_path.name}:"
                          " refused")
    return manifest


@deploy("Restore")
def restore():
    """An archive's data onto each registry host named; on replicas of one S3 bucket, into the (empty)
    bucket once, inside the window every replica refuses uploads, every tag proved after."""
    data = host.data
    shared = topology.shared_store(inventory)
    if not shared and not topology.is_registry(host):
        return
    if not data.registry_backup_archive:
        raise DeployError("Name the backup to restore: --data registry_backup_archive=backups/<name>.tar")
    if shared and data.registry_restore_force:
        raise DeployError("registry_restore_force: a restore into S3 storage needs an empty bucket (nothing changed);"
                          " empty it with the object store's own tools first")
    manifest = checked_archive(data.registry_backup_archive, SecretStore(data.registry_secrets_dir).backup_key())
    # Named by its checksum, never by anything the manifest says.
    remote = f"{REMOTE_DIR}/restore-{manifest['sha256'][:16]}.tar"
    title = f"The registry's data is restored from {Path(data.registry_backup_archive).name}"
    once = {"_run_once": True} if shared else {}
    if topology.is_registry(host):
        files.directory(name="The host's backup directory exists", path=REMOTE_DIR, mode="0700", **once)
        files.put(name="The archive is on the host", src=data.registry_backup_archive, dest=remote, mode="0600",
                  **once)
    if shared:
        tags = f"{remote}.tags"
        across_replicas(title, "restore", remote, tags, after=("restore", tags))
    else:
        run_chore(title, "restore", remote, *(["--force"] if data.registry_restore_force else []))
    if topology.is_registry(host):
        server.shell(name="The host's copy is removed", commands=[f"rm -f {shlex.quote(remote)}"], **once)
