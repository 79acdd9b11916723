"""A private Docker registry with its web UI: `pyinfra inventory/<env>.py deploy.py`.

Hosts in the registry_hosts group run a registry, hosts in registry_lb a load balancer in front of them;
the registry hosts and the hosts in registry_clients trust both."""

from pyinfra import host

from core.data import validate
from ops.report import reached
from tasks.access_proxy import access_proxy, proxy_retired
from tasks.clients import registry_clients
from tasks.engine import docker_engine
from tasks.health import health
from tasks.images import images
from tasks.lb import load_balancer, load_balancer_health
from tasks.maintenance import gc_timer
from tasks.registry import registry
from tasks.storage import storage
from tasks.tools import host_tools, private_uploads
from tasks.ui import ui

validate(host)  # config.py checks before connecting; this guards any other entry point (API mode)
private_uploads()

if "registry_hosts" in host.groups:
    docker_engine()
    images()
    host_tools()
    moving = storage()  # (from, to) when the data moves to another place, as asked; else None
    registry(moving)
    proxy_retired()  # users off: the registry took registry_port from the proxy, which goes
    access_proxy()  # users on: the proxy takes registry_port once the registry has moved behind it
    gc_timer()
    ui()
    health()
elif "registry_lb" in host.groups:
    load_balancer()
# Clients log in to registries and load balancers that answer, and a load balancer answers once its replicas do.
reached(name="Registries and load balancers are in place", point="registries and load balancers are in place")
if "registry_lb" in host.groups:
    load_balancer_health()
else:
    registry_clients()
