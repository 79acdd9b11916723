"""A backup's manifest: no secret of the configuration in it, and a restore that trusts only a manifest signed
with the secrets directory's key, never a name or checksum someone wrote beside an archive."""

import json

import pytest
from pyinfra.api.exceptions import DeployError

from core.secrets import SecretStore
from tasks.backup import checked_archive, sha256_of, signature, without_secrets


def test_every_secret_the_configuration_reference_names_is_removed_at_any_depth():
    config = {
        "http": {"secret": "s", "addr": ":5000"},
        "storage": {"s3": {"accesskey": "a", "secretkey": "k", "bucket": "b"}, "azure": {"accountkey": "z"}},
        "redis": {"addr": "r:6379", "password": "p"},
        "proxy": {"remoteurl": "https://up", "username": "u", "Password": "p"},
        "notifications": {"endpoints": [{"name": "n", "headers": {"Authorization": ["Bearer t"]}}]},
    }
    assert without_secrets(config) == {
        "http": {"addr": ":5000"},
        "storage": {"s3": {"bucket": "b"}, "azure": {}},
        "redis": {"addr": "r:6379"},
        "proxy": {"remoteurl": "https://up", "username": "u"},
        "notifications": {"endpoints": [{"name": "n"}]},
    }


@pytest.fixture
def signed_backup(tmp_path):
    """(archive path, its manifest, the key that signed it)."""
    key = SecretStore(str(tmp_path / "secrets")).backup_key()
    archive = tmp_path / "host-1.tar"
    archive.write_bytes(b"archive content")
    manifest = {"archive": archive.name, "sha256": sha256_of(archive), "tags": []}
    manifest["signature"] = signature(manifest, key)
    archive.with_suffix(".json").write_text(json.dumps(manifest))
    return archive, manifest, key


def _refused(archive, manifest, key, reason):
    """Write `manifest` beside `archive` and check that a restore refuses it for `reason`."""
    archive.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(DeployError, match=reason):
        checked_archive(str(archive), key)


def test_a_manifest_signed_with_the_key_is_trusted(signed_backup):
    archive, manifest, key = signed_backup
    assert checked_archive(str(archive), key) == manifest


@pytest.mark.parametrize("edit", [
    pytest.param(lambda m: m.update(archive="x.tar; touch /root/PWNED; echo"), id="archive name"),
    pytest.param(lambda m: m.update(tags=[{"repository": "a", "tag": "1"}]), id="tags"),
    pytest.param(lambda m: m.pop("signature"), id="no signature"),
])
def test_an_edited_manifest_is_refused(signed_backup, edit):
    archive, manifest, key = signed_backup
    edit(manifest)
    _refused(archive, manifest, key, "not signed with this deploy's backup key")


def test_a_manifest_checksummed_for_another_archive_is_refused_even_with_the_key(signed_backup):
    archive, manifest, key = signed_backup
    archive.write_bytes(b"another archive")
    manifest["sha256"] = sha256_of(archive)
    _refused(archive, manifest, key, "not signed")
    manifest["signature"] = signature(manifest, b"a key that is not the deploy's")
    _refused(archive, manifest, key, "not signed")


def test_an_archive_changed_after_signing_is_refused(signed_backup):
    archive, _, key = signed_backup
    archive.write_bytes(b"tampered")
    with pytest.raises(DeployError, match="checksum does not match"):
        checked_archive(str(archive), key)


def test_the_key_is_made_once_and_owner_only(tmp_path):
    store = SecretStore(str(tmp_path / "secrets"))
    assert store.backup_key() == store.backup_key()
    assert (tmp_path / "secrets" / "backup.key").stat().st_mode & 0o777 == 0o600
