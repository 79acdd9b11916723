"""Chores on a sandbox host as the tests drive them: images to collect, a chore held inside its
read-only window, and pulls in a loop meanwhile.

A chore is started as a transient systemd unit, as the timer runs it, so that signals reach the script as
they would from `systemctl stop` or a dropped SSH session. To hold it inside its read-only window for as
long as a test needs, its `docker` is a wrapper that, when asked to collect garbage, waits for a file
before running the real one: by then the chore has proved the registry refuses uploads.
"""

import json
import time

from core.host_paths import MAINTENANCE_SCRIPT
from tests.e2e.client import ACCEPT, HOST_CURL


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


# The retention tests' repository: its tags (pushed in this order) and the tag each shares its digest with.
RETENTION_TAGS = (("latest", None), ("v1", None), ("v2", None), ("v3", None), ("v4", "v3"), ("stable", "v1"))
RETENTION_RULES = json.dumps([{"repositories": "keep", "keep_last": 3, "keep_tags": ["latest"]}])
# What the rules decide for it, on any storage.
RETENTION_DECISION = ("keep (rule keep): keep latest (kept by pattern), stable (among the last 3), v1 (shares its"
                      " digest with a kept tag), v3 (among the last 3), v4 (among the last 3)")


def push_retention_tags(t):
    """Push keep:TAG for RETENTION_TAGS through the host's registry, oldest first, a second apart (push times
    are kept to the second): latest (d1), v1 (d2), v2 (d3), v3 (d4), v4 (d4), stable (d2)."""
    port = t.data.registry_port
    for tag, same_as in RETENTION_TAGS:
        if same_as:
            t.host.check_output(f"docker tag localhost:{port}/keep:{same_as} localhost:{port}/keep:{tag}"
                                f" && docker push -q localhost:{port}/keep:{tag}")
        else:
            push_unique(t, f"keep:{tag}")
        time.sleep(1.1)


UNIT = "chore-under-test"
# A stand-in for a command that, when its arguments hold a given string, waits for /tmp/chore.release
# before running the real one: a chore held at that step for as long as a test needs.
PAUSING = """#!/bin/sh
case "$*" in *{match}*)
    touch /tmp/chore.paused
    until [ -e /tmp/chore.release ]; do sleep 0.1; done ;;
esac
exec /usr/bin/{command} "$@"
"""
# GC's step inside the read-only window: the collector itself (distribution's, on a volume or a directory).
COLLECTOR = ("docker", "garbage-collect")
# On S3: the collector's first request to the store inside the window (each request names its step).
S3_COLLECTOR = ("curl", "gc-window")


def pause_collections(t, pause_at=COLLECTOR):
    """From now on, the host's `docker` (or pause_at's command) pauses before collecting garbage, whoever
    runs it (a pyinfra run too), until release_chore; resume_collections undoes it."""
    command, match = pause_at
    pausing = PAUSING.format(command=command, match=match)
    t.host.check_output(f"cat > /usr/local/bin/{command} <<'EOF'\n{pausing}EOF\n"
                        f"chmod +x /usr/local/bin/{command} && rm -f /tmp/chore.paused /tmp/chore.release")


def resume_collections(t, pause_at=COLLECTOR):
    t.host.check_output(f"rm -f /usr/local/bin/{pause_at[0]}; touch /tmp/chore.release")


def wait_for_pause(t):
    t.host.check_output("for i in $(seq 1200); do [ -e /tmp/chore.paused ] && exit 0; sleep 0.1; done; exit 1")


def start_chore(t, *args, pause_at=COLLECTOR) -> str:
    """Start `registry-maintenance ARGS` on the host, to pause when it runs `pause_at` (a command, and a string
    its arguments hold: by default the collector); when it started (host time)."""
    command, match = pause_at
    pausing = PAUSING.format(command=command, match=match)
    t.host.check_output(f"rm -rf /tmp/pausing && mkdir -p /tmp/pausing && cat > /tmp/pausing/{command} <<'EOF'\n"
                        f"{pausing}EOF\nchmod +x /tmp/pausing/{command} && rm -f /tmp/chore.paused /tmp/chore.release")
    started = t.host.check_output("date +%s")
    t.host.check_output(f"systemctl reset-failed {UNIT} 2>/dev/null; systemd-run --unit={UNIT} --collect --quiet"
                        " --setenv=PATH=/tmp/pausing:/usr/sbin:/usr/bin:/sbin:/bin"
                        f" {MAINTENANCE_SCRIPT} {' '.join(args)}")
    wait_for_pause(t)
    return started


def kill_held_chore(t, *args, pause_at=COLLECTOR) -> str:
    """Start `registry-maintenance ARGS`, hold it at `pause_at` (see start_chore), SIGKILL it there and wait
    until it is gone: what a crash leaves at that step. When it started (host time)."""
    started = start_chore(t, *args, pause_at=pause_at)
    signal_chore(t, "SIGKILL")
    wait_for_chore(t)
    return started


def signal_chore(t, signal):
    t.host.check_output(f"systemctl kill --kill-who=main -s {signal} {UNIT}")


def release_chore(t):
    t.host.check_output("touch /tmp/chore.release")


def wait_for_chore(t):
    t.host.check_output(f"for i in $(seq 300); do systemctl is-active -q {UNIT} || exit 0; sleep 0.1; done; exit 1")


def chore_output(t, started):
    return t.host.check_output(f"journalctl -u {UNIT} --since @{started} --no-pager -o cat")


def upload_status(t, url="$CLIENT_URL"):
    """What the registry at `url` answers the host starting an upload: 202 writable, 405 read-only."""
    return t.host.check_output(
        f"{HOST_CURL} -o /dev/null -w '%{{http_code}}' -X POST \"{url}/v2/probe/blobs/uploads/\"")


PULL_LOOP = """
. /usr/local/lib/registry-deploy/common.sh
CLIENT_URL=${{PROXY_URL:-$REGISTRY_URL}}
url={url}/v2
: > /tmp/pulls.log
while [ ! -e /tmp/pulls.stop ]; do
    answers=$(curl -sf --fail-early -m 5 -K "$CURL_CONFIG" -w '%{{http_code}},' -H 'Accept: {accept}' \\
        $url/{repository}/manifests/{tag} -o /dev/null $url/{repository}/blobs/{layer} -o /dev/null)
    code=$?
    if [ $code = 0 ]
    then echo "$(date +%s.%N) ok" >> /tmp/pulls.log
    else echo "$(date +%s.%N) failed $code ${{answers%,}}" >> /tmp/pulls.log
    fi
done
"""


def start_pull_loop(t, repository, tag, layer, url="$CLIENT_URL"):
    """On the host, pull `repository:tag`'s manifest and `layer` from `url` in a loop, logging each pull."""
    script = PULL_LOOP.format(url=url, accept=ACCEPT, repository=repository, tag=tag, layer=layer)
    t.host.check_output(f"rm -f /tmp/pulls.stop && cat > /tmp/pull-loop.sh <<'EOF'\n{script}\nEOF\n"
                        "nohup sh /tmp/pull-loop.sh >/dev/null 2>&1 & sleep 1")


def stop_pull_loop(t) -> str:
    """Stop the loop a second from now; its log: a "TIME ok" or "TIME failed CURL_EXIT STATUS,STATUS" line per
    pull (the HTTP status of each transfer it began, 000 for none)."""
    t.host.check_output("sleep 1; touch /tmp/pulls.stop; sleep 0.5")
    return t.host.check_output("cat /tmp/pulls.log")


def pull_outages(log: str) -> list[float]:
    """Seconds from each failed pull to the next good one, for each run of failures; infinity for failures
    the log ends with (pulls that never came back)."""
    samples = [(float(when), result) for when, result, *_ in (line.split() for line in log.splitlines())]
    outages, failing_since = [], None
    for when, result in samples:
        if result == "failed" and failing_since is None:
            failing_since = when
        elif result == "ok" and failing_since is not None:
            outages.append(round(when - failing_since, 2))
            failing_since = None
    return outages + ([float("inf")] if failing_since is not None else [])


def failed_pulls(log: str) -> list[tuple[float, int, tuple[str, ...]]]:
    """(time, curl's exit code, the HTTP status of each transfer) of each pull that failed."""
    failed = [line.split() for line in log.splitlines() if line.split()[1] == "failed"]
    return [(float(when), int(code), tuple(statuses[0].split(",")) if statuses else ())
            for when, _, code, *statuses in failed]
