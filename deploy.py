"""A private Docker registry with its web UI: `pyinfra inventory/<env>.py deploy.py`.

Hosts in the registry_hosts group run a registry, hosts in registry_lb a load balancer in front of them;
the registry hosts and the hosts in registry_clients trust both; hosts in registry_monitor run Prometheus,
watching all of them; the host in registry_scheduler runs the scheduled chores across them."""

from pyinfra import host

from core import topology
from ops.barrier import barrier
from ops.converged import converged_since_last_run, nothing_to_do
from ops.pyinfra_internals import validate_host
from tasks.access_proxy import access_proxy, proxy_retired
from tasks.clients import registry_clients
from tasks.engine import docker_engine
from tasks.health import health
from tasks.host_scripts import host_scripts, private_uploads
from tasks.images import images
from tasks.lb import load_balancer, load_balancer_health
from tasks.maintenance import gc_timer
from tasks.mirrors import pull_through_mirrors
from tasks.monitoring import node_exporter, prometheus
from tasks.registry import registry
from tasks.scheduler import scheduler
from tasks.storage import storage
from tasks.ui import ui

validate_host(host)  # config.py checks before connecting; this guards any other entry point (API mode)
if converged_since_last_run():  # one command a host when nothing drifted since a run that changed nothing
    nothing_to_do(name="Nothing to do: every host answers as in the last run that changed nothing")
else:
    private_uploads()
    if topology.is_registry(host):
        docker_engine()
        images()
        host_scripts()
        migration = storage()  # (from, to) when the data is migrated to another place, as asked; else None
        registry(migration)
        proxy_retired()  # users off: the registry took registry_port from the proxy, which goes
        access_proxy()  # users on: the proxy takes registry_port once the registry has moved behind it
        pull_through_mirrors()
        gc_timer()
        node_exporter()
        ui()
        health()
    elif topology.is_balancer(host):
        load_balancer()
    if topology.is_monitor(host):
        prometheus()
    # Clients log in to registries and load balancers that answer, and a load balancer answers once its
    # replicas do.
    barrier(name="Registries and load balancers are in place", point="registries and load balancers are in place")
    if topology.is_balancer(host):
        load_balancer_health()
    elif topology.is_registry(host) or topology.is_client(host):  # not a host that only monitors
        registry_clients()
    scheduler()  # the scheduled chores' host, and its key on the hosts it runs them on
