"""Metrics and monitoring: the node exporter on each registry host (the chores' metrics through its textfile
collector, refreshed by the registry-metrics timer, and the certificate's expiry), and on the registry_monitor
hosts Prometheus from the OS packages, scraping every registry, node exporter and load balancer of the
inventory with the shipped alert rules (files/registry-alerts.yml), each file checked by promtool before it
replaces the live one. The registries' and load balancers' own metrics are their configuration's part
(tasks/registry.py, files/haproxy.cfg.j2)."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from core import topology
from core.data import registry_name, tls_on
from core.host_files import server_material
from core.host_paths import CERTIFICATE_METRICS, MAINTENANCE_SCRIPT, SYSTEMD_UNITS, TEXTFILE_DIR
from core.monitoring import (
    ALERT_RULES,
    NODE_EXPORTER_DEFAULTS,
    PROMETHEUS_CONFIG,
    PROMETHEUS_DEFAULTS,
    alert_rules,
    certificate_metrics,
    defaults_file,
    prometheus_config,
)
from ops.files import FileStates, checked_file, files_in_place
from ops.monitoring import PrometheusStale, reloaded
from ops.packages import deb_pinned
from ops.platform import distribution, os_family
from ops.report import log_once
from ops.services import running_and_enabled

UNITS = SYSTEMD_UNITS
# The chores' metrics are written again this often (and at every chore's start and end).
METRICS_EVERY = "15s"
METRICS_SERVICE = f"""# Managed by the registry deploy (tasks/monitoring.py): the chores' metrics for the node exporter.
[Unit]
Description=Docker registry maintenance metrics

[Service]
Type=oneshot
ExecStart={MAINTENANCE_SCRIPT} metrics
"""
METRICS_TIMER = f"""# Managed by the registry deploy (tasks/monitoring.py).
[Unit]
Description=Docker registry maintenance metrics, every {METRICS_EVERY}

[Timer]
OnBootSec={METRICS_EVERY}
OnUnitActiveSec={METRICS_EVERY}
AccuracySec=1s

[Install]
WantedBy=timers.target
"""
METRICS_UNITS = {f"{UNITS}/registry-metrics.service": METRICS_SERVICE, f"{UNITS}/registry-metrics.timer": METRICS_TIMER}


def _debian_family() -> bool:
    return os_family(distribution(host)) == "debian"


@deploy("Metrics")
def node_exporter():
    """The node exporter and the chores' metrics on a registry host (topology.node_exporter says whether)."""
    data = host.data
    if not topology.node_exporter(host):
        _metrics_timer_absent()
        return
    debian = _debian_family()
    if not debian:
        log_once("WARNING: registry_node_exporter: the deploy installs the node exporter on Debian and Ubuntu only;"
                 f" on this host, run one whose textfile collector reads {TEXTFILE_DIR}", warning=True)
    placed = {path: (text.encode(), "644") for path, text in METRICS_UNITS.items()}
    if tls_on(data):
        certificate, _, _ = server_material(host.name, data)
        placed[f"{TEXTFILE_DIR}/{CERTIFICATE_METRICS}"] = (
            certificate_metrics(registry_name(host.name, data), certificate).encode(), "644")
    if debian:
        # Before the package: it starts the exporter at once, which must not listen on every address even then.
        placed[NODE_EXPORTER_DEFAULTS] = (defaults_file([
            f"--web.listen-address={data.registry_metrics_address}:{data.registry_node_exporter_port}",
            f"--collector.textfile.directory={TEXTFILE_DIR}"]).encode(), "644")
    written = files_in_place(name="The node exporter's settings, the certificate's expiry and the metrics timer are"
                                " in place", files=placed)
    if debian:
        deb_pinned(name="Node exporter is installed", packages={"prometheus-node-exporter": None})
    server.shell(name="systemd and the node exporter read them",
                 commands=["systemctl daemon-reload"]
                 + (["systemctl restart prometheus-node-exporter.service"] if debian else []),
                 _if=written.did_change)
    running_and_enabled(name="Node exporter and the chores' metrics timer run and are enabled",
                        services=(["prometheus-node-exporter.service"] if debian else []) + ["registry-metrics.timer"])


def _metrics_timer_absent():
    states = host.get_fact(FileStates, paths=sorted(METRICS_UNITS)) or {}
    present = [path for path in sorted(METRICS_UNITS) if path in states]
    if not present:
        host.noop("no metrics timer")
        return
    systemd.service(name="The chores' metrics timer is disabled", service="registry-metrics.timer",
                    running=False, enabled=False)
    for path in present:
        files.file(name=f"{path} is absent", path=path, present=False)


@deploy("Monitoring")
def prometheus():
    """Prometheus on a registry_monitor host, scraping what the inventory holds, with the alert rules."""
    data = host.data
    if not _debian_family():
        log_once("WARNING: registry_monitor: the deploy installs Prometheus on Debian and Ubuntu only; load"
                 " files/registry-alerts.yml into a Prometheus of your own", warning=True)
        return
    url = f"http://{data.registry_prometheus_listen}"
    defaults = files_in_place(name="Prometheus listens on registry_prometheus_listen only", files={
        PROMETHEUS_DEFAULTS: (defaults_file([f"--web.listen-address={data.registry_prometheus_listen}"]).encode(),
                              "644")})
    deb_pinned(name="Prometheus is installed", packages={"prometheus": None, "curl": None})
    rules = checked_file(name="Alert rules are checked by promtool and in place", path=ALERT_RULES,
                         content=alert_rules(data.registry_alert_rules, data.registry_alert_for).encode(), mode="644",
                         check="promtool check rules {}")
    config = checked_file(name="Prometheus configuration is checked by promtool and in place", path=PROMETHEUS_CONFIG,
                          content=prometheus_config(host, data).encode(), mode="644",
                          check="promtool check config --syntax-only {}")
    running_and_enabled(name="Prometheus runs and is enabled", services=["prometheus.service"])
    server.shell(name="Prometheus restarts on its new settings", commands=["systemctl restart prometheus.service"],
                 _if=defaults.did_change)
    stale = host.get_fact(PrometheusStale, url=url, paths=[PROMETHEUS_CONFIG, ALERT_RULES])
    changed = any_changed(rules, config)
    reloaded(name="Prometheus loads its new configuration and rules", url=url, paths=[PROMETHEUS_CONFIG, ALERT_RULES],
             _if=lambda: bool(stale) or changed())
