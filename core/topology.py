"""The inventory's shape, answered in one place: which hosts run a registry, a load balancer or a client,
whether the registries share one store, how the load balancers name the replicas, and what clients must
trust. Each function reads an inventory (pyinfra's, or anything with its `get_group`) and its hosts' names,
groups and data; nothing here imports pyinfra."""

from __future__ import annotations

from . import data as settings

# The inventory groups the deploy acts on.
REGISTRIES = "registry_hosts"
BALANCERS = "registry_lb"
CLIENTS = "registry_clients"
GROUPS = (REGISTRIES, CLIENTS, BALANCERS)


def is_registry(host) -> bool:
    return REGISTRIES in host.groups


def is_balancer(host) -> bool:
    return BALANCERS in host.groups


def is_client(host) -> bool:
    return CLIENTS in host.groups


def registries(inventory) -> list:
    return list(inventory.get_group(REGISTRIES, []))


def balancers(inventory) -> list:
    return list(inventory.get_group(BALANCERS, []))


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
