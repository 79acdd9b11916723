"""HAProxy's two configurations, rendered on the control machine: the access proxy in front of each registry
(users, their hashes and the access rules) and the load balancer in front of the replicas (health checks,
retries, TLS)."""

from __future__ import annotations

import jinja2

from . import ROOT, access
from .data import scheme, tls_on
from .host_files import server_material
from .host_paths import PROXY_SOCKET
from .mirrors import mirrors
from .secrets import CLIENT_CN_PREFIX, SecretStore

# Where the proxy's image reads its configuration (the official haproxy image's path): the host's
# configuration directory is mounted there, read-only, so a file replaced on the host is seen on reload.
PROXY_IMAGE_DIR = "/usr/local/etc/haproxy"
PROXY_CONFIG, PROXY_PEM = "haproxy.cfg", "auth-proxy.pem"
# The CA the pull-through mirrors' doors check client certificates against: the deploy's own, always.
CLIENT_CA = "mirror-clients-ca.crt"
# What the running proxy loaded (the SHA-1s of its configuration and PEM), written once it has: a run
# interrupted after a file changed and before the reload leaves it stale, and the next run reloads.
PROXY_LOADED = "auth-proxy.loaded"
# Wrong passwords an address may send in a minute before it is refused without a check.
MAX_FAILURES = 30
# The load balancer's files, on its host.
LB_CONFIG = "/etc/haproxy/haproxy.cfg"
LB_PEM = "/etc/haproxy/registry.pem"
LB_CA = "/etc/haproxy/registry-ca.crt"
# The backend of files/haproxy.cfg.j2 that balances over the replicas.
BACKEND = "replicas"
# How it checks each replica: every CHECK_SECONDS; FALL failures take it out, RISE successes put it back.
CHECK_SECONDS, FALL, RISE = 1, 2, 2
# How long a connection to a replica (or a check) may take before the request is retried on another: a
# vanished host never refuses, so this bounds what a request waits on one (5 s before, which clients gave
# up on) until the checks take it out, FALL checks later.
CONNECT_TIMEOUT = "1s"
# How long after a replica answers again every load balancer has put it back: a deploy that replaces the
# replicas one at a time waits this long before the next one stops.
READMIT_SECONDS = CHECK_SECONDS * (RISE + 1)


def proxy_config(name: str, data, clients: tuple = ()) -> str:
    """files/auth-proxy.cfg.j2 rendered for a host; `clients`: the names of the hosts whose client certificate
    its pull-through mirrors accept (core.topology.mirror_clients)."""
    store = SecretStore(data.registry_secrets_dir)
    htpasswd = store.htpasswd(data.registry_users).decode()
    users = [tuple(line.split(":", 1)) for line in htpasswd.splitlines() if line]
    rules = [{**rule, "regex": access.glob_regex(rule["repositories"])} for rule in access.rules(data)]
    template = jinja2.Template((ROOT / "files/auth-proxy.cfg.j2").read_text(), keep_trailing_newline=True,
                               trim_blocks=True, lstrip_blocks=True)
    return template.render(users=users, rules=rules, methods=access.METHODS, catalog_users=access.catalog_users(data),
                           cache_seconds=data.registry_auth_cache_seconds, cache_key=store.auth_cache_key(),
                           max_failures=MAX_FAILURES, bind_address=data.registry_bind_address or "",
                           port=data.registry_port, pem=f"{PROXY_IMAGE_DIR}/{PROXY_PEM}",
                           backend_port=data.registry_backend_port, mirrors=mirrors(data),
                           readonly_port=data.registry_readonly_port, admin_socket=PROXY_SOCKET,
                           client_ca=f"{PROXY_IMAGE_DIR}/{CLIENT_CA}",
                           client_names=[f"{CLIENT_CN_PREFIX}{client}" for client in clients])


def haproxy_config(data, servers: list[dict]) -> str:
    """files/haproxy.cfg.j2 for a load balancer in front of `servers` (core.topology.replicas)."""
    template = jinja2.Template((ROOT / "files/haproxy.cfg.j2").read_text(), keep_trailing_newline=True)
    return template.render(port=data.registry_lb_port, stats_port=data.registry_lb_stats_port, tls=tls_on(data),
                           scheme=scheme(data), pem=LB_PEM, ca=LB_CA, backend=BACKEND, servers=servers,
                           inter=CHECK_SECONDS, fall=FALL, rise=RISE, connect_timeout=CONNECT_TIMEOUT,
                           metrics_address=data.registry_metrics_address, metrics_port=data.registry_lb_metrics_port)


def lb_tls_files(name: str, data) -> dict:
    """The frontend's certificate and key (one PEM, root only) and the CA the replicas' certificates chain to."""
    if not tls_on(data):
        return {}
    certificate, key, ca = server_material(name, data)
    files = {LB_PEM: (certificate + key, "600")}
    if ca:
        files[LB_CA] = (ca, "644")
    return files
