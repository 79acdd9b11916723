"""The load balancer (the registry_lb group): HAProxy from the distribution's packages in front of every
host of registry_hosts, with active health checks (a replica that fails them gets no traffic), requests
retried on another replica when one stops mid-request, X-Forwarded-* headers, TLS with a certificate from
the same CA for the name clients use, and a stats page on 127.0.0.1 only."""

from __future__ import annotations

from pathlib import Path

import jinja2
from pyinfra import host, inventory
from pyinfra.api import deploy, operation
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import systemd
from pyinfra.operations.util import any_changed

from core.data import registry_name, scheme, tls_on
from ops.facts import (
    SESSIONS_COLUMN,
    STATUS_COLUMN,
    BalancedServers,
    HttpCode,
    haproxy_command,
    http_status_command,
)
from ops.files import checked_file, files_in_place
from ops.packages import deb_pinned, rpm_pinned

from .registry_files import private_ca, server_material

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "/etc/haproxy/haproxy.cfg"
PEM = "/etc/haproxy/registry.pem"
CA = "/etc/haproxy/registry-ca.crt"
# The backend of files/haproxy.cfg.j2 that balances over the replicas.
BACKEND = "replicas"
# How it checks each replica: every CHECK_SECONDS; FALL failures take it out, RISE successes put it back.
CHECK_SECONDS, FALL, RISE = 1, 2, 2
# How long after a replica answers again every load balancer has put it back: a deploy that replaces the
# replicas one at a time waits this long before the next one stops.
READMIT_SECONDS = CHECK_SECONDS * (RISE + 1)


def replaced_in_turn(data) -> bool:
    """Whether this registry is a replica of one S3 store behind load balancers: such replicas are replaced
    one at a time, each back in the balance (READMIT_SECONDS) before the next one stops."""
    return data.registry_storage == "s3" and bool(inventory.get_group("registry_lb", []))


def replicas() -> list[dict]:
    """Every registry host of the inventory as a backend server: its server name ("id"), the pyinfra host,
    and the name, port and URL clients reach it by."""
    servers = []
    for index, replica in enumerate(inventory.get_group("registry_hosts", [])):
        address, port = registry_name(replica.name, replica.data), replica.data.registry_port
        servers.append({"id": f"r{index}", "host": replica, "address": address, "port": port,
                        "url": f"{scheme(replica.data)}://{address}:{port}"})
    return servers


def haproxy_config(data, servers: list[dict]) -> str:
    template = jinja2.Template((ROOT / "files/haproxy.cfg.j2").read_text(), keep_trailing_newline=True)
    return template.render(port=data.lb_port, stats_port=data.lb_stats_port, tls=tls_on(data), scheme=scheme(data),
                           pem=PEM, ca=CA, backend=BACKEND, servers=servers, inter=CHECK_SECONDS, fall=FALL,
                           rise=RISE)


def tls_files(name: str, data) -> dict:
    """The frontend's certificate and key (one PEM, root only) and the CA the replicas' certificates chain to."""
    if not tls_on(data):
        return {}
    certificate, key, ca = server_material(name, data)
    files = {PEM: (certificate + key, "600")}
    if ca:
        files[CA] = (ca, "644")
    return files


@operation()
def answers(url: str, server_name: str, cacert: str | None):
    """
    Ensure the load balancer answers `url` as a registry does (200, or 401 with users on); otherwise wait
    up to 30 s, and fail the host when it still does not.

    + url: the load balancer's /v2/ as clients reach it
    + server_name: the name in it, resolved to this host
    + cacert: the CA to check its certificate with, or None
    """
    if host.get_fact(HttpCode, url=url, resolve_name=server_name, cacert=cacert) in ("200", "401"):
        host.noop("the load balancer answers")
        return
    probe = http_status_command(url, resolve_name=server_name, cacert=cacert)
    yield (f"for i in $(seq 60); do case $({probe}) in 200|401) exit 0 ;; esac; sleep 0.5; done;"
           f" echo 'the load balancer does not answer {url} as a registry; see: journalctl -u haproxy' >&2; exit 1")


@operation(is_idempotent=False)
def balanced(server: str, state: str, seconds: int):
    """
    Drain a replica from the load balancer, or put it back: "drain" sends it no new request and waits
    (at most `seconds`) until the requests it serves are done; "ready" sends it requests again once its
    health check passes, and fails when that takes longer than `seconds`.

    + server: the replica's server name (its "id" in replicas())
    + state: "drain" or "ready"
    + seconds: how long to wait
    """
    def stat(column: int) -> str:  # a column of the server's line of `show stat` (CSV)
        return (f"$({haproxy_command('show stat')} | awk -F, '$1 == \"{BACKEND}\" && $2 == \"{server}\""
                f" {{ print ${column} }}')")

    yield haproxy_command(f"set server {BACKEND}/{server} state {state}")
    if state == "drain":
        yield (f"for i in $(seq {seconds * 2}); do [ \"{stat(SESSIONS_COLUMN)}\" = 0 ] && exit 0; sleep 0.5; done;"
               f" echo 'registry: {server} still serves requests after {seconds}s; switching it anyway' >&2")
    else:
        yield (f"for i in $(seq {seconds * 2}); do [ \"{stat(STATUS_COLUMN)}\" = UP ] && exit 0; sleep 0.5; done;"
               f" echo 'registry: {server} does not pass its health check after {seconds}s' >&2; exit 1")


@operation()
def serving_all():
    """Ensure no replica is left drained or in maintenance on the load balancer (by a chore that was killed
    while it switched one): each gets requests again once its health check passes."""
    left = [name for name, status in (host.get_fact(BalancedServers, backend=BACKEND) or {}).items()
            if status.startswith(("DRAIN", "MAINT"))]
    if not left:
        host.noop("every replica is in the balance")
        return
    for name in left:
        yield haproxy_command(f"set server {BACKEND}/{name} state ready")


@deploy("Load balancer")
def load_balancer():
    data = host.data
    # socat: the deploy and the chores talk to HAProxy's runtime API (drain a replica, read its state).
    packages = {"haproxy": None, "curl": None, "socat": None}
    if host.get_fact(LinuxDistribution)["name"] in ("Debian", "Ubuntu"):
        deb_pinned(name="HAProxy is installed", packages=packages)
    else:
        rpm_pinned(name="HAProxy is installed", packages=packages)
    material = tls_files(host.name, data)
    placed = files_in_place(name="Its certificate and the replicas' CA are in place", files=material) \
        if material else None
    config = checked_file(name="HAProxy configuration is checked and in place", path=CONFIG,
                          content=haproxy_config(data, replicas()).encode(), mode="644", check="haproxy -c -f {}")
    systemd.service(name="HAProxy is running and enabled", service="haproxy.service", running=True, enabled=True)
    systemd.service(name="HAProxy reloads its new configuration", service="haproxy.service", reloaded=True,
                    _if=any_changed(config, *([placed] if placed else [])))
    serving_all(name="No replica is left drained")


@deploy("Load balancer")
def load_balancer_health():
    """The load balancer's gate; run once the replicas are deployed (the first run deploys both)."""
    data = host.data
    name = registry_name(host.name, data)
    answers(name="The load balancer answers as a registry", url=f"{scheme(data)}://{name}:{data.lb_port}/v2/",
            server_name=name, cacert=CA if private_ca(data) else None)
