"""The registry_monitor hosts' Prometheus, rendered on the control machine: its configuration (a scrape job
per kind of target, generated from the inventory) and the shipped alert rules; and the certificate expiry
the deploy records for the node exporter."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from cryptography import x509

from . import topology
from .registry_yaml import METRICS_PATH

PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
PROMETHEUS_DEFAULTS = "/etc/default/prometheus"
ALERT_RULES = "/etc/prometheus/registry-alerts.yml"
NODE_EXPORTER_DEFAULTS = "/etc/default/prometheus-node-exporter"
HEADER = "# Managed by the registry deploy ({src}): edits here are replaced on the next run.\n"
# The scrape jobs (the alert rules name them).
JOBS = {"registry": "registry", "node": "registry-node", "lb": "registry-lb"}


def prometheus_config(monitor, data) -> str:
    """prometheus.yml for `monitor` (a host of the registry_monitor group): every registry, node exporter
    and load balancer of its inventory, each target labelled with its inventory host name."""
    interval = data.registry_prometheus_interval
    jobs = [{"job_name": "prometheus", "static_configs": [{"targets": [data.registry_prometheus_listen]}]}]
    for kind, targets in topology.scrape_targets(monitor).items():
        if targets:
            jobs.append({"job_name": JOBS[kind], "metrics_path": METRICS_PATH,
                         "static_configs": [{"targets": [t["address"]], "labels": {"host": t["host"]}}
                                            for t in targets]})
    config = {"global": {"scrape_interval": interval, "evaluation_interval": interval},
              "rule_files": [ALERT_RULES], "scrape_configs": jobs}
    return HEADER.format(src="core/monitoring.py") + yaml.safe_dump(config, sort_keys=False)


def alert_rules(src: str, alert_for: str | None) -> str:
    """The rules file `src` as it is, or with every rule's `for:` replaced by `alert_for` (a file that is
    not rules YAML is passed on as it is: promtool refuses it on the host, naming what is wrong)."""
    text = Path(src).read_text()
    if alert_for is None:
        return text
    try:
        rules = copy.deepcopy(yaml.safe_load(text))
        for group in rules["groups"]:
            for rule in group["rules"]:
                rule["for"] = alert_for
    except (yaml.YAMLError, TypeError, KeyError):
        return text
    return HEADER.format(src=f"{src}, every for: {alert_for}") + yaml.safe_dump(rules, sort_keys=False)


def defaults_file(args: list[str]) -> str:
    """A Debian /etc/default file for a Prometheus daemon: the ARGS its unit passes."""
    return HEADER.format(src="tasks/monitoring.py") + f'ARGS="{" ".join(args)}"\n'


def certificate_metrics(name: str, certificate: bytes) -> str:
    """The node exporter textfile that says when the certificate (the first of a PEM chain) ends."""
    leaf = x509.load_pem_x509_certificates(certificate)[0]
    end = int(leaf.not_valid_after_utc.timestamp())
    return ("# HELP registry_certificate_expiry_timestamp_seconds When the certificate the registry serves ends.\n"
            "# TYPE registry_certificate_expiry_timestamp_seconds gauge\n"
            f'registry_certificate_expiry_timestamp_seconds{{name="{name}"}} {end}\n')
