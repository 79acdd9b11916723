"""Chores on a sandbox host as the tests drive them: images to collect, and a chore held inside its
read-only window.

A chore is started as a transient systemd unit, as the timer runs it, so that signals reach the script as
they would from `systemctl stop` or a dropped SSH session. To hold it inside its read-only window for as
long as a test needs, its `docker` is a wrapper that, when asked to collect garbage, waits for a file
before running the real one: by then the chore has proved the registry refuses uploads.
"""

from ops.hostscripts import MAINTENANCE_SCRIPT
from tests.e2e.conftest import HOST_CURL


def push_unique(t, reference, size=300_000):
    """Build `reference` on the host from hello plus a layer of its own random bytes, and push it."""
    port = t.data.registry_port
    context = f"/tmp/build-{reference.replace('/', '-').replace(':', '-')}"
    t.host.check_output(
        f"rm -rf {context} && mkdir -p {context} && head -c {size} /dev/urandom > {context}/unique"
        f" && printf 'FROM localhost:{port}/hello\\nCOPY unique /unique\\n' > {context}/Dockerfile"
        f" && docker build -q -t localhost:{port}/{reference} {context} >/dev/null"
        f" && docker push -q localhost:{port}/{reference}"
    )


UNIT = "chore-under-test"
PAUSING_DOCKER = """#!/bin/sh
case "$*" in *garbage-collect*)
    touch /tmp/chore.paused
    until [ -e /tmp/chore.release ]; do sleep 0.1; done ;;
esac
exec /usr/bin/docker "$@"
"""


def start_chore(t, *args) -> str:
    """Start `registry-maintenance ARGS` on the host, to pause when it collects; when it started (host time)."""
    t.host.check_output(f"mkdir -p /tmp/pausing && cat > /tmp/pausing/docker <<'EOF'\n{PAUSING_DOCKER}EOF\n"
                        "chmod +x /tmp/pausing/docker && rm -f /tmp/chore.paused /tmp/chore.release")
    started = t.host.check_output("date +%s")
    t.host.check_output(f"systemctl reset-failed {UNIT} 2>/dev/null; systemd-run --unit={UNIT} --collect --quiet"
                        " --setenv=PATH=/tmp/pausing:/usr/sbin:/usr/bin:/sbin:/bin"
                        f" {MAINTENANCE_SCRIPT} {' '.join(args)}")
    t.host.check_output("for i in $(seq 600); do [ -e /tmp/chore.paused ] && exit 0; sleep 0.1; done; exit 1")
    return started


def signal_chore(t, signal):
    t.host.check_output(f"systemctl kill --kill-who=main -s {signal} {UNIT}")


def release_chore(t):
    t.host.check_output("touch /tmp/chore.release")


def wait_for_chore(t):
    t.host.check_output(f"for i in $(seq 300); do systemctl is-active -q {UNIT} || exit 0; sleep 0.1; done; exit 1")


def chore_output(t, started):
    return t.host.check_output(f"journalctl -u {UNIT} --since @{started} --no-pager -o cat")


def upload_status(t):
    """What the registry answers to the start of an upload: 202 writable, 405 read-only."""
    return t.host.check_output(
        f"{HOST_CURL} -o /dev/null -w '%{{http_code}}' -X POST \"$REGISTRY_URL/v2/probe/blobs/uploads/\"")
