"""The load balancer's HAProxy as the deploy and the chores see it, through its runtime API: the replicas'
state, a replica drained or put back, and the balancer answering as a registry."""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import FactBase, operation

from core.haproxy_files import BACKEND

from .health import HttpCode, http_status_command

# HAProxy's runtime API, root only (files/haproxy.cfg.j2 creates it).
HAPROXY_SOCKET = "/run/haproxy/admin.sock"


def haproxy_command(command: str) -> str:
    """The shell command that sends `command` to HAProxy's runtime API."""
    return f"echo {shlex.quote(command)} | socat stdio {HAPROXY_SOCKET}"


# Columns of HAProxy's `show stat` (CSV: proxy, server, ...): the requests a server serves now, its status.
SESSIONS_COLUMN = 5
STATUS_COLUMN = 18


class BalancedServers(FactBase):
    """
    {server: status ("UP", "DOWN", "DRAIN", "MAINT", ...)} for each server of a backend of the running
    HAProxy; {} when it does not run, None without socat.
    """

    def requires_command(self, backend) -> str:
        return "socat"

    def command(self, backend) -> str:
        return (f"{haproxy_command('show stat')} 2>/dev/null | awk -F, -v b={shlex.quote(backend)}"
                f" '$1 == b && $2 != \"FRONTEND\" && $2 != \"BACKEND\" {{ print $2 \",\" ${STATUS_COLUMN} }}'"
                " || true")

    def process(self, output):
        return dict(line.split(",", 1) for line in output)


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
