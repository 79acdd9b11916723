"""Secret material made and kept on the control machine, in `registry_secrets_dir` (git-ignored, 0700):
the CA and each registry host's certificate (self-signed mode), users' passwords, their bcrypt hashes.

Nothing here is printed, and nothing is made again that is still good: a certificate is renewed only when
fewer than RENEW_DAYS days are left or the names it must cover changed; a password's bcrypt hash is reused
while it still matches (bcrypt salts differ every time, so hashing again would rewrite the htpasswd file on
every run).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import re
import secrets
import string
from pathlib import Path

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
# 397 days: what browsers and Apple's clients accept for a server certificate.
CERT_DAYS = 397
RENEW_DAYS = 30
# The user the deploy itself probes and maintains the registry as (never printed, root-only on hosts).
DEPLOY_USER = "registry-deploy"
# A user that may pull every repository and nothing else: what registry_clients hosts log in as by default.
PULL_USER = "registry-pull"
# A client host's certificate names it so (its common name): the mirrors let in the inventory's hosts only.
CLIENT_CN_PREFIX = "registry-client:"
PASSWORD_ALPHABET = string.ascii_letters + string.digits
# bcrypt is slow on purpose: within one run, each (password, hash) pair is checked once.
_checked: dict[tuple[bytes, str], bool] = {}


def _matches(password: bytes, hashed: str) -> bool:
    if (password, hashed) not in _checked:
        _checked[password, hashed] = bool(hashed) and bcrypt.checkpw(password, hashed.encode())
    return _checked[password, hashed]


def password_variable(user: str) -> str:
    """The environment variable that holds a user's password: REGISTRY_PASSWORD_<USER>."""
    return "REGISTRY_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


def mirror_password_variable(name: str) -> str:
    """The environment variable that holds a mirror's upstream password: REGISTRY_MIRROR_PASSWORD_<NAME>."""
    return "REGISTRY_MIRROR_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


# In a secrets directory that is the scheduler's copy (core/scheduler.py), this file says so: nothing is made
# there, and what the chores do not read is not there to check.
COPY_MARKER = "COPY"


class SecretMissing(ValueError):
    """A secret is missing from the scheduler's copy of the secrets directory (nothing was made there)."""


def _write_private(root: Path, path: Path, content: bytes) -> None:
    """Write a file only its owner may read, under `root`, which only its owner may enter; refused in the
    scheduler's copy, which only a deploy from the control machine writes."""
    if (root / COPY_MARKER).exists():
        raise SecretMissing(f"{path} is missing from the scheduler's copy of the secrets directory, where nothing"
                            " is made: deploy.py from the control machine puts what the chores read there")
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    temporary.replace(path)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def subject_names(names) -> list:
    """SubjectAlternativeName entries: IP addresses as such, everything else as DNS names."""
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def names_in(certificate: x509.Certificate) -> set[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(n) for n in san.get_values_for_type(x509.DNSName)} | {
        str(n) for n in san.get_values_for_type(x509.IPAddress)}


# Where the object store's secret key may come from instead of the secrets directory.
S3_SECRET_VARIABLE = "REGISTRY_S3_SECRET_KEY"


class SecretStore:
    """One directory of secrets for an inventory's hosts."""

    def __init__(self, directory: str):
        self.root = Path(directory)

    # --- certificates ----------------------------------------------------------------------------------
    def ca(self) -> tuple[bytes, object]:
        """The CA's certificate (PEM) and key, made once."""
        cert_path, key_path = self.root / "ca.crt", self.root / "ca.key"
        if not (cert_path.exists() and key_path.exists()):
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Registry deploy CA")])
            certificate = (
                x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(_now() - datetime.timedelta(minutes=5))
                .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                               critical=True)
                .sign(key, hashes.SHA256())
            )
            _write_private(self.root, key_path, _key_pem(key))
            _write_private(self.root, cert_path, certificate.public_bytes(serialization.Encoding.PEM))
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return cert_path.read_bytes(), key

    def ca_certificate(self) -> bytes:
        """The CA's certificate (PEM); in the scheduler's copy, read without the CA's key, which is not there."""
        path = self.root / "ca.crt"
        return path.read_bytes() if self.is_copy() and path.exists() else self.ca()[0]

    def first_renewal(self) -> datetime.datetime | None:
        """When the first certificate kept here comes within RENEW_DAYS of its end (a run after that makes it
        again); None when none is kept."""
        ends = [x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc
                for path in self.root.rglob("*.crt")]
        return min(ends) - datetime.timedelta(days=RENEW_DAYS) if ends else None

    def write_private(self, relative: str, content: bytes) -> None:
        """A file only its owner may read, here (refused in the scheduler's copy)."""
        _write_private(self.root, self.root / relative, content)

    def is_copy(self) -> bool:
        """Whether this directory is the scheduler's copy (only what the chores read, checked where it was
        made)."""
        return (self.root / COPY_MARKER).exists()

    def scheduler_key(self) -> tuple[bytes, str]:
        """The scheduler's SSH key, made once: (private key, OpenSSH format; public key line)."""
        path = self.root / "scheduler" / "id_ed25519"
        if not path.exists():
            key = ed25519.Ed25519PrivateKey.generate()
            _write_private(self.root, path, key.private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.OpenSSH,
                                                              serialization.NoEncryption()))
        key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        return path.read_bytes(), public.decode()

    def copy_for_scheduler(self, s3: bool, auth: bool, own_ca: bool) -> dict[str, bytes]:
        """What the scheduler's copy holds, {relative path: content}: the marker, and only what the chores read
        (the object store's key, the deploy user's password, the deploy CA's certificate: never its key)."""
        copy = {COPY_MARKER: b"The registry scheduler's copy of the secrets the chores read; made by deploy.py.\n"}
        if s3:
            copy["s3-secret-key"] = (self.s3_secret_key() or "").encode()
        if auth:
            copy[f"passwords/{DEPLOY_USER}"] = self.password(DEPLOY_USER).encode()
        if own_ca:
            copy["ca.crt"] = self.ca_certificate()
        return copy

    def _leaf(self, stem: str, common_name: str, extensions: list, good) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) at <stem>.crt and <stem>.key, made by the CA with `extensions` (each an
        x509 extension, non-critical) unless the kept one is still `good(certificate)` and the CA's."""
        ca_pem, ca_key = self.ca()
        ca_cert = x509.load_pem_x509_certificate(ca_pem)
        cert_path, key_path = self.root / f"{stem}.crt", self.root / f"{stem}.key"
        if cert_path.exists() and key_path.exists():
            current = x509.load_pem_x509_certificate(cert_path.read_bytes())
            fresh = current.not_valid_after_utc - _now() > datetime.timedelta(days=RENEW_DAYS)
            if fresh and good(current) and current.issuer == ca_cert.subject:
                return cert_path.read_bytes(), key_path.read_bytes()
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        certificate = builder.sign(ca_key, hashes.SHA256())
        _write_private(self.root, key_path, _key_pem(key))
        _write_private(self.root, cert_path, certificate.public_bytes(serialization.Encoding.PEM))
        return cert_path.read_bytes(), key_path.read_bytes()

    def server_certificate(self, host_name: str, names: list[str]) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) for a registry host, covering `names`; kept while still good."""
        return self._leaf(f"hosts/{host_name}", names[0],
                          [x509.SubjectAlternativeName(subject_names(names)),
                           x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])],
                          lambda current: names_in(current) == set(names))

    def client_certificate(self, host_name: str) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) a client host's engine shows the mirrors (TLS client authentication,
        clientAuth only), made by the deploy's CA; kept while still good. The engine cannot send a password
        to a registry-mirrors entry (moby/moby#30880), so this is how it proves who it is."""
        return self._leaf(f"clients/{host_name}", f"{CLIENT_CN_PREFIX}{host_name}",
                          [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])], lambda current: True)

    def http_secret(self) -> str:
        """The registry's http.secret, made once: every replica (and every restart) signs upload state with
        the same one, so an upload can go on across a restart or another replica."""
        path = self.root / "http.secret"
        if not path.exists():
            _write_private(self.root, path, secrets.token_hex(32).encode())
        return path.read_text().strip()

    def backup_key(self) -> bytes:
        """The key backup manifests are signed with (HMAC-SHA256), made once: a restore trusts a manifest
        only when it was signed with it, so a manifest edited or written by anyone without the secrets
        directory is refused."""
        path = self.root / "backup.key"
        if not path.exists():
            _write_private(self.root, path, secrets.token_hex(32).encode())
        return path.read_bytes().strip()

    def auth_cache_key(self) -> str:
        """The key (base64) the access proxy turns a verified Authorization header into an HMAC with, made
        once: what it remembers of a password is that HMAC, never the password or the header."""
        path = self.root / "auth-cache.key"
        if not path.exists():
            _write_private(self.root, path, base64.b64encode(secrets.token_bytes(32)))
        return path.read_text().strip()

    def s3_secret_key(self) -> str | None:
        """The object store's secret key: $REGISTRY_S3_SECRET_KEY, else the file s3-secret-key here; None
        when neither is there (the store gives it; it is never made up here)."""
        from_environment = os.environ.get(S3_SECRET_VARIABLE)
        if from_environment:
            return from_environment
        path = self.root / "s3-secret-key"
        return path.read_text().strip() if path.exists() else None

    def mirror_password(self, name: str) -> str | None:
        """A mirror's upstream password: $REGISTRY_MIRROR_PASSWORD_<NAME>, else the file mirrors/<name> here;
        None when neither is there (the upstream gives it; it is never made up here)."""
        from_environment = os.environ.get(mirror_password_variable(name))
        if from_environment:
            return from_environment
        path = self.root / "mirrors" / name
        return path.read_text().rstrip("\n") if path.exists() else None

    # --- users -----------------------------------------------------------------------------------------
    def password_file(self, user: str) -> Path:
        return self.root / "passwords" / user

    def password(self, user: str) -> str:
        """A user's password: $REGISTRY_PASSWORD_<USER>, else the user's file here, made when missing."""
        from_environment = os.environ.get(password_variable(user))
        if from_environment:
            return from_environment
        path = self.password_file(user)
        if not path.exists():
            _write_private(self.root, path, "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(32)).encode())
        return path.read_text().rstrip("\n")

    def htpasswd(self, users: list[str]) -> bytes:
        """The htpasswd file (bcrypt) for these users and the deploy's own, reusing hashes that still match."""
        cache_path = self.root / "htpasswd.json"
        cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
        lines, hashes_now = [], {}
        for user in sorted(set(users) | {DEPLOY_USER, PULL_USER}):
            password = self.password(user).encode()
            hashed = cache.get(user, "")
            if not _matches(password, hashed):
                hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=10)).decode()
            hashes_now[user] = hashed
            lines.append(f"{user}:{hashed}\n")
        if hashes_now != cache:
            _write_private(self.root, cache_path, json.dumps(hashes_now, indent=1, sort_keys=True).encode())
        return "".join(lines).encode()


def scheduler_copy(data) -> bool:
    """Whether a host's data is the scheduler's (core/scheduler.py): its secrets directory is a copy, and the
    files the control machine provided (a certificate, a mirror's CA, an upstream's password) were checked by
    the deploy that made it; the chores read none of them."""
    directory = data.get("registry_secrets_dir")
    return isinstance(directory, str) and bool(directory) and SecretStore(directory).is_copy()


def _covers(pattern: str, name: str) -> bool:
    if pattern.startswith("*."):
        return "." in name and name.split(".", 1)[1] == pattern[2:]
    return pattern == name


def provided_problems(cert_file: str, key_file: str, name: str) -> list[str]:
    """Why a provided certificate cannot serve `name`: unreadable, key not its own, expired, name not covered."""
    try:
        chain = x509.load_pem_x509_certificates(Path(cert_file).read_bytes())
    except (OSError, ValueError) as error:
        return [f"registry_tls_cert={cert_file!r}: must be a readable PEM certificate chain ({error})"]
    try:
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        return [f"registry_tls_key={key_file!r}: must be a readable, unencrypted PEM private key ({error})"]
    leaf, found = chain[0], []
    if leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        found.append(f"registry_tls_key={key_file!r}: is not the key of the certificate in {cert_file}")
    if not leaf.not_valid_before_utc <= _now() <= leaf.not_valid_after_utc:
        found.append(f"registry_tls_cert={cert_file!r}: is not valid now (valid from"
                     f" {leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d})")
    if not any(_covers(pattern, name) for pattern in names_in(leaf)):
        found.append(f"registry_tls_cert={cert_file!r}: does not cover {name!r}, the registry's public name"
                     f" (it covers {', '.join(sorted(names_in(leaf))) or 'no name'})")
    return found
