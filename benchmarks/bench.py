"""Benchmarks on sandbox hosts: medians of several runs, compared as ratios within one run.

    python -m benchmarks.bench [--runs N] [--skip-cold] [--skip-gc]

Measures: `sandbox up --hosts 2` cold (base image built) and warm (image cached, new hosts); the first
deploy on a fresh host; a no-op re-run on one host and on two; a repair run after `docker rm -f registry`;
the commands a no-op run sends to a host; GC on 50 repositories of 3 tags and how long pushes are refused.
Leaves the sandbox down.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import docker

from sandbox.base import image_tag
from sandbox.config import ROOT
from sandbox.hosts import read_state
from tests.support import PYINFRA, SANDBOX_INVENTORY, deploy, sandbox, ssh_host


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def median_of(runs: int, action, before=None) -> tuple[float, list[float]]:
    samples = []
    for _ in range(runs):
        if before:
            before()
        samples.append(timed(action))
    return statistics.median(samples), samples


def report(label: str, result: tuple[float, list[float]]) -> float:
    median, samples = result
    print(f"{label:<58} median {median:7.2f} s   runs: {', '.join(f'{s:.2f}' for s in samples)}", flush=True)
    return median


def ok_deploy(*args):
    run = deploy(*args)
    assert run.returncode == 0 and not run.errors(), run.stderr[-2000:]
    return run


def commands_sent(host_name: str) -> int:
    done = subprocess.run([PYINFRA, "-y", "--debug", SANDBOX_INVENTORY, "deploy.py", "--limit", host_name],
                          cwd=ROOT, capture_output=True, text=True)
    return done.stderr.count("Running command on")


PUSH = """
set -e
mkdir -p /tmp/gcb && cd /tmp/gcb
printf 'FROM scratch\\nCOPY f /f\\n' > Dockerfile
for r in $(seq 1 50); do for t in {tags}; do
  head -c 20000 /dev/urandom > f
  docker build -q -t localhost:{port}/repo$r:t$t . >/dev/null
  docker push -q localhost:{port}/repo$r:t$t >/dev/null
done; done
"""
GC_PROBE = """
url=http://127.0.0.1:{port}/v2
: > /tmp/probe.log
while [ ! -e /tmp/probe.stop ]; do
    code=$(curl -s -o /dev/null -D /tmp/probe.h -w '%{{http_code}}' -X POST $url/probe/blobs/uploads/)
    echo "$(date +%s.%N) $code" >> /tmp/probe.log
    location=$(tr -d '\\r' < /tmp/probe.h | sed -n 's/^[Ll]ocation: //p')
    [ "$code" = 202 ] && curl -s -o /dev/null -X DELETE "$location"
    sleep 0.05
done
"""


def gc_benchmark(runs: int):
    """50 repositories x 3 tags of small generated layers; each run deletes one tag per repository and
    collects, while a probe tries to start an upload every 50 ms."""
    sandbox("up", "--hosts", "1")
    ok_deploy()
    name, port = read_state()["hosts"][0]["name"], 5000
    host = ssh_host(read_state()["hosts"][0]["ssh_port"])
    print("building and pushing 50 repositories x 3 tags ...", flush=True)
    host.check_output(PUSH.format(port=port, tags="1 2 3"))
    gc_times, refused, read_only = [], [], []
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    for run in range(runs):
        # Keep 3 tags per repository: push a new one, delete the oldest (the garbage to collect).
        host.check_output(PUSH.format(port=port, tags=str(run + 4)))
        tag = run + 1
        host.check_output(
            f"for r in $(seq 1 50); do d=$(curl -sI -H 'Accept: {accept}' "
            f"http://127.0.0.1:{port}/v2/repo$r/manifests/t{tag}"
            " | tr -d '\\r' | sed -n 's/^Docker-Content-Digest: //p');"
            f" curl -s -o /dev/null -X DELETE http://127.0.0.1:{port}/v2/repo$r/manifests/$d; done")
        host.check_output(f"rm -f /tmp/probe.stop; cat > /tmp/probe.sh <<'EOF'\n{GC_PROBE.format(port=port)}\nEOF\n"
                          "nohup sh /tmp/probe.sh >/dev/null 2>&1 &")
        time.sleep(1)
        gc = deploy("--limit", name, file="gc.py")
        assert gc.returncode == 0, gc.stderr[-2000:]
        time.sleep(1)
        host.check_output("touch /tmp/probe.stop; sleep 0.3")
        samples = [(float(t), code) for t, code in
                   (line.split() for line in host.check_output("cat /tmp/probe.log").splitlines())]
        first_bad = next(i for i, (_, code) in enumerate(samples) if code != "202")
        back = next(t for t, code in samples[first_bad:] if code == "202")
        # From the last upload accepted before maintenance to the first accepted after it: an upper bound
        # (one probe interval more), which also counts probes left hanging while the registry restarts.
        refused.append(back - samples[first_bad - 1][0])
        read_only.append(sum(1 for _, code in samples if code == "405"))
        seconds = [line for line in gc.stderr.splitlines() if "garbage collected in" in line]
        gc_times.append(float(seconds[-1].rsplit(" ", 1)[1].removesuffix("ms")) / 1000)
    report("GC of 50 repos x 3 tags (collector alone)", (statistics.median(gc_times), gc_times))
    report("  uploads refused (last accepted before to first after)", (statistics.median(refused), refused))
    print(f"  probes answered 405 by the read-only registry: {read_only}")
    print(f"  refused window minus GC time: {statistics.median(refused) - statistics.median(gc_times):.2f} s "
          "(goal: at most 5 s)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-cold", action="store_true", help="do not rebuild the base image")
    parser.add_argument("--skip-gc", action="store_true")
    args = parser.parse_args(argv)
    client = docker.from_env()
    sandbox("images")

    print("# sandbox", flush=True)
    if not args.skip_cold:
        def drop_image():
            sandbox("down")
            client.images.remove(image_tag(), force=True)
        report("up --hosts 2, cold (base image built)", median_of(3, lambda: sandbox("up", "--hosts", "2"),
                                                                   before=drop_image))
    warm = report("up --hosts 2, warm (image cached, new hosts)",
                  median_of(args.runs, lambda: sandbox("up", "--hosts", "2"), before=lambda: sandbox("down")))
    noop_up = report("up --hosts 2, hosts already running",
                     median_of(args.runs, lambda: sandbox("up", "--hosts", "2")))
    print(f"  warm/no-op ratio {warm / noop_up:.1f}")

    print("# deploy", flush=True)

    def fresh_host():
        sandbox("down")
        sandbox("up", "--hosts", "1")
    report("first deploy, 1 fresh host", median_of(3, ok_deploy, before=fresh_host))
    one = report("no-op re-run, 1 host", median_of(args.runs, ok_deploy))
    sandbox("up", "--hosts", "2")
    ok_deploy()
    two = report("no-op re-run, 2 hosts", median_of(args.runs, ok_deploy))
    print(f"  2 hosts / 1 host = {two / one:.2f} (goal: under 1.3)")
    name, port = read_state()["hosts"][0]["name"], read_state()["hosts"][0]["ssh_port"]
    host = ssh_host(port)
    report("repair run after docker rm -f registry, 1 host",
           median_of(args.runs, lambda: ok_deploy("--limit", name),
                     before=lambda: host.check_output("docker rm -f registry")))
    print(f"commands a no-op run sends to one host: {commands_sent(name)}")

    if not args.skip_gc:
        print("# maintenance", flush=True)
        sandbox("down")
        gc_benchmark(min(args.runs, 3))
    sandbox("down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
