"""Secrets on the control machine: made once, kept while good, renewed when not; provided certificates
checked before any host is contacted."""

import datetime
import stat

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core import secrets
from core.secrets import DEPLOY_USER, PULL_USER, SecretStore, names_in, provided_problems

NAMES = ["registry1", "registry.example.com", "localhost", "127.0.0.1"]


def test_ca_and_certificate_are_made_once_and_kept(tmp_path):
    store = SecretStore(str(tmp_path / "s"))
    first = store.server_certificate("registry1", NAMES)
    assert store.server_certificate("registry1", NAMES) == first
    certificate = x509.load_pem_x509_certificate(first[0])
    assert names_in(certificate) == set(NAMES)
    ca = x509.load_pem_x509_certificate(store.ca()[0])
    ca.public_key().verify(certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))


def test_everything_secret_is_owner_only(tmp_path):
    store = SecretStore(str(tmp_path / "s"))
    store.server_certificate("registry1", NAMES)
    store.htpasswd(["admin"])
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o700
    for path in (tmp_path / "s").rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_certificate_is_made_anew_when_the_names_change(tmp_path):
    store = SecretStore(str(tmp_path / "s"))
    first = store.server_certificate("registry1", NAMES)
    second = store.server_certificate("registry1", NAMES + ["10.0.0.5"])
    assert second != first and "10.0.0.5" in names_in(x509.load_pem_x509_certificate(second[0]))


def test_certificate_is_renewed_when_fewer_than_renew_days_are_left(tmp_path, monkeypatch):
    store = SecretStore(str(tmp_path / "s"))
    first = store.server_certificate("registry1", NAMES)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        days=secrets.CERT_DAYS - secrets.RENEW_DAYS + 1)
    monkeypatch.setattr(secrets, "_now", lambda: later)
    renewed = store.server_certificate("registry1", NAMES)
    assert renewed != first
    assert x509.load_pem_x509_certificate(renewed[0]).not_valid_after_utc > later + datetime.timedelta(days=300)


def test_htpasswd_is_rewritten_only_when_a_password_changes(tmp_path, monkeypatch):
    store = SecretStore(str(tmp_path / "s"))
    first = store.htpasswd(["admin", "ci"])
    assert store.htpasswd(["admin", "ci"]) == first, "bcrypt salts differ: the old hashes are reused"
    assert [line.split(":")[0] for line in first.decode().splitlines()] == ["admin", "ci", DEPLOY_USER, PULL_USER]
    monkeypatch.setenv("REGISTRY_PASSWORD_CI", "new $ecret ' \" \\ : @ # with spaces")
    changed = store.htpasswd(["admin", "ci"]).decode().splitlines()
    assert changed[0] == first.decode().splitlines()[0]
    assert bcrypt.checkpw(b"new $ecret ' \" \\ : @ # with spaces", changed[1].split(":", 1)[1].encode())


def test_password_comes_from_the_environment_before_the_file(tmp_path, monkeypatch):
    store = SecretStore(str(tmp_path / "s"))
    made = store.password("ops-team")
    assert len(made) == 32 and store.password("ops-team") == made
    monkeypatch.setenv("REGISTRY_PASSWORD_OPS_TEAM", "from-env")
    assert store.password("ops-team") == "from-env"


def _self_signed(tmp_path, names, days=30):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(secrets.subject_names(names)), critical=False)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_a_good_provided_certificate_passes(tmp_path):
    assert provided_problems(*_self_signed(tmp_path, ["registry.example.com"]), "registry.example.com") == []
    assert provided_problems(*_self_signed(tmp_path, ["*.example.com"]), "registry.example.com") == []


@pytest.mark.parametrize("case,message", [
    ("other key", "is not the key of the certificate"),
    ("expired", "is not valid now"),
    ("other name", "does not cover 'registry.example.com'"),
])
def test_a_bad_provided_certificate_is_refused(tmp_path, case, message):
    name = "other.example.com" if case == "other name" else "registry.example.com"
    cert_file, key_file = _self_signed(tmp_path, [name], days=-1 if case == "expired" else 30)
    if case == "other key":
        key_file = str(tmp_path / "other-key.pem")
        (tmp_path / "other-key.pem").write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    assert any(message in problem for problem in provided_problems(cert_file, key_file, "registry.example.com"))
