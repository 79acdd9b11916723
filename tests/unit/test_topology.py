"""core/topology.py answers every question about the inventory's shape; core/host_files.py renders a host's
files once per run."""

from types import SimpleNamespace

from core import topology
from core.host_files import config_files, server_material
from dev.operator import Data


def _inventory(hosts):
    inventory = SimpleNamespace(get_group=lambda group, default: [h for h in hosts if group in h.groups] or default)
    for each in hosts:
        each.inventory = inventory
    return inventory


def _host(name, data, *groups):
    return SimpleNamespace(name=name, data=data, groups=list(groups))


def test_replicas_are_named_in_inventory_order_with_the_url_clients_use(defaults):
    plain = Data(defaults, registry_tls="off", registry_port=5001)
    inventory = _inventory([_host("a", defaults, "registry_hosts"), _host("b", plain, "registry_hosts"),
                            _host("lb", Data(defaults, registry_lb_port=5443), "registry_lb"),
                            _host("c", defaults, "registry_clients"), _host("lb2", defaults, "registry_lb")])
    assert [(r["id"], r["host"].name, r["url"]) for r in topology.replicas(inventory)] == [
        ("r0", "a", "https://a:5000"), ("r1", "b", "http://b:5001")]
    assert topology.plain_http_registries(inventory) == ["b:5001"]
    assert [(h.name, port) for h, port in topology.endpoints(inventory)] == [
        ("a", 5000), ("b", 5001), ("lb", 5443), ("lb2", 5000)]
    assert topology.front_door(inventory).name == "lb"
    assert not topology.shared_store(inventory)


def test_replicas_on_s3_behind_a_balancer_are_replaced_in_turn(defaults):
    s3 = Data(defaults, registry_storage="s3")
    alone = _inventory([_host("a", s3, "registry_hosts")])
    assert topology.shared_store(alone) and not topology.replaced_in_turn(alone, s3)
    balanced = _inventory([_host("a", s3, "registry_hosts"), _host("lb", defaults, "registry_lb")])
    assert topology.replaced_in_turn(balanced, s3) and not topology.replaced_in_turn(balanced, defaults)
    assert topology.front_door(_inventory([_host("a", defaults, "registry_hosts")])) is None


def test_a_host_plays_one_part_of_the_three(defaults):
    nowhere, both = _host("x", defaults, "other"), _host("y", defaults, "registry_hosts", "registry_lb")
    _inventory([nowhere, both])
    assert "none of the registry_hosts, registry_clients, registry_lb and registry_monitor" in \
        topology.membership_problems(nowhere)[0]
    assert "not both" in topology.membership_problems(both)[0]
    assert topology.membership_problems(_host("z", defaults, "registry_clients")) == []


def test_config_files_are_rendered_once_per_host_and_data(defaults):
    assert config_files("a", defaults) is config_files("a", defaults)
    assert server_material("a", defaults) is server_material("a", defaults)
    other = Data(defaults, registry_port=5001)
    assert config_files("a", other) is not config_files("a", defaults)
    assert config_files("b", defaults)["registry.crt"] != config_files("a", defaults)["registry.crt"]
