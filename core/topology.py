"""The inventory's shape, answered in one place: which hosts run a registry, a load balancer or a client,
whether the registries share one store, how the load balancers name the replicas, and what clients must
trust. Each function reads an inventory (pyinfra's, or anything with its `get_group`) and its hosts' names,
groups and data; nothing here imports pyinfra."""

from __future__ import annotations

from . import data as settings
from . import scheduler as scheduler_module
from .mirrors import mirrors
from .secrets import scheduler_copy

# The inventory groups the deploy acts on.
REGISTRIES = "registry_hosts"
BALANCERS = "registry_lb"
CLIENTS = "registry_clients"
MONITORS = "registry_monitor"
SCHEDULERS = "registry_scheduler"
GROUPS = (REGISTRIES, CLIENTS, BALANCERS, MONITORS, SCHEDULERS)


def is_registry(host) -> bool:
    return REGISTRIES in host.groups


def is_balancer(host) -> bool:
    return BALANCERS in host.groups


def is_client(host) -> bool:
    return CLIENTS in host.groups


def is_monitor(host) -> bool:
    return MONITORS in host.groups


def is_scheduler(host) -> bool:
    return SCHEDULERS in host.groups


def registries(inventory) -> list:
    return list(inventory.get_group(REGISTRIES, []))


def balancers(inventory) -> list:
    return list(inventory.get_group(BALANCERS, []))


def monitors(inventory) -> list:
    return list(inventory.get_group(MONITORS, []))


def schedulers(inventory) -> list:
    return list(inventory.get_group(SCHEDULERS, []))


def scheduler(inventory):
    """The host that runs the chores on a schedule across the others (core/scheduler.py), or None."""
    found = schedulers(inventory)
    return found[0] if found else None


def scheduled_chores(inventory) -> dict[str, str]:
    """{chore: OnCalendar expression} the scheduler runs, from the registry hosts' data (scheduler_problems
    makes it the same on each)."""
    found = registries(inventory)
    return scheduler_module.scheduled_chores(found[0].data, shared_store(inventory)) if found else {}


def scheduler_targets(inventory) -> list:
    """The hosts the scheduler's runs reach: every registry and every load balancer."""
    return registries(inventory) + balancers(inventory)


def node_exporter(host) -> bool:
    """Whether a registry host runs the node exporter (with the chores' metrics): as registry_node_exporter
    says, or, when it says None, when the inventory has a Prometheus of its own to scrape it."""
    wanted = host.data.get("registry_node_exporter")
    on = bool(monitors(host.inventory)) if wanted is None else wanted
    return on and is_registry(host) and host.data.get("registry_metrics_address") is not None


def scrape_address(target, monitor) -> str | None:
    """The address `monitor`'s Prometheus reaches `target`'s metrics at: loopback on the same host, else
    the metrics address, or the target's registry name when that is every address; None when they are on
    loopback of another host (or off)."""
    address = target.data.get("registry_metrics_address")
    if address is None:
        return None
    if target.name == monitor.name:
        return "127.0.0.1" if address in ("0.0.0.0", "::") else address
    if address.startswith("127.") or address == "::1":
        return None
    return settings.registry_name(target.name, target.data) if address in ("0.0.0.0", "::") else address


def scrape_targets(monitor) -> dict[str, list[dict]]:
    """What `monitor`'s Prometheus scrapes, per job: {"registry": [...], "node": [...], "lb": [...]}, each
    target {"address": "host:port", "host": inventory name}; targets it cannot reach are left out (and
    refused before connecting: monitor_problems)."""
    inventory = monitor.inventory
    jobs = {"registry": [], "node": [], "lb": []}
    for target in registries(inventory):
        address = scrape_address(target, monitor)
        if address is None:
            continue
        jobs["registry"].append({"address": f"{address}:{target.data.registry_metrics_port}", "host": target.name})
        if node_exporter(target):
            jobs["node"].append({"address": f"{address}:{target.data.registry_node_exporter_port}",
                                 "host": target.name})
    for target in balancers(inventory):
        address = scrape_address(target, monitor)
        if address is not None:
            jobs["lb"].append({"address": f"{address}:{target.data.registry_lb_metrics_port}", "host": target.name})
    return jobs


def shared_store(inventory) -> bool:
    """Whether the registries keep their data in one S3 bucket (store_problems makes it all or none): then
    a chore that removes anything runs across every replica at once."""
    return any(registry.data.registry_storage == "s3" for registry in registries(inventory))


def replaced_in_turn(inventory, data) -> bool:
    """Whether a registry with this data is a replica of one S3 store behind load balancers: such replicas
    are replaced one at a time, each back in the balance before the next one stops."""
    return data.registry_storage == "s3" and bool(balancers(inventory))


def replicas(inventory) -> list[dict]:
    """Every registry host as a load balancer's backend server: its server name ("id"), the host, and the
    name, port and URL clients reach it by."""
    servers = []
    for index, replica in enumerate(registries(inventory)):
        address, port = settings.registry_name(replica.name, replica.data), replica.data.registry_port
        servers.append({"id": f"r{index}", "host": replica, "address": address, "port": port,
                        "url": f"{settings.scheme(replica.data)}://{address}:{port}"})
    return servers


def endpoints(inventory) -> list[tuple]:
    """Every (host, port) a client may push to or pull from: each registry, and each load balancer."""
    return ([(registry, registry.data.registry_port) for registry in registries(inventory)]
            + [(balancer, balancer.data.registry_lb_port) for balancer in balancers(inventory)])


def plain_http_registries(inventory) -> list[str]:
    """The registries that serve plain HTTP (registry_tls off), as host:port."""
    return [f"{settings.registry_name(r.name, r.data)}:{r.data.registry_port}"
            for r in registries(inventory) if not settings.tls_on(r.data)]


def mirror_endpoints(inventory) -> list[tuple]:
    """Every (registry host, mirror) pair: each registry host runs every mirror of its registry_mirrors."""
    return [(registry, mirror) for registry in registries(inventory) for mirror in mirrors(registry.data)]


def mirror_clients(inventory) -> list[str]:
    """The hosts whose engines use the mirrors, each with a client certificate: every registry host and every
    registry_clients host."""
    return list(dict.fromkeys(h.name for h in [*registries(inventory), *inventory.get_group(CLIENTS, [])]))


def hub_mirror_urls(inventory) -> list[str]:
    """The Docker Hub mirrors clients list in daemon.json registry-mirrors, as https://name:port (the engine
    tries them in this order, and Docker Hub itself last)."""
    return [f"https://{settings.registry_name(registry.name, registry.data)}:{mirror.port}"
            for registry, mirror in mirror_endpoints(inventory) if mirror.docker_hub]


def front_door(inventory):
    """The load balancer a UI sends its requests through (the first of the inventory), or None."""
    found = balancers(inventory)
    return found[0] if found else None


def membership_problems(host) -> list[str]:
    """A host must play a part, and not both sides of the load balancer."""
    if not set(GROUPS) & set(host.groups):
        return [f"the host is in none of the {', '.join(GROUPS[:-1])} and {GROUPS[-1]} groups of its inventory"]
    if is_registry(host) and is_balancer(host):
        return [f"a host is a registry replica or its load balancer ({BALANCERS}), not both"]
    return []


def monitor_problems(host) -> list[str]:
    """A Prometheus host must reach every registry and load balancer it is to watch."""
    if not is_monitor(host):
        return []
    found = []
    for target in registries(host.inventory) + balancers(host.inventory):
        address = target.data.get("registry_metrics_address") or "no address (registry_metrics_address=None)"
        if scrape_address(target, host) is None:
            found.append(f"{target.name} serves its metrics on {address},"
                         f" which this {MONITORS} host cannot reach: set its registry_metrics_address to an address"
                         " of its own (or 0.0.0.0) on a network you trust")
    return found


def store_problems(host) -> list[str]:
    """Replicas on S3 share one bucket, or none does: chores across replicas assume every one of them keeps
    its data there."""
    if not is_registry(host):
        return []
    store = ("registry_storage", "registry_s3_endpoint", "registry_s3_bucket")
    others = [replica for replica in registries(host.inventory)
              if [replica.data.get(key) for key in store] != [host.data.get(key) for key in store]]
    if others and "s3" in [host.data.get("registry_storage"), *(r.data.get("registry_storage") for r in others)]:
        return [f"registry_storage, registry_s3_endpoint and registry_s3_bucket must be the same on every host of"
                f" {REGISTRIES} with S3 storage; {others[0].name} differs"]
    return []


def scheduler_problems(host) -> list[str]:
    """One scheduler at most; the registry hosts agree on what it runs; a chore it must run has one."""
    inventory = host.inventory
    found = schedulers(inventory)
    problems = []
    if len(found) > 1:
        problems.append(f"{SCHEDULERS} holds {len(found)} hosts: one runs the schedules (two would run each chore"
                        " twice)")
    if is_registry(host):
        for key in ("registry_gc_schedule", "registry_retention_schedule"):
            others = [r.name for r in registries(inventory) if r.data.get(key) != host.data.get(key)]
            if others and (key == "registry_retention_schedule" or shared_store(inventory)):
                problems.append(f"{key} must be the same on every host of {REGISTRIES} (one run covers them all);"
                                f" {others[0]} differs")
        chores = scheduler_module.scheduled_chores(host.data, shared_store(inventory))
        if chores and not found and not scheduler_copy(host.data):  # the scheduler's runs have none
            problems += [f"registry_{chore}_schedule={schedule!r} needs a host in the {SCHEDULERS} group to run it"
                         + (" across the replicas (one replica's timer cannot switch the others read-only)"
                            if chore == "gc" else " (retention decides with pyinfra, from the scheduler)")
                         for chore, schedule in chores.items()]
    return problems
