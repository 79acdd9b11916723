"""The load balancer (the registry_lb group): HAProxy from the distribution's packages in front of every
host of registry_hosts, with active health checks (a replica that fails them gets no traffic), requests
retried on another replica when one stops mid-request, X-Forwarded-* headers, TLS with a certificate from
the same CA for the name clients use, and a stats page on 127.0.0.1 only."""

from __future__ import annotations

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.operations import systemd
from pyinfra.operations.util import any_changed

from core import topology
from core.data import registry_name, scheme
from core.haproxy_files import LB_CA, LB_CONFIG, haproxy_config, lb_tls_files
from core.host_files import private_ca
from ops.files import checked_file, files_in_place
from ops.lb import answers, serving_all
from ops.packages import deb_pinned, rpm_pinned
from ops.platform import distribution, os_family


@deploy("Load balancer")
def load_balancer():
    data = host.data
    # socat: the deploy and the chores talk to HAProxy's runtime API (drain a replica, read its state).
    packages = {"haproxy": None, "curl": None, "socat": None}
    if os_family(distribution(host)) == "debian":
        deb_pinned(name="HAProxy is installed", packages=packages)
    else:
        rpm_pinned(name="HAProxy is installed", packages=packages)
    material = lb_tls_files(host.name, data)
    placed = files_in_place(name="Its certificate and the replicas' CA are in place", files=material) \
        if material else None
    config = checked_file(name="HAProxy configuration is checked and in place", path=LB_CONFIG,
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
    answers(name="The load balancer answers as a registry", url=f"{scheme(data)}://{name}:{data.registry_lb_port}/v2/",
            server_name=name, cacert=LB_CA if private_ca(data) else None)
