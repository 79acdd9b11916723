"""What the registry and the UI read, and how the deploy's own probes reach them: rendered on the control
machine from a host's name and data, so the same data always gives the same files. The registry's
configuration directory and the host's certificate are rendered once per host per run, however many tasks
read them (the registry, the UI's container hash, the access proxy, backup)."""

from __future__ import annotations

import functools
import hashlib

from . import registry_yaml
from .data import auth_on, proxied, public_name, registry_major, registry_name, scheme, tls_on
from .mirrors import UPSTREAM_CA, mirror_config, mirrors
from .secrets import DEPLOY_USER, SecretStore


def once_per_host(render):
    """`render(name, data)` computed once for each host of a run and kept: pyinfra keeps one data object per
    host for the whole run, so the same name and the same data object give the same files."""
    kept: dict = {}

    @functools.wraps(render)
    def rendered(name: str, data):
        key = (name, id(data))
        if key not in kept or kept[key][0] is not data:  # a new object that reused a freed one's id
            kept[key] = (data, render(name, data))
        return kept[key][1]

    return rendered

# The files of the configuration directory each container reads: a change to them recreates it.
REGISTRY_FILES = ("writable.yml", "readonly.yml", "registry.crt", "registry.key")
UI_FILES = ("registry.crt", "registry.key", "ui-tls.conf")
# Where the UI's nginx finds its certificate and the server block that serves HTTPS.
UI_TLS_DIR = "/etc/nginx/registry-tls"
UI_TLS_CONF = "/etc/nginx/conf.d/registry-tls.conf"
UI_TLS_SERVER = f"""\
# Managed by the registry deploy: the UI over HTTPS, in front of the UI's own server on port 80.
server {{
    listen 443 ssl;
    ssl_certificate {UI_TLS_DIR}/registry.crt;
    ssl_certificate_key {UI_TLS_DIR}/registry.key;
    client_max_body_size 0;
    location / {{
        proxy_pass http://127.0.0.1:80;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_read_timeout 900;
    }}
}}
"""


# How the UI's nginx checks the registry (or load balancer) it forwards every browser's credentials to:
# on the host in the configuration directory, and where nginx includes it at the http level, so it applies
# to the UI image's own server that proxies /v2.
UPSTREAM_TLS_FILE = "ui-upstream.conf"
UPSTREAM_TLS_CONF = "/etc/nginx/conf.d/registry-upstream.conf"
# The public CAs, where Debian and Alpine (the Joxit image's base) keep them.
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"


def upstream_tls(data, upstream_name: str) -> bytes:
    """nginx settings that verify the upstream's certificate, against the deploy's CA (or the public ones),
    for the name the certificate covers (the upstream is reached by address)."""
    trusted = f"{UI_TLS_DIR}/ca.crt" if private_ca(data) else SYSTEM_CAS
    return (f"# Managed by the registry deploy: the registry's certificate is checked before a browser's\n"
            f"# credentials are forwarded to it.\nproxy_ssl_verify on;\nproxy_ssl_verify_depth 3;\n"
            f"proxy_ssl_trusted_certificate {trusted};\nproxy_ssl_name {upstream_name};\n"
            f"proxy_ssl_server_name on;\n").encode()


# Where each registry line reads its configuration directory: registry 3 (distribution 3) has no fallback
# to registry 2's path.
CONFIG_TARGETS = {2: "/etc/docker/registry", 3: "/etc/distribution"}


def config_mount_target(data) -> str:
    return CONFIG_TARGETS[registry_major(data)]


def tls_names(name: str, data) -> list[str]:
    """Every name the self-signed certificate covers, the registry's own first."""
    wanted = [registry_name(name, data), name, public_name(name, data), *data.registry_tls_names,
              "localhost", "127.0.0.1"]
    return list(dict.fromkeys(wanted))


def private_ca(data) -> bool:
    """Whether clients check the certificate against a CA of ours (made here or provided) rather than the
    public ones they already trust."""
    return tls_on(data) and (data.registry_tls != "provided" or bool(data.registry_tls_ca))


def registry_ca(data) -> bytes | None:
    """The CA a registry's (or load balancer's) certificate chains to: the deploy's own, the one provided
    with registry_tls_ca, or None (a public CA)."""
    if data.registry_tls == "provided":
        return open(data.registry_tls_ca, "rb").read() if data.registry_tls_ca else None
    return SecretStore(data.registry_secrets_dir).ca_certificate()


@once_per_host
def server_material(name: str, data) -> tuple[bytes, bytes, bytes | None]:
    """(certificate chain, key, CA or None) for the registry, or load balancer, on this host."""
    if data.registry_tls == "provided":
        return open(data.registry_tls_cert, "rb").read(), open(data.registry_tls_key, "rb").read(), registry_ca(data)
    certificate, key = SecretStore(data.registry_secrets_dir).server_certificate(name, tls_names(name, data))
    return certificate, key, registry_ca(data)


def serves_own_tls(data) -> bool:
    """Whether the registry (and each mirror) serves TLS itself: TLS on and no access proxy in front. Behind
    the proxy it serves plain HTTP on loopback and asks no one who they are."""
    return tls_on(data) and not proxied(data)


@once_per_host
def config_files(name: str, data) -> dict[str, bytes]:
    """The registry's configuration directory: writable.yml, its read-only twin, and with TLS the
    certificate, its key and the CA (all root-only on the host). The users' hashes are the access proxy's
    (tasks/access_proxy.py), never the registry's."""
    target = config_mount_target(data)
    files = {}
    if tls_on(data):
        files["registry.crt"], files["registry.key"], ca = server_material(name, data)
        if ca:
            files["ca.crt"] = ca
        if data.registry_ui_enabled:
            files["ui-tls.conf"] = UI_TLS_SERVER.encode()
    store = SecretStore(data.registry_secrets_dir)
    source = registry_yaml.load(data.registry_config_src)
    s3 = None
    if data.registry_storage == "s3":
        s3 = registry_yaml.s3_storage(data.registry_s3_endpoint, data.registry_s3_bucket, data.registry_s3_region,
                                      data.registry_s3_access_key, store.s3_secret_key(), data.registry_s3_redirect)
    writable = registry_yaml.writable(source, data.registry_delete_enabled, data.registry_drain_timeout,
                                      store.http_secret(), target if serves_own_tls(data) else None, s3,
                                      metrics=data.registry_metrics_address is not None)
    files["writable.yml"] = registry_yaml.dump(writable, data.registry_config_src).encode()
    files["readonly.yml"] = registry_yaml.dump(registry_yaml.read_only(writable), data.registry_config_src).encode()
    return files


def mirror_files(name: str, data, mirror) -> dict[str, bytes]:
    """A pull-through mirror's configuration directory: config.yml, the upstream's CA when the entry names
    one, and when no access proxy stands in front (users off), the host's certificate and key, which it then
    serves itself."""
    target = config_mount_target(data)
    own_tls = serves_own_tls(data)
    files = {}
    if own_tls:
        files["registry.crt"], files["registry.key"], _ = server_material(name, data)
    if mirror.ca:
        files[UPSTREAM_CA] = open(mirror.ca, "rb").read()
    # Behind the access proxy on loopback; else on registry_port's address, serving TLS itself.
    listen = (f"127.0.0.1:{mirror.backend_port}" if proxied(data)
              else f"{data.registry_bind_address or ''}:{mirror.port}")
    config = mirror_config(registry_yaml.load(data.registry_config_src), data, mirror, target if own_tls else None,
                           listen)
    files["config.yml"] = registry_yaml.dump(config, data.registry_config_src).encode()
    return files


def files_hash(files: dict[str, bytes], names) -> str:
    """One hash over the named files' names and contents: what a container made for them carries."""
    digest = hashlib.sha256()
    for name in sorted(set(names) & files.keys()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def _probe_host(name: str, data) -> str:
    """The name this host's probes reach its own doors by (resolved to 127.0.0.1 by client_curlrc)."""
    return public_name(name, data) if tls_on(data) else "127.0.0.1"


def probe_urls(name: str, data) -> tuple[str, str, str]:
    """How the host reaches its own registry and UI: (registry, its public door, UI or "" when the UI is off).
    The public name is resolved to 127.0.0.1 (client_curlrc), so the certificate is checked as clients
    check it. Behind the access proxy, the host's scripts speak to the registry itself, on loopback; the
    public door is the proxy."""
    host = _probe_host(name, data)
    public = f"{scheme(data)}://{host}:{data.registry_port}"
    direct = f"http://127.0.0.1:{data.registry_backend_port}" if proxied(data) else public
    return direct, public, f"{scheme(data)}://{host}:{data.registry_ui_port}" if data.registry_ui_enabled else ""


def mirror_urls(name: str, data) -> list[str]:
    """How the host reaches its own pull-through mirrors: each one's public door, by the name clients use."""
    return [f"{scheme(data)}://{_probe_host(name, data)}:{mirror.port}" for mirror in mirrors(data)]


def _curl_string(text: str) -> str:
    """`text` as a double-quoted string of a curl config file."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def client_curlrc(name: str, data) -> str:
    """curl settings (curl -K) for the host's probes of its own registry: the CA, the deploy's user."""
    lines = ["# Managed by the registry deploy: how this host's probes reach its own registry."]
    if tls_on(data):
        host = public_name(name, data)
        ports = (data.registry_port, data.registry_ui_port, *(mirror.port for mirror in mirrors(data)))
        lines += [f'resolve = "{host}:{port}:127.0.0.1"' for port in ports]
        if private_ca(data):
            lines.append(f'cacert = "{data.registry_config_dir}/ca.crt"')
    if auth_on(data):
        password = SecretStore(data.registry_secrets_dir).password(DEPLOY_USER)
        lines.append(f"user = {_curl_string(f'{DEPLOY_USER}:{password}')}")
    return "\n".join(lines) + "\n"


def s3_curlrc(data) -> str:
    """curl settings (curl -K) for the chores' requests to the S3 bucket: the keys, signed as AWS SigV4."""
    secret = SecretStore(data.registry_secrets_dir).s3_secret_key()
    return ("# Managed by the registry deploy: how the maintenance chores reach the registry's S3 bucket.\n"
            f"user = {_curl_string(f'{data.registry_s3_access_key}:{secret}')}\n"
            f'aws-sigv4 = "aws:amz:{data.registry_s3_region}:s3"\n'
            # The payload is not hashed (curl does not, for S3): the store is told so, as S3 requires.
            'header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"\n')
