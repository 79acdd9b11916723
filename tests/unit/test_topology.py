"""core/topology.py answers every question about the inventory's shape; core/host_files.py renders a host's
files once per run."""


from core import topology
from core.host_files import config_files, server_material
from dev.operator import Data
from tests.unit.inventories import host_of, inventory_of


def test_replicas_are_named_in_inventory_order_with_the_url_clients_use(defaults):
    plain = Data(defaults, registry_tls="off", registry_port=5001)
    inventory = inventory_of([host_of("a", defaults, "registry_hosts"), host_of("b", plain, "registry_hosts"),
                            host_of("lb", Data(defaults, registry_lb_port=5443), "registry_lb"),
                            host_of("c", defaults, "registry_clients"), host_of("lb2", defaults, "registry_lb")])
    assert [(r["id"], r["host"].name, r["url"]) for r in topology.replicas(inventory)] == [
        ("r0", "a", "https://a:5000"), ("r1", "b", "http://b:5001")]
    assert topology.plain_http_registries(inventory) == ["b:5001"]
    assert [(h.name, port) for h, port in topology.endpoints(inventory)] == [
        ("a", 5000), ("b", 5001), ("lb", 5443), ("lb2", 5000)]
    assert topology.front_door(inventory).name == "lb"
    assert not topology.shared_store(inventory)


def test_replicas_on_s3_behind_a_balancer_are_replaced_in_turn(defaults):
    s3 = Data(defaults, registry_storage="s3")
    alone = inventory_of([host_of("a", s3, "registry_hosts")])
    assert topology.shared_store(alone) and not topology.replaced_in_turn(alone, s3)
    balanced = inventory_of([host_of("a", s3, "registry_hosts"), host_of("lb", defaults, "registry_lb")])
    assert topology.replaced_in_turn(balanced, s3) and not topology.replaced_in_turn(balanced, defaults)
    assert topology.front_door(inventory_of([host_of("a", defaults, "registry_hosts")])) is None


def test_a_host_plays_one_part_of_the_three(defaults):
    nowhere, both = host_of("x", defaults, "other"), host_of("y", defaults, "registry_hosts", "registry_lb")
    inventory_of([nowhere, both])
    assert "none of the registry_hosts, registry_clients, registry_lb, registry_monitor and registry_scheduler" in \
        topology.membership_problems(nowhere)[0]
    assert "not both" in topology.membership_problems(both)[0]
    assert topology.membership_problems(host_of("z", defaults, "registry_clients")) == []


def test_config_files_are_rendered_once_per_host_and_data(defaults):
    assert config_files("a", defaults) is config_files("a", defaults)
    assert server_material("a", defaults) is server_material("a", defaults)
    other = Data(defaults, registry_port=5001)
    assert config_files("a", other) is not config_files("a", defaults)
    assert config_files("b", defaults)["registry.crt"] != config_files("a", defaults)["registry.crt"]
