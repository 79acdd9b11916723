"""Secure by default: TLS that clients verify, htpasswd users, a UI that asks who you are, secrets that never
reach the output, and the TLS modes switched back and forth.

The second sandbox host is the client of the first: it reaches it by name over the sandbox's own network."""

import datetime
import json
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.secrets import SecretStore, subject_names
from dev.operator import PYINFRA, ROOT, SANDBOX_INVENTORY, deploy, upload
from sandbox.settings import SECRETS_DIR
from tests.e2e.client import HOST_CURL
from tests.e2e.conftest import catalog, session
from tests.keys import FINGERPRINT_A, KEY_A, KEY_A_FILE, KEY_B, KEY_B_FILE

SPECIAL_PASSWORD = "a $pace ' \" \\ : @ # and more"


@pytest.fixture(scope="module")
def registry_and_client(targets, hello_pushed):
    """(registry host, client host, the name the client reaches the registry by)."""
    registry, client = targets
    return registry, client, f"{registry.name}:{registry.data.registry_port}"


def _docker(client, config, command):
    """A docker command on the client with its own credentials store, not the one the deploy logged in with."""
    return client.host.run(f"mkdir -p {config} && DOCKER_CONFIG={config} {command}")


def _login(client, config, address, user, password):
    client.host.check_output(f"mkdir -p {config} && cat > {config}/password <<'EOF'\n{password}\nEOF")
    return _docker(client, config, f"docker login -u {user} --password-stdin {address} < {config}/password")


def test_anonymous_push_from_a_client_is_refused(registry_and_client):
    _, client, address = registry_and_client
    client.host.check_output(f"docker tag registry-sandbox/hello:1 {address}/anonymous:1")
    pushed = _docker(client, "/tmp/anonymous", f"docker push {address}/anonymous:1")
    assert pushed.rc != 0 and "no basic auth credentials" in pushed.stderr


def test_a_wrong_password_is_refused(registry_and_client):
    _, client, address = registry_and_client
    login = _login(client, "/tmp/wrong", address, "admin", "not-the-password")
    assert login.rc != 0 and "unauthorized" in (login.stderr + login.stdout).lower()


def test_the_right_password_pushes_and_pulls_over_verified_tls(registry_and_client):
    _, client, address = registry_and_client
    assert _login(client, "/tmp/right", address, "admin", (SECRETS_DIR / "passwords/admin").read_text()).rc == 0
    client.host.check_output(f"docker tag registry-sandbox/hello:1 {address}/from-client:1")
    assert _docker(client, "/tmp/right", f"docker push {address}/from-client:1").rc == 0
    client.host.check_output(f"docker rmi {address}/from-client:1")
    assert _docker(client, "/tmp/right", f"docker pull {address}/from-client:1").rc == 0


def test_the_client_verifies_the_certificate_it_was_given(registry_and_client):
    _, client, address = registry_and_client
    url = f"https://{address}/v2/"
    assert client.host.run(f"curl -sS -o /dev/null {url}").rc == 60, "unknown CA: refused"
    trusted = client.host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' "
                                       f"--cacert /etc/docker/certs.d/{address}/ca.crt {url}")
    assert trusted == "401"


def test_plain_http_to_the_tls_port_gets_no_registry(registry_and_client):
    _, client, address = registry_and_client
    answer = client.host.run(f"curl -s http://{address}/v2/_catalog")
    assert answer.rc != 0 and "repositories" not in answer.stdout, "the access proxy speaks TLS only"


def test_the_ui_asks_who_you_are_and_then_lists_the_repositories(registry_and_client):
    registry, _, _ = registry_and_client
    anonymous = session(None).get(f"{registry.ui}/v2/_catalog", timeout=10)
    assert anonymous.status_code == 401 and "Basic" in anonymous.headers.get("WWW-Authenticate", "")
    assert "hello" in catalog(registry.ui)
    assert session(None).get(registry.ui, timeout=10).status_code == 200, "the page itself loads, to ask"


def test_the_ui_forwards_credentials_only_to_a_registry_whose_certificate_it_verifies(registry_and_client,
                                                                                      tmp_path):
    """The UI's nginx made to trust another CA (as if a stranger answered in the registry's place) refuses
    to forward; trusting the deploy's CA again, it forwards."""
    registry, _, _ = registry_and_client
    trusted = f"{registry.data.registry_config_dir}/ca.crt"
    stranger = SecretStore(str(tmp_path)).ca()[0].decode()
    reload_ui = f"docker exec {registry.data.registry_ui_container} nginx -s reload && sleep 1"
    registry.host.check_output(f"cp {trusted} /root/ca.crt.saved && cat > {trusted} <<'EOF'\n{stranger}EOF\n")
    try:
        registry.host.check_output(reload_ui)
        assert session().get(f"{registry.ui}/v2/_catalog", timeout=10).status_code == 502
    finally:
        registry.host.check_output(f"cat /root/ca.crt.saved > {trusted} && rm /root/ca.crt.saved && {reload_ui}")
    assert "hello" in catalog(registry.ui)


@pytest.mark.parametrize("path,mode", [
    ("{dir}", 0o700), ("{dir}/registry.key", 0o600), ("{dir}/haproxy.cfg", 0o600), ("{dir}/auth-proxy.pem", 0o600),
    ("{dir}/client.curlrc", 0o600),
    ("{dir}/registry.crt", 0o600), ("{dir}/ui-upstream.conf", 0o600)])
def test_keys_and_users_on_the_host_are_root_only(registry_and_client, path, mode):
    registry, _, _ = registry_and_client
    file = registry.host.file(path.format(dir=registry.data.registry_config_dir))
    assert (file.user, file.group, file.mode) == ("root", "root", mode)


def _secrets():
    """Every secret the sandbox deploy holds: plain passwords, their bcrypt hashes, the registry's http.secret,
    the proxy's cache key, the backup key (made here as the first backup would, if none was yet) and the body
    lines of each private key."""
    SecretStore(str(SECRETS_DIR)).backup_key()
    found = [path.read_text() for path in (SECRETS_DIR / "passwords").iterdir()] + [SPECIAL_PASSWORD]
    found += list(json.loads((SECRETS_DIR / "htpasswd.json").read_text()).values())
    found += [(SECRETS_DIR / name).read_text().strip() for name in ("http.secret", "auth-cache.key", "backup.key")]
    for key in [SECRETS_DIR / "ca.key", *(SECRETS_DIR / "hosts").glob("*.key")]:
        found += [line for line in key.read_text().splitlines() if line and not line.startswith("-----")]
    return [secret for secret in found if secret]


def _run(*args, env):
    return subprocess.run([PYINFRA, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)




def _trust_key(t, src, dest, fingerprint):
    """The operation that installs Docker's package key, run alone on the host as pyinfra runs any operation."""
    arguments = json.dumps([[], {"src": f"file://{src}", "dest": dest, "fingerprints": [fingerprint]}])
    return deploy("--limit", t.name, arguments, file="ops.signing_keys.trusted_key")


def test_a_package_key_is_trusted_only_with_a_fingerprint_the_inventory_names(targets):
    t = targets[0]
    t.host.check_output("mkdir -p /root/keys")
    upload(t.data.ssh_port, KEY_A_FILE, "/root/keys/a.asc")
    upload(t.data.ssh_port, KEY_B_FILE, "/root/keys/b.asc")
    dest = "/etc/apt/keyrings/registry-deploy-test.asc"
    try:
        installed = _trust_key(t, "/root/keys/a.asc", dest, FINGERPRINT_A)
        assert installed.returncode == 0 and installed.changed(), installed.stderr[-2000:]
        assert t.host.file(dest).content == KEY_A and t.host.file(dest).mode == 0o644
        again = _trust_key(t, "/root/keys/a.asc", dest, FINGERPRINT_A)
        assert again.returncode == 0 and again.results and not again.changes(), again.stderr[-2000:]

        t.host.check_output(f"cat /root/keys/b.asc >> {dest}")  # one more key slipped into the file
        repaired = _trust_key(t, "/root/keys/a.asc", dest, FINGERPRINT_A)
        assert repaired.returncode == 0 and repaired.changed(), repaired.stderr[-2000:]
        assert "D5AB057DAC862FACA05A56075ED5FBE83E33CF77, not one of" in repaired.stderr
        assert t.host.file(dest).content == KEY_A

        t.host.check_output(f"rm -f {dest}")
        refused = _trust_key(t, "/root/keys/b.asc", dest, FINGERPRINT_A)  # the mirror serves another key
        assert refused.returncode != 0
        assert "file:///root/keys/b.asc is not trusted: it holds D5AB057DAC862FACA05A56075ED5FBE83E33CF77" \
               in refused.stderr
        assert not t.host.file(dest).exists and t.host.file(f"{dest}.new").content == KEY_B
    finally:
        t.host.check_output(f"rm -rf /root/keys {dest} {dest}.new")


def test_no_secret_reaches_the_output(targets):
    """At -vvv pyinfra prints every command and its output: runs that upload the TLS key, the proxy's PEM
    and the probes' credentials (removed from the host first) and add and remove a user print none of them."""
    target = targets[1]
    config = target.data.registry_config_dir
    uploaded = [f"{config}/registry.key", f"{config}/auth-proxy.pem", f"{config}/client.curlrc"]
    env = dict(os.environ, REGISTRY_PASSWORD_SPECIAL=SPECIAL_PASSWORD)
    users = ["--data", 'registry_users=["admin", "special"]', "--limit", target.name]
    target.host.check_output(f"rm -f {' '.join(uploaded)}")
    runs = [
        _run("-y", "-vvv", SANDBOX_INVENTORY, "deploy.py", *users, env=env),  # adds a user: uploads htpasswd
        _run("-y", "-vvv", "--json", SANDBOX_INVENTORY, "deploy.py", *users, env=env),
        _run("-y", "-vvv", SANDBOX_INVENTORY, "deploy.py", "--limit", target.name, env=env),  # and removes it
    ]
    assert all(path in runs[0].stderr and target.host.file(path).exists for path in uploaded), \
        "the first run put the keys back, and said where"
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
        output = run.stdout + run.stderr
        leaked = sum(secret in output for secret in _secrets())  # a count: a failure must not print them
        assert leaked == 0, "secrets were printed"


def test_a_password_with_shell_and_url_characters_works(targets):
    registry, client = targets
    env = dict(os.environ, REGISTRY_PASSWORD_SPECIAL=SPECIAL_PASSWORD)
    run = _run("-y", SANDBOX_INVENTORY, "deploy.py", "--limit", registry.name,
               "--data", 'registry_users=["admin", "special"]', env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    try:
        address = f"{registry.name}:{registry.data.registry_port}"
        assert _login(client, "/tmp/special", address, "special", SPECIAL_PASSWORD).rc == 0
        client.host.check_output(f"docker tag registry-sandbox/hello:1 {address}/special:1")
        assert _docker(client, "/tmp/special", f"docker push {address}/special:1").rc == 0
    finally:
        assert deploy("--limit", registry.name).returncode == 0


def _provided_certificate(tmp_path, names):
    """A CA of the test's own and a certificate it signed for `names`: what an operator brings."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Operator CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(subject_names(names)), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = {"ca.pem": ca.public_bytes(serialization.Encoding.PEM),
             "cert.pem": cert.public_bytes(serialization.Encoding.PEM),
             "key.pem": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    return [str(tmp_path / name) for name in ("cert.pem", "key.pem", "ca.pem")]


def test_tls_modes_switch_back_and_forth_and_each_settles(spare, tmp_path):
    cert, key, ca = _provided_certificate(tmp_path, [spare.name, "127.0.0.1"])
    modes = {
        "off": ["--data", "registry_tls=off", "--data", "registry_auth=none"],
        "self-signed": [],
        "provided": ["--data", "registry_tls=provided", "--data", f"registry_tls_cert={cert}",
                     "--data", f"registry_tls_key={key}", "--data", f"registry_tls_ca={ca}"],
    }
    for mode in ("off", "self-signed", "provided", "self-signed"):
        run = deploy("--limit", spare.name, *modes[mode])
        assert run.returncode == 0 and not run.errors(), (mode, run.stderr[-3000:])
        again = deploy("--limit", spare.name, *modes[mode])
        assert again.changes() == [], mode
        if mode == "off":
            assert "WARNING: registry_tls is off" in run.stderr and "WARNING: registry_auth is none" in run.stderr
        # The host's own probe settings: the CA of this mode (verified), the deploy's user.
        answer = spare.host.check_output(f'{HOST_CURL} -f "$CLIENT_URL/v2/_catalog"')
        assert "repositories" in json.loads(answer), (mode, answer)
        if mode == "provided":
            client = session()
            client.verify = ca
            assert client.get(f"{spare.registry}/v2/", timeout=10).status_code == 200
