"""The load balancer (the registry_lb group): HAProxy from the distribution's packages in front of every
host of registry_hosts, with active health checks (a replica that fails them gets no traffic), requests
retried on another replica when one stops mid-request, X-Forwarded-* headers, TLS with a certificate from
the same CA for the name clients use, and a stats page on 127.0.0.1 only."""

from __future__ import annotations

import jinja2
from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import systemd
from pyinfra.operations.util import any_changed

from core import ROOT, topology
from core.data import registry_name, scheme, tls_on
from core.host_files import private_ca, server_material
from ops.files import checked_file, files_in_place
from ops.lb import BACKEND, CHECK_SECONDS, FALL, RISE, answers, serving_all
from ops.packages import deb_pinned, rpm_pinned

CONFIG = "/etc/haproxy/haproxy.cfg"
PEM = "/etc/haproxy/registry.pem"
CA = "/etc/haproxy/registry-ca.crt"
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
                          content=haproxy_config(data, topology.replicas(inventory)).encode(), mode="644",
                          check="haproxy -c -f {}")
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
