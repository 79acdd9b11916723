"""What the registry_monitor hosts' Prometheus scrapes (from the inventory), the rules it loads, what is
refused before connecting, and the metrics the registries' and load balancers' configurations serve."""

import yaml

from core import topology
from core.data import problems
from core.haproxy_files import haproxy_config
from core.host_files import config_files
from core.monitoring import alert_rules, certificate_metrics, prometheus_config
from core.secrets import SecretStore
from dev.operator import Data
from tests.unit.inventories import host_of, inventory_of

RULES = "files/registry-alerts.yml"


def _jobs(monitor) -> dict[str, list]:
    config = yaml.safe_load(prometheus_config(monitor, monitor.data))
    return {job["job_name"]: [(c["targets"][0], c.get("labels", {}).get("host")) for c in job["static_configs"]]
            for job in config["scrape_configs"]}


def test_a_monitor_scrapes_every_registry_node_exporter_and_load_balancer_of_the_inventory(defaults):
    shared = Data(defaults, registry_metrics_address="0.0.0.0")
    own = Data(defaults, registry_metrics_address="10.0.0.7", registry_metrics_port=5102)
    hosts = [host_of("a", shared, "registry_hosts"), host_of("b", own, "registry_hosts"),
             host_of("lb", shared, "registry_lb"), host_of("mon", defaults, "registry_monitor")]
    inventory_of(hosts)
    assert _jobs(hosts[3]) == {
        "prometheus": [("127.0.0.1:9090", None)],
        "registry": [("a:5002", "a"), ("10.0.0.7:5102", "b")],
        "registry-node": [("a:9100", "a"), ("10.0.0.7:9100", "b")],
        "registry-lb": [("lb:8405", "lb")],
    }
    assert topology.monitor_problems(hosts[3]) == []
    assert topology.node_exporter(hosts[0]) and not topology.node_exporter(hosts[2]), "registry hosts only"


def test_a_monitor_reaches_its_own_loopback_and_is_refused_for_another_hosts(defaults):
    hosts = [host_of("a", defaults, "registry_hosts", "registry_monitor"), host_of("b", defaults, "registry_hosts")]
    inventory_of(hosts)
    assert _jobs(hosts[0])["registry"] == [("127.0.0.1:5002", "a")]
    [problem] = topology.monitor_problems(hosts[0])
    assert problem.startswith("b serves its metrics on 127.0.0.1, which this registry_monitor host cannot reach")


def test_without_a_monitor_the_node_exporter_is_the_operators_choice(defaults):
    alone = host_of("a", defaults, "registry_hosts")
    inventory_of([alone])
    assert not topology.node_exporter(alone)
    alone.data = Data(defaults, registry_node_exporter=True)
    assert topology.node_exporter(alone)
    alone.data = Data(defaults, registry_node_exporter=True, registry_metrics_address=None)
    assert not topology.node_exporter(alone), "no metrics at all"


def test_the_shipped_rules_load_as_they_are_or_with_every_for_replaced(defaults):
    assert alert_rules(RULES, None) == open(RULES).read()
    fast = yaml.safe_load(alert_rules(RULES, "2s"))
    assert {rule["for"] for group in fast["groups"] for rule in group["rules"]} == {"2s"}
    assert len(fast["groups"][0]["rules"]) == 7


def test_metrics_settings_are_refused_before_connecting(defaults):
    found = problems(Data(defaults, registry_metrics_address="everywhere", registry_metrics_port=5000,
                          registry_alert_for="soon", registry_prometheus_listen="9090",
                          registry_alert_rules="missing.yml", registry_node_exporter="yes",
                          registry_s3_quota_bytes="1T"))
    assert [p.split("=")[0] for p in found] == [
        "registry_metrics_address", "registry_metrics_port", "registry_node_exporter",
        "registry_prometheus_listen", "registry_s3_quota_bytes", "registry_alert_rules", "registry_alert_for"]


def test_the_registry_serves_prometheus_metrics_on_its_debug_port_and_the_operator_may_not_move_it(defaults):
    writable = yaml.safe_load(config_files("r1", defaults)["writable.yml"])
    assert writable["http"]["debug"] == {"addr": ":5001", "prometheus": {"enabled": True, "path": "/metrics"}}
    off = yaml.safe_load(config_files("r2", Data(defaults, registry_metrics_address=None))["writable.yml"])
    assert "debug" not in off["http"]


def test_the_load_balancer_exports_on_the_metrics_address_only(defaults):
    servers = [{"id": "r0", "address": "a", "port": 5000}]
    config = haproxy_config(defaults, servers)
    assert "bind 127.0.0.1:8405\n" in config and "use-service prometheus-exporter if { path /metrics }" in config
    assert "prometheus-exporter" not in haproxy_config(Data(defaults, registry_metrics_address=None), servers)


def test_the_certificate_metric_is_the_served_certificates_end(defaults):
    certificate, _ = SecretStore(defaults.registry_secrets_dir).server_certificate("r1", ["r1"])
    text = certificate_metrics("r1", certificate)
    assert text.splitlines()[-1].startswith('registry_certificate_expiry_timestamp_seconds{name="r1"} 1')
