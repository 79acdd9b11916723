"""status.py's reading of the host script's report, and what it prints for people."""

from core.status import table
from ops.maintenance import RegistryReport
from ops.status import MirrorStates

REPORT = ["@running registry-maintenance gc (pid 12, by root, since 2026-12-01 05:00:00 UTC)",
          "@read-only registry-maintenance gc (pid 12, by root, since 2026-12-01 05:00:00 UTC)",
          "@last-chore gc started 1796104514", "@image registry:2.8.3", "@state running",
          "@stored 3 blobs, 1200 bytes", "@tags 2 5"]


def test_the_report_is_read_line_by_line():
    found = RegistryReport().process(REPORT)
    assert found["running"].startswith("registry-maintenance gc") and found["read_only"]
    assert found["last_chore"] == ("gc", "started", 1796104514) and found["tags"] == (2, 5)
    assert found["image"] == "registry:2.8.3" and found["stored"] == "3 blobs, 1200 bytes"
    idle = RegistryReport().process(["@image registry:2.8.3", "@state exited", "@stored 0 blobs, 0 bytes"])
    assert idle["running"] is None and idle["read_only"] is None and idle["last_chore"] is None


def _registry(**changes):
    registry = {"storage": "volume registry-vol", "image": "registry:2.8.3", "state": "running",
                "stored": "3 blobs, 1200 bytes", "tags": (2, 5), "read_only": None, "running": None,
                "last_chore": ("gc", "ok", 1796104514)}
    return {"host": "reg", "roles": ["registry"], "registry": {**registry, **changes}}


def test_a_chore_that_started_and_holds_no_lock_was_killed_and_says_so():
    killed = table([_registry(read_only="registry-maintenance gc (pid 12)", last_chore=("gc", "started", 1796104514))])
    assert "READ-ONLY since registry-maintenance gc" in killed and "never finished (killed" in killed
    running = table([_registry(running="registry-maintenance gc (pid 12)", last_chore=("gc", "started", 1796104514))])
    assert "running: registry-maintenance gc" in running and "never finished" not in running
    assert "writable; no chore running" in table([_registry()]) and "gc ok at 2026-" in table([_registry()])


def test_a_host_without_a_status_is_named_unreachable():
    said = table([{"host": "lb", "roles": ["load balancer"], "unreachable": "no status"},
                  {"host": "lb2", "roles": ["load balancer"], "replicas": {"r0 reg:5000": "DOWN"}}])
    assert "lb  load balancer\n  UNREACHABLE: no status" in said and "replica      r0 reg:5000 DOWN" in said


def test_each_mirror_is_read_and_printed_with_its_state_and_cache():
    found = MirrorStates().process(["hub running 104857600", "ghcr missing -"])
    assert found == {"hub": ("running", 104857600), "ghcr": ("missing", None)}
    status = {**_registry(), "mirrors": [
        {"name": "hub", "upstream": "https://registry-1.docker.io", "port": 5010, "state": "running",
         "cache_bytes": 104857600},
        {"name": "ghcr", "upstream": "https://ghcr.io", "port": 5011, "state": "missing", "cache_bytes": None}]}
    said = table([status])
    assert "  mirror       hub of https://registry-1.docker.io on :5010 (running), cache 104857600 bytes" in said
    assert "  mirror       ghcr of https://ghcr.io on :5011 (missing), no cache volume" in said
