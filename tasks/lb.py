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

from ops.data import registry_name, scheme, tls_on
from ops.facts import HttpCode, http_status_command
from ops.files import checked_file, files_in_place
from ops.packages import deb_pinned, rpm_pinned

from .registry_files import private_ca, server_material

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "/etc/haproxy/haproxy.cfg"
PEM = "/etc/haproxy/registry.pem"
CA = "/etc/haproxy/registry-ca.crt"


def replicas() -> list[dict]:
    """Every registry host of the inventory as a backend server: by the name clients reach it by."""
    return [{"id": f"r{index}", "address": registry_name(replica.name, replica.data),
             "port": replica.data.registry_port}
            for index, replica in enumerate(inventory.get_group("registry_hosts", []))]


def haproxy_config(data, servers: list[dict]) -> str:
    template = jinja2.Template((ROOT / "files/haproxy.cfg.j2").read_text(), keep_trailing_newline=True)
    return template.render(port=data.lb_port, stats_port=data.lb_stats_port, tls=tls_on(data), scheme=scheme(data),
                           pem=PEM, ca=CA, servers=servers)


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


@deploy("Load balancer")
def load_balancer():
    data = host.data
    packages = {"haproxy": None, "curl": None}
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


@deploy("Load balancer")
def load_balancer_health():
    """The load balancer's gate; run once the replicas are deployed (the first run deploys both)."""
    data = host.data
    name = registry_name(host.name, data)
    answers(name="The load balancer answers as a registry", url=f"{scheme(data)}://{name}:{data.lb_port}/v2/",
            server_name=name, cacert=CA if private_ca(data) else None)
