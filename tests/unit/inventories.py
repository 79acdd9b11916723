"""Inventories as core/topology.py reads them, without pyinfra: hosts with a name, data and groups."""

from types import SimpleNamespace


def inventory_of(hosts):
    """An inventory of these hosts (each is given it as `.inventory`), its groups read from theirs."""
    inventory = SimpleNamespace(get_group=lambda group, default: [h for h in hosts if group in h.groups] or default)
    for each in hosts:
        each.inventory = inventory
    return inventory


def host_of(name, data, *groups):
    return SimpleNamespace(name=name, data=data, groups=list(groups))
