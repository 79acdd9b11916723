"""Metrics and alerts on a real Prometheus: a host that runs a registry and is the inventory's
registry_monitor too (Debian's prometheus and node exporter packages, installed by the deploy), its alert
rules' `for:` shortened by registry_alert_for. Each fault is made on the host and must show in the alerts
and in status.py; the next run heals it. Runs on a host of its own (host_name(3)), made and removed here."""

import json
import os
import re
import time

import pytest

from core.host_paths import CHORE_METRICS, TEXTFILE_DIR
from core.monitoring import ALERT_RULES, alert_rules
from dev.operator import ROOT, deploy, sandbox, status
from sandbox.hosts import host_name
from tests.e2e.chores import kill_held_chore, upload_status
from tests.e2e.conftest import push_hello, push_own, session, target_for, wait_for

HOST = host_name(3)
PROMETHEUS = "http://127.0.0.1:9090"
FAST = ("--data", "registry_alert_for=1s", "--data", "registry_prometheus_interval=1s")
RULE_TESTS = ROOT / "tests/e2e/data/alert-rules-test.yml"
# The shipped rules, as group_data/all.py names them (relative to the directory pyinfra runs in, as here).
RULES_SRC = "files/registry-alerts.yml"


def _deploy(*args):
    return deploy("--limit", HOST, *FAST, *args)


@pytest.fixture(scope="module")
def monitored(fresh_sandbox):
    os.environ["SANDBOX_MONITOR"] = HOST
    sandbox("down", "--only", HOST)
    sandbox("up", "--first", "3", "--hosts", "4", "--engine")
    try:
        run = _deploy()
        assert run.returncode == 0, run.stderr[-3000:]
        t = target_for(HOST)
        push_hello(t)
        yield t, run
    finally:
        del os.environ["SANDBOX_MONITOR"]
        sandbox("down", "--only", HOST)


def _api(t, path: str) -> dict:
    return json.loads(t.host.check_output(f"curl -s {PROMETHEUS}/api/v1/{path}"))["data"]


def _firing(t) -> set[str]:
    """The alerts Prometheus fires now, as "ALERTNAME" or "ALERTNAME CHORE"."""
    return {" ".join(filter(None, (a["labels"]["alertname"], a["labels"].get("chore"))))
            for a in _api(t, "alerts")["alerts"] if a["state"] == "firing"}


def _targets(t) -> dict[str, str]:
    return {target["labels"]["job"]: target["health"] for target in _api(t, "targets")["activeTargets"]}


def test_every_target_is_up_after_a_deploy_and_a_second_run_changes_nothing(monitored):
    t, first = monitored
    assert ("Monitoring | Prometheus loads its new configuration and rules", HOST) in first.changed()
    wait_for(lambda: set(_targets(t).values()) == {"up"}, seconds=60)
    assert set(_targets(t)) == {"prometheus", "registry", "registry-node"}
    assert {rule["name"] for group in _api(t, "rules")["groups"] for rule in group["rules"]} >= {
        "RegistryDown", "RegistryReadOnly", "RegistryChoreFailed", "RegistryCertificateExpiring",
        "RegistryStorageFilling", "RegistryReplicasMissing", "RegistryMetricsMissing"}
    assert _firing(t) == set(), "a healthy host fires nothing"
    again = _deploy()
    assert again.returncode == 0 and again.changes() == []


def test_metrics_listen_on_loopback_only_and_never_on_the_public_ports(monitored):
    t, _ = monitored
    listening = t.host.check_output("ss -ltnH").split("\n")
    for port in (t.data.registry_metrics_port, t.data.registry_node_exporter_port, 9090):
        addresses = {line.split()[3].rsplit(":", 1)[0] for line in listening if line.split()[3].endswith(f":{port}")}
        assert addresses == {"127.0.0.1"}, f"port {port} listens on {addresses}"
    metrics = t.host.check_output(f"curl -s 127.0.0.1:{t.data.registry_metrics_port}/metrics")
    assert "registry_http_requests_total" in metrics or "registry_http_in_flight_requests" in metrics
    for url in (t.registry, t.ui):
        answer = session("admin").get(f"{url}/metrics", timeout=10)
        assert "registry_http" not in answer.text and answer.status_code != 200, url


def test_the_certificate_and_the_chores_are_in_the_node_exporters_metrics(monitored):
    t, _ = monitored
    exported = t.host.check_output(f"curl -s 127.0.0.1:{t.data.registry_node_exporter_port}/metrics")
    end = re.search(r'^registry_certificate_expiry_timestamp_seconds\{name="([^"]+)"\} (\S+)$', exported, re.M)
    assert end and end[1] == HOST
    printed = t.host.check_output(f"openssl x509 -enddate -noout -in {t.data.registry_config_dir}/registry.crt"
                                  " | cut -d= -f2 | xargs -I{} date -d {} +%s")
    assert float(end[2]) == float(printed), "the expiry of the certificate the registry serves"
    assert re.search(r"^registry_read_only 0$", exported, re.M)
    assert re.search(r"^registry_maintenance_lock_held 0$", exported, re.M)


def test_a_stopped_registry_fires_registry_down_until_a_run_starts_it(monitored):
    t, _ = monitored
    t.host.check_output(f"docker stop {t.data.registry_container}")
    wait_for(lambda: "RegistryDown" in _firing(t), seconds=60)
    found = status("--limit", HOST)[HOST]
    assert found["registry"]["state"] == "exited" and "monitor" in found["roles"]
    healed = _deploy()
    assert healed.returncode == 0, healed.stderr[-3000:]
    wait_for(lambda: "RegistryDown" not in _firing(t), seconds=60)
    assert status("--limit", HOST)[HOST]["registry"]["state"] == "running"


def test_a_chore_killed_read_only_fires_until_the_next_run_heals_it_and_a_good_gc_clears_the_failure(monitored):
    """SIGKILL inside the read-only window: the read-only and chore-failed alerts fire; the next run makes
    the registry writable (read-only clears), and the failure stays until a GC ends well."""
    t, _ = monitored
    push_own(t, "doomed", "1")
    kill_held_chore(t, "gc")
    assert upload_status(t) == "405"
    wait_for(lambda: {"RegistryReadOnly", "RegistryChoreFailed gc"} <= _firing(t), seconds=90)
    found = status("--limit", HOST)[HOST]["registry"]
    assert found["read_only"] and found["running"] is None and found["last_chore"][:2] == ["gc", "started"]
    healed = _deploy()
    assert healed.returncode == 0, healed.stderr[-3000:]
    assert upload_status(t) == "202"
    wait_for(lambda: "RegistryReadOnly" not in _firing(t), seconds=60)
    assert "RegistryChoreFailed gc" in _firing(t), "no GC has ended well since"
    collected = deploy("--limit", HOST, *FAST, file="gc.py")
    assert collected.returncode == 0, collected.stderr[-3000:]
    wait_for(lambda: not {"RegistryChoreFailed gc", "RegistryReadOnly"} & _firing(t), seconds=60)
    chores = t.host.check_output(f"cat {TEXTFILE_DIR}/{CHORE_METRICS}")
    assert re.search(r'^registry_gc_blobs\{when="before"\} [1-9]', chores, re.M), "the last GC's counts"
    assert status("--limit", HOST)[HOST]["registry"]["last_chore"][:2] == ["gc", "ok"]


def _rule_seconds(t) -> set[float]:
    """The `for:` of every alert rule Prometheus has loaded, in seconds."""
    return {rule["duration"] for group in _api(t, "rules")["groups"] for rule in group["rules"]}


def test_rules_moved_in_by_a_run_that_never_reloaded_are_loaded_by_the_next(monitored):
    """What a run killed (or whose SSH session dropped) between moving new rules in and reloading
    Prometheus leaves: the new file in place, the old rules live. The next run must not take the file
    being in place for the rules being loaded."""
    t, _ = monitored
    assert _rule_seconds(t) == {1}
    time.sleep(1)  # the file is newer than Prometheus' last load by the clock's second
    slower = alert_rules(RULES_SRC, "2s")
    t.host.check_output(f"cat > {ALERT_RULES}.new <<'EOF'\n{slower}EOF\nmv {ALERT_RULES}.new {ALERT_RULES}")
    assert _rule_seconds(t) == {1}, "the old rules are still live"
    try:
        run = deploy("--limit", HOST, "--data", "registry_alert_for=2s", "--data", "registry_prometheus_interval=1s")
        assert run.returncode == 0, run.stderr[-3000:]
        changed = run.changed()
        assert ("Monitoring | Alert rules are checked by promtool and in place", HOST) not in changed
        assert ("Monitoring | Prometheus loads its new configuration and rules", HOST) in changed
        assert _rule_seconds(t) == {2}
    finally:
        restored = _deploy()  # raised first, the body's error is the one shown
    assert restored.returncode == 0 and _rule_seconds(t) == {1}


def test_the_shipped_rules_pass_their_promtool_tests_and_rules_promtool_refuses_never_go_live(monitored, tmp_path):
    t, _ = monitored
    t.host.check_output(f"mkdir -p /tmp/rules && cp {ALERT_RULES} /tmp/rules/registry-alerts.yml")
    t.host.check_output(f"cat > /tmp/rules/test.yml <<'EOF'\n{RULE_TESTS.read_text()}EOF")
    assert "SUCCESS" in t.host.check_output("cd /tmp/rules && promtool test rules test.yml")
    live = t.host.check_output(f"sha256sum {ALERT_RULES}")
    loaded = _api(t, "status/runtimeinfo")["lastConfigTime"]
    broken = tmp_path / "rules.yml"
    broken.write_text((ROOT / "files/registry-alerts.yml").read_text().replace("up{job=", "up{{job=", 1))
    refused = _deploy("--data", f"registry_alert_rules={broken}")
    assert refused.returncode != 0 and "promtool" in refused.stderr
    assert t.host.check_output(f"sha256sum {ALERT_RULES}") == live, "the live rules stay"
    assert _api(t, "status/runtimeinfo")["lastConfigTime"] == loaded, "and Prometheus was not reloaded"
    assert _deploy().changes() == []
