"""Benchmarks on sandbox hosts: medians of several runs, compared as ratios within one run.

    python -m benchmarks.bench [--runs N] [--skip-cold] [--skip-deploy] [--skip-gc] [--skip-backup]
        [--skip-storage] [--skip-lb] [--skip-faults] [--skip-registry3] [--skip-access] [--skip-status]
        [--skip-monitoring] [--skip-s3-chores] [--skip-mirrors] [--skip-gc-scale] [--skip-noop]

Measures: `sandbox up --hosts 2` cold (base image built) and warm (image cached, new hosts); the first
deploy on a fresh host with TLS and users (the default) and without; a no-op re-run with and without
them, on one host and on two; a repair run after `docker rm -f registry`; the commands a no-op run sends;
GC on 50 repositories of 3 tags: the collector's time, how long uploads are refused, and how many pulls
fail; backup and restore of about 400 MB: times, archive size, uploads refused; push and pull of 100 MB
with the registry on a volume and on S3 (the sandbox's Ceph); pulls through the load balancer against
straight from a replica, and three hosts pulling at once with 1, 2 and 3 replicas; how long a host takes
to serve again after its registry crashed, its engine or the host restarted; the same GC from the scheduler host's
unit (and what installing the scheduler costs a deploy); push, pull, GC and a no-op re-run on registry 2.8
against 3.1.1; manifest and blob GETs per second, 1 and 16 clients, with users on
(through the access proxy) against users off; status.py; what monitoring costs (the chores' metrics, each
scrape, a no-op deploy with Prometheus on the host against without); retention, backup and restore of
~400 MB on a volume against S3; a 100 MB pull through a pull-through mirror, cold and warm, against one
straight from its upstream; GC across 3 replicas on S3 at 50, 200 and 1,000 repositories (uploads refused,
failed pulls, the mark and the window's part) against distribution's collector walking the same bucket, and
at 1,000 across 2, 3 and 5 replicas; a no-op re-run on 1 and 8 hosts against one SSH session, pyinfra
running one command, and Ansible (ansible-core from PyPI, in a virtualenv of its own under .sandbox) making
the same checks.
Leaves the sandbox down.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import docker
import requests

from dev.operator import PYINFRA, SANDBOX_INVENTORY, deploy, sandbox, ssh_host, status
from sandbox.base import image_tag
from sandbox.hosts import read_state
from sandbox.object_store import NAME as STORE
from sandbox.registry3 import REGISTRY3_IMAGE
from sandbox.settings import KEY_FILE, ROOT, SECRETS_DIR, SLOT_DIR

PLAIN = ("--data", "registry_tls=off", "--data", "registry_auth=none")
# On a sandbox host, first in each script: curl as the deploy's own probes do (CA, user), and $REGISTRY_URL.
CLUSTER = "inventory/sandbox_cluster.py"
HOST_CURL = '. /usr/local/lib/registry-deploy/common.sh; curl() { command curl -s -K "$CURL_CONFIG" "$@"; }'


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


def report(label: str, result: tuple[float, list[float]], unit="s") -> float:
    median, samples = result
    print(f"{label:<62} median {median:7.2f} {unit}   runs: {', '.join(f'{s:.2f}' for s in samples)}", flush=True)
    return median


def ok_deploy(*args, **options):
    run = deploy(*args, **options)
    assert run.returncode == 0 and not run.errors(), run.stderr[-2000:]
    return run


def commands_sent(host_name: str) -> int:
    done = subprocess.run([PYINFRA, "-y", "--debug", SANDBOX_INVENTORY, "deploy.py", "--limit", host_name],
                          cwd=ROOT, capture_output=True, text=True)
    return done.stderr.count("Running command on")


def fresh_hosts(count: int):
    sandbox("down")
    sandbox("up", "--hosts", str(count))


def deploy_benchmark(runs: int):
    print("# deploy", flush=True)
    first = report("first deploy, 1 fresh host (TLS and users)", median_of(3, ok_deploy, before=lambda: fresh_hosts(1)))
    first_plain = report("first deploy, 1 fresh host (plain HTTP, no users)",
                         median_of(3, lambda: ok_deploy(*PLAIN), before=lambda: fresh_hosts(1)))
    print(f"  time TLS and users add to a first deploy: {first - first_plain:+.2f} s", flush=True)
    noop_plain = report("no-op re-run, 1 host (plain HTTP, no users)", median_of(runs, lambda: ok_deploy(*PLAIN)))
    ok_deploy()
    one = report("no-op re-run, 1 host (TLS and users)", median_of(runs, ok_deploy))
    print(f"  TLS and users / plain = {one / noop_plain:.2f}", flush=True)
    sandbox("up", "--hosts", "2")
    ok_deploy()
    two = report("no-op re-run, 2 hosts", median_of(runs, ok_deploy))
    print(f"  2 hosts / 1 host = {two / one:.2f} (goal: under 1.3)", flush=True)
    name, port = read_state()["hosts"][0]["name"], read_state()["hosts"][0]["ssh_port"]
    host = ssh_host(port)
    report("repair run after docker rm -f registry, 1 host",
           median_of(runs, lambda: ok_deploy("--limit", name),
                     before=lambda: host.check_output("docker rm -f registry")))
    print(f"commands a no-op run sends to one host: {commands_sent(name)}", flush=True)


ANSIBLE_VERSION = "2.19.14"
ANSIBLE_VENV = ROOT / ".sandbox" / f"ansible-{ANSIBLE_VERSION}"
# The same checks as Ansible would make them: each of the deploy's fact commands a task of its own (`raw`: the
# sandbox hosts have no Python for Ansible's modules, and `raw` is its cheapest task), every host at once.
ANSIBLE_PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: the deploy's checks
      ansible.builtin.raw: "{{ item }}"
      loop: "{{ checks }}"
      changed_when: false
"""


def _ansible() -> Path:
    """ansible-playbook from PyPI, in a virtualenv of its own (made once)."""
    playbook = ANSIBLE_VENV / "bin" / "ansible-playbook"
    if not playbook.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True)
        subprocess.run([str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", f"ansible-core=={ANSIBLE_VERSION}"],
                       check=True)
    return playbook


def _recorded_checks(names: list[str]) -> dict[str, list[str]]:
    """{host: the fact commands the deploy's last run that changed nothing ran there}, from its record."""
    for path in (SECRETS_DIR / "converged").glob("*.json"):
        hosts = json.loads(path.read_text())["hosts"]
        if sorted(hosts) == sorted(names):
            return {name: entry["commands"] for name, entry in hosts.items()}
    raise RuntimeError(f"no record of a run that changed nothing on {names}")


def _ansible_run(hosts: list[dict], checks: dict[str, list[str]]):
    directory = SLOT_DIR / "ansible"
    directory.mkdir(parents=True, exist_ok=True)
    # YAML, each command `!unsafe`: Ansible would read a command's `{{.Names}}` (a docker format) as Jinja.
    lines = ["all:", "  hosts:"]
    for h in hosts:
        lines += [f"    {h['name']}:", "      ansible_host: 127.0.0.1", f"      ansible_port: {h['ssh_port']}",
                  "      ansible_user: root", f"      ansible_ssh_private_key_file: {json.dumps(str(KEY_FILE))}",
                  "      checks:", *(f"        - !unsafe {json.dumps(c)}" for c in checks[h["name"]])]
    (directory / "inventory.yml").write_text("\n".join(lines) + "\n")
    (directory / "playbook.yml").write_text(ANSIBLE_PLAYBOOK)
    # No terminal for `raw` (its default): `dpkg -l` and systemctl would start a pager and wait on it.
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_SSH_USETTY": "False", "ANSIBLE_SSH_ARGS":
           "-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null"}
    done = subprocess.run([str(_ansible()), "-f", str(len(hosts)), "-i", str(directory / "inventory.yml"),
                           str(directory / "playbook.yml")], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "changed=0" in done.stdout, done.stdout[-2000:]


def noop_benchmark(runs: int):
    """A no-op re-run on 1 and on 8 hosts (TLS and users), against its floor (one SSH session with OpenSSH;
    pyinfra starting and running one command) and against Ansible making the same checks, in the same run."""
    print("# no-op re-run against the floor and Ansible", flush=True)
    sandbox("down")
    sandbox("up", "--hosts", "8", "--engine")
    hosts = read_state()["hosts"]
    ok_deploy()
    for count in (1, 8):
        _noop_against_floor(runs, hosts[:count])
    print(f"commands a no-op run sends to one host: {commands_sent(hosts[0]['name'])}", flush=True)


def _noop_against_floor(runs: int, chosen: list[dict]):
    limit = [flag for h in chosen for flag in ("--limit", h["name"])]
    ok_deploy(*limit)  # changes nothing: recorded
    noop = report(f"no-op re-run, {len(chosen)} host(s)", median_of(runs, lambda: ok_deploy(*limit)))
    ssh = ["ssh", "-q", "-i", str(KEY_FILE), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-p", str(chosen[0]["ssh_port"]), "root@127.0.0.1", "true"]
    floor = report("  floor: one SSH session (OpenSSH, `true`)",
                   median_of(runs, lambda: subprocess.run(ssh, check=True)))
    one = report("  floor: pyinfra running one command on each host (`exec -- true`)", median_of(
        runs, lambda: subprocess.run([PYINFRA, "-y", SANDBOX_INVENTORY, *limit, "exec", "--", "true"], cwd=ROOT,
                                     check=True, capture_output=True)))
    checks = _recorded_checks([h["name"] for h in chosen])
    ansible = report(f"  Ansible, the same {max(len(c) for c in checks.values())} checks a host as tasks",
                     median_of(runs, lambda: _ansible_run(chosen, checks)))
    print(f"  no-op / SSH session = {noop / floor:.1f}; no-op / pyinfra's one command = {noop / one:.2f};"
          f" Ansible / no-op = {ansible / noop:.1f}", flush=True)


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
DELETE_TAG = HOST_CURL + """
for r in $(seq 1 50); do
  d=$(curl -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \\
      "$REGISTRY_URL/v2/repo$r/manifests/t{tag}" | tr -d '\\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
  curl -o /dev/null -X DELETE "$REGISTRY_URL/v2/repo$r/manifests/$d"
done
"""
# Over and over: start an upload (and cancel it) and pull a manifest that stays; log the time and both answers.
PROBE = HOST_CURL + """
: > /tmp/probe.log
while [ ! -e /tmp/probe.stop ]; do
    code=$(curl -m 5 -o /dev/null -D /tmp/probe.h -w '%{http_code}' -X POST "$REGISTRY_URL/v2/probe/blobs/uploads/")
    location=$(tr -d '\\r' < /tmp/probe.h | sed -n 's/^[Ll]ocation: //p')
    [ "$code" = 202 ] && curl -m 5 -o /dev/null -X DELETE "$location"
    pull=$(curl -m 5 -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \\
        "$REGISTRY_URL/v2/{repository}/manifests/{tag}")
    echo "$(date +%s.%N) $code $pull" >> /tmp/probe.log
done
"""


def probed(host, keep: str, chore, url: str = "$REGISTRY_URL"):
    """Run chore() while the host probes uploads and pulls of `keep` (repository:tag) back to back at `url`
    (by default its own registry). Returns the chore's result and (seconds uploads were refused, seconds
    between the first and last 405, failed pulls, pulls tried)."""
    repository, tag = keep.split(":")
    probe = PROBE.replace("{repository}", repository).replace("{tag}", tag).replace("$REGISTRY_URL", url)
    host.check_output(f"rm -f /tmp/probe.stop; cat > /tmp/probe.sh <<'EOF'\n{probe}\nEOF\n"
                      "nohup sh /tmp/probe.sh >/dev/null 2>&1 &")
    time.sleep(1)
    result = chore()
    time.sleep(1)
    host.check_output("touch /tmp/probe.stop; sleep 0.5")
    samples = [(float(t), up, pull) for t, up, pull in
               (line.split() for line in host.check_output("cat /tmp/probe.log").splitlines())]
    first_bad = next(i for i, (_, up, _) in enumerate(samples) if up != "202")
    back = next(t for t, up, _ in samples[first_bad:] if up == "202")
    answered_405 = [t for t, up, _ in samples if up == "405"]
    # From the last upload accepted before maintenance to the first accepted after it: an upper bound
    # (one probe interval more), which also counts probes left hanging while the registry restarts.
    return result, (back - samples[first_bad - 1][0],
                    answered_405[-1] - answered_405[0] if answered_405 else 0.0,
                    sum(1 for _, _, pull in samples if pull != "200"), len(samples))


def gc_benchmark(runs: int):
    """50 repositories x 3 tags of small generated layers; each run pushes a tag per repository, deletes
    the oldest one and collects, while a probe starts uploads and pulls a manifest back to back."""
    print("# maintenance", flush=True)
    fresh_hosts(1)
    ok_deploy()
    name, port = read_state()["hosts"][0]["name"], 5000
    host = ssh_host(read_state()["hosts"][0]["ssh_port"])
    print("building and pushing 50 repositories x 3 tags ...", flush=True)
    host.check_output(PUSH.format(port=port, tags="1 2 3"))
    gc_times, read_only, refused, failed_pulls, pulls = [], [], [], [], []
    for run in range(runs):
        host.check_output(PUSH.format(port=port, tags=str(run + 4)))
        host.check_output(DELETE_TAG.replace("{tag}", str(run + 1)))
        # Through the access proxy, as clients reach it.
        gc, window = probed(host, "repo1:t" + str(run + 4), lambda: deploy("--limit", name, file="gc.py"),
                            url="${PROXY_URL:-$REGISTRY_URL}")
        assert gc.returncode == 0, gc.stderr[-2000:]
        for samples, value in zip((refused, read_only, failed_pulls, pulls), window, strict=True):
            samples.append(value)
        seconds = [line for line in gc.stderr.splitlines() if "garbage collected in" in line]
        gc_times.append(float(seconds[-1].rsplit(" ", 1)[1].removesuffix("ms")) / 1000)
    report("GC of 50 repos x 3 tags (collector alone)", (statistics.median(gc_times), gc_times))
    report("  read-only: first to last upload answered 405", (statistics.median(read_only), read_only))
    report("  uploads refused (last accepted before to first after)", (statistics.median(refused), refused))
    extra = statistics.median(refused) - statistics.median(gc_times)
    print(f"  refused window minus GC time: {extra:.2f} s", flush=True)
    print(f"  failed pulls per GC (of {statistics.median(pulls):.0f} tried back to back): {failed_pulls}", flush=True)


# Three images of 100 MB each over one shared 100 MB layer: about 400 MB of blobs.
PUSH_LARGE = """
set -e
mkdir -p /tmp/bb && cd /tmp/bb
head -c 100000000 /dev/urandom > base
for i in 1 2 3; do
  head -c 100000000 /dev/urandom > own
  printf 'FROM scratch\\nCOPY base /base\\nCOPY own /own\\n' > Dockerfile
  docker build -q -t localhost:5000/big$i:1 . >/dev/null
  docker push -q localhost:5000/big$i:1 >/dev/null
done
rm -f base own
"""


def backup_benchmark(runs: int):
    """A registry of about 400 MB: backup to this machine (time, archive size, uploads refused, pulls
    failed) and a forced restore of that archive onto the same host."""
    print("# backup and restore", flush=True)
    fresh_hosts(1)
    ok_deploy()
    name = read_state()["hosts"][0]["name"]
    host = ssh_host(read_state()["hosts"][0]["ssh_port"])
    print("building and pushing 3 images of 200 MB sharing a 100 MB layer ...", flush=True)
    host.check_output(PUSH_LARGE)
    times, sizes, refused, failed_pulls = [], [], [], []
    for _ in range(runs):
        started = time.monotonic()
        done, (window, _, failed, _) = probed(host, "big1:1", lambda: deploy("--limit", name, file="backup.py"))
        assert done.returncode == 0, done.stderr[-2000:]
        times.append(time.monotonic() - started - 2)  # probed() waits 1 s before and after the chore
        refused.append(window)
        failed_pulls.append(failed)
        [archive] = sorted((SLOT_DIR / "backups").glob(f"{name}-*.tar"))[-1:]
        sizes.append(archive.stat().st_size / 1e6)
    report("backup of ~400 MB to this machine (whole run)", (statistics.median(times), times))
    report("  archive size", (statistics.median(sizes), sizes), unit="MB")
    report("  uploads refused during the backup", (statistics.median(refused), refused))
    print(f"  failed pulls per backup: {failed_pulls}", flush=True)
    restore = ("--data", f"registry_backup_archive={archive}", "--data", "registry_restore_force=True")
    report("forced restore of that archive (whole run)",
           median_of(runs, lambda: ok_deploy("--limit", name, *restore, file="restore.py")))


def s3_chores_benchmark(runs: int):
    """The same ~400 MB on a volume (one host) and on S3 (two replicas behind a load balancer), same run:
    a retention decision (dry run), a backup (time, archive size), a restore (forced onto the volume, into
    the emptied bucket)."""
    print("# retention, backup and restore: volume against S3", flush=True)
    sandbox("down")
    sandbox("up", "--hosts", "4", "--s3", "--engine")
    hosts = read_state()["hosts"]
    single, cluster = hosts[0]["name"], [h["name"] for h in hosts[1:]]
    ok_deploy("--limit", single)
    cluster_run = partial(_with_cluster, cluster)
    cluster_run(lambda: ok_deploy(inventory=CLUSTER))
    print("building and pushing 3 images of 200 MB sharing a 100 MB layer, to each ...", flush=True)
    for host in (hosts[0], hosts[1]):
        ssh_host(host["ssh_port"]).check_output(PUSH_LARGE)
    rules = ("--data", 'registry_retention_rules=[{"repositories": "*", "keep_last": 1}]')
    decided = {
        "volume": report("retention decision (dry run), volume",
                         median_of(runs, lambda: ok_deploy("--limit", single, *rules, file="retention.py"))),
        "s3": report("retention decision (dry run), S3, 2 replicas",
                     median_of(runs, lambda: cluster_run(lambda: ok_deploy(*rules, inventory=CLUSTER,
                                                                            file="retention.py")))),
    }
    archives = {}
    for kind, action in (("volume", lambda: ok_deploy("--limit", single, file="backup.py")),
                         ("s3", lambda: cluster_run(lambda: ok_deploy(inventory=CLUSTER, file="backup.py")))):
        before = set((SLOT_DIR / "backups").glob("*.tar"))
        report(f"backup to this machine, {kind}", median_of(min(runs, 3), action))
        archives[kind] = sorted(set((SLOT_DIR / "backups").glob("*.tar")) - before)[-1]
        print(f"  archive size, {kind}: {archives[kind].stat().st_size / 1e6:.0f} MB", flush=True)
    restore = partial(ok_deploy, "--limit", single, "--data", f"registry_backup_archive={archives['volume']}",
                      "--data", "registry_restore_force=True", file="restore.py")
    restored = {"volume": report("forced restore, volume", median_of(min(runs, 3), restore))}
    store = docker.from_env().containers.get(STORE)

    def emptied():
        store.exec_run(["radosgw-admin", "bucket", "rm", "--bucket=registry", "--purge-objects"])
        sandbox("up", "--hosts", "4", "--s3", "--engine")
    restored["s3"] = report("restore into the emptied bucket, S3", median_of(min(runs, 3), lambda: cluster_run(
        lambda: ok_deploy("--data", f"registry_backup_archive={archives['s3']}", inventory=CLUSTER,
                          file="restore.py")), before=emptied))
    print(f"  S3 / volume: decision {decided['s3'] / decided['volume']:.2f}, restore"
          f" {restored['s3'] / restored['volume']:.2f}", flush=True)


PUSH_PULL = """
set -e
mkdir -p /tmp/pp && cd /tmp/pp
head -c 100000000 /dev/urandom > blob
printf 'FROM scratch\\nCOPY blob /blob\\n' > Dockerfile
docker build -q -t localhost:5000/pp:{run} . >/dev/null
rm -f blob
"""


def storage_benchmark(runs: int):
    """Push and pull of one 100 MB layer to a registry on its volume and to one on the sandbox's S3 bucket
    (single-node Ceph in a container on the same machine), same run."""
    print("# storage: volume vs S3 (100 MB layer)", flush=True)
    sandbox("down")
    sandbox("up", "--hosts", "3", "--s3")
    hosts = read_state()["hosts"]
    ok_deploy("--limit", hosts[0]["name"])
    # Host 1 a replica on S3 (host 2 its load balancer, unused here).
    _with_cluster([hosts[1]["name"], hosts[2]["name"]], lambda: ok_deploy(inventory="inventory/sandbox_cluster.py"))
    medians = {}
    for label, state in (("volume", hosts[0]), ("s3", hosts[1])):
        host = ssh_host(state["ssh_port"])
        pushes, pulls = [], []
        for run in range(runs):
            host.check_output(PUSH_PULL.format(run=run))
            pushes.append(timed(partial(host.check_output, f"docker push -q localhost:5000/pp:{run}")))
            host.check_output(f"docker rmi -f localhost:5000/pp:{run} >/dev/null")
            pulls.append(timed(partial(host.check_output, f"docker pull -q localhost:5000/pp:{run}")))
        medians[label] = (report(f"push, registry on {label}", (statistics.median(pushes), pushes)),
                          report(f"pull, registry on {label}", (statistics.median(pulls), pulls)))
    print(f"  s3 / volume: push {medians['s3'][0] / medians['volume'][0]:.2f},"
          f" pull {medians['s3'][1] / medians['volume'][1]:.2f}", flush=True)


def registry3_benchmark(runs: int):
    """The same work on registry 2.8 and 3.1.1 (both on their volume, same run): push and pull of one
    100 MB layer, GC of 50 repositories x 3 tags (the collector's time), and a no-op re-run."""
    print("# registry 2.8 vs 3.1.1", flush=True)
    sandbox("images", "--registry3")
    fresh_hosts(2)
    hosts = read_state()["hosts"]
    lines = {"2.8": (hosts[0], ()), "3.1.1": (hosts[1], ("--data", f"registry_image={REGISTRY3_IMAGE}"))}
    for state, data in lines.values():
        ok_deploy("--limit", state["name"], "--data", "registry_storage=volume", *data)
    medians = {}
    for label, (state, data) in lines.items():
        args = ("--limit", state["name"], "--data", "registry_storage=volume", *data)
        host = ssh_host(state["ssh_port"])
        pushes, pulls, collections = [], [], []
        host.check_output(PUSH.format(port=5000, tags="1 2 3"))
        for run in range(runs):
            host.check_output(PUSH_PULL.format(run=run))
            pushes.append(timed(partial(host.check_output, f"docker push -q localhost:5000/pp:{run}")))
            host.check_output(f"docker rmi -f localhost:5000/pp:{run} >/dev/null")
            pulls.append(timed(partial(host.check_output, f"docker pull -q localhost:5000/pp:{run}")))
            host.check_output(PUSH.format(port=5000, tags=str(run + 4)))
            host.check_output(DELETE_TAG.replace("{tag}", str(run + 1)))
            gc = ok_deploy(*args, file="gc.py")
            seconds = [line for line in gc.stderr.splitlines() if "garbage collected in" in line]
            collections.append(float(seconds[-1].rsplit(" ", 1)[1].removesuffix("ms")) / 1000)
        medians[label] = (report(f"push 100 MB, registry {label}", (statistics.median(pushes), pushes)),
                          report(f"pull 100 MB, registry {label}", (statistics.median(pulls), pulls)),
                          report(f"GC of 50 repos x 3 tags (collector), registry {label}",
                                 (statistics.median(collections), collections)),
                          report(f"no-op re-run, registry {label}", median_of(runs, partial(ok_deploy, *args))))
    ratios = [new / old for new, old in zip(medians["3.1.1"], medians["2.8"], strict=True)]
    print("  3.1.1 / 2.8: " + ", ".join(f"{what} {ratio:.2f}" for what, ratio in
                                        zip(("push", "pull", "GC", "no-op run"), ratios, strict=True)), flush=True)


def _with_cluster(names: list[str], action):
    """Run action() with inventory/sandbox_cluster.py limited to `names` (replicas, then the load balancer)."""
    os.environ["SANDBOX_CLUSTER_HOSTS"] = ",".join(names)
    try:
        return action()
    finally:
        del os.environ["SANDBOX_CLUSTER_HOSTS"]


def lb_benchmark(runs: int):
    """Replicas on the sandbox's S3 behind HAProxy: one pull through the load balancer against one straight
    from a replica, then three hosts pulling at once through it with 1, 2 and 3 replicas behind it."""
    print("# load balancer (replicas on S3)", flush=True)
    sandbox("down")
    sandbox("up", "--hosts", "4", "--s3")
    hosts = read_state()["hosts"]
    names, lb = [h["name"] for h in hosts[:3]], hosts[3]["name"]
    _with_cluster([*names, lb], lambda: ok_deploy(inventory="inventory/sandbox_cluster.py"))
    clients = [ssh_host(h["ssh_port"]) for h in hosts[:3]]
    clients[0].check_output(PUSH_PULL.format(run="lb") + f"docker tag localhost:5000/pp:lb {lb}:5000/pp:lb"
                            f" && docker push -q {lb}:5000/pp:lb >/dev/null")

    # Every name the layer has on a host is dropped first, so each pull fetches the whole 100 MB.
    every_name = " ".join(f"{registry}:5000/pp:lb" for registry in ("localhost", lb, *names))

    def pull(client, registry):
        return lambda: client.check_output(f"docker rmi -f {every_name} >/dev/null 2>&1;"
                                           f" docker pull -q {registry}:5000/pp:lb")

    via_lb = report("pull 100 MB through the load balancer", median_of(runs, pull(clients[1], lb)))
    direct = report("pull 100 MB straight from a replica", median_of(runs, pull(clients[1], names[0])))
    print(f"  through the load balancer / direct = {via_lb / direct:.2f}", flush=True)
    for count in (1, 2, 3):
        _with_cluster([*names[:count], lb],
                      lambda: ok_deploy("--limit", lb, inventory="inventory/sandbox_cluster.py"))

        def together():
            with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
                for done in [pool.submit(pull(client, lb)) for client in clients]:
                    done.result()
        report(f"3 hosts pull 100 MB at once, {count} replica(s)", median_of(runs, together))
    _cluster_gc(runs, names, lb, clients)
    _scheduled_gc(runs, names, lb, clients, ssh_host(hosts[3]["ssh_port"]))


# A small image of its own, pushed to the host's registry and its manifest deleted: garbage to collect.
GARBAGE = HOST_CURL + """
set -e
mkdir -p /tmp/garbage && cd /tmp/garbage
head -c 5000000 /dev/urandom > blob
printf 'FROM scratch\\nCOPY blob /blob\\n' > Dockerfile
docker build -q -t localhost:5000/garbage:{run} . >/dev/null && docker push -q localhost:5000/garbage:{run} >/dev/null
d=$(curl -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \\
    "$REGISTRY_URL/v2/garbage/manifests/{run}" | tr -d '\\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
curl -f -o /dev/null -X DELETE "$REGISTRY_URL/v2/garbage/manifests/$d"
"""


def _cluster_gc(runs: int, names: list[str], lb: str, clients):
    """gc.py across the 3 replicas, each run with an image deleted first, while a client probes uploads and
    pulls through the load balancer back to back: the chore's wall time and what the probes saw."""
    walls, refused, failed_pulls, pulls = [], [], [], []

    def gc():
        started = time.monotonic()
        done = _with_cluster([*names, lb], lambda: deploy(inventory="inventory/sandbox_cluster.py", file="gc.py"))
        return done, time.monotonic() - started

    for run in range(runs):
        clients[0].check_output(GARBAGE.replace("{run}", str(run)))
        (done, wall), window = probed(clients[1], "pp:lb", gc, url=f"https://{lb}:5000")
        assert done.returncode == 0, done.stderr[-2000:]
        walls.append(wall)
        refused.append(window[1])  # uploads alternate between replicas: some are refused before all are
        failed_pulls.append(window[2])
        pulls.append(window[3])
    report("gc.py across 3 replicas (wall time)", (statistics.median(walls), walls))
    report("  first to last upload refused (405) through it", (statistics.median(refused), refused))
    print(f"  failed pulls through the load balancer per GC (of {statistics.median(pulls):.0f} tried back to back):"
          f" {failed_pulls}", flush=True)


def _scheduled_gc(runs: int, names: list[str], lb: str, clients, scheduler):
    """The same GC run by the scheduler (the load balancer's host, inventory/sandbox_cluster.py) from its unit:
    what installing it costs a deploy, what a no-op deploy with it costs, and its run's wall time against
    gc.py from this machine (_cluster_gc)."""
    schedule = ("--data", "registry_gc_schedule=Sun *-*-* 03:00:00")
    cluster = [*names, lb]
    without = report("no-op deploy of the cluster, no schedule",
                     median_of(runs, lambda: _with_cluster(cluster, lambda: ok_deploy(inventory=CLUSTER))))
    installed = timed(lambda: _with_cluster(cluster, lambda: ok_deploy(*schedule, inventory=CLUSTER)))
    print(f"  deploy that installs the scheduler: {installed:.2f} s", flush=True)
    noop = report("no-op deploy of the cluster, the scheduler installed",
                  median_of(runs, lambda: _with_cluster(cluster, lambda: ok_deploy(*schedule, inventory=CLUSTER))))
    print(f"  with the scheduler / without = {noop / without:.2f}", flush=True)
    walls = []
    for run in range(runs):
        clients[0].check_output(GARBAGE.replace("{run}", f"scheduled-{run}"))
        walls.append(timed(lambda: scheduler.check_output("systemctl start registry-scheduled-gc.service")))
    report("scheduled GC across 3 replicas, run by the scheduler (wall time)", (statistics.median(walls), walls))
    _with_cluster(cluster, lambda: ok_deploy(inventory=CLUSTER))


# On a sandbox host, `sh /tmp/push-small.sh URL N`: push repoN:1 through URL with curl, a one-layer image of
# 2 KB of random bytes and a config of its own (fast enough for 1,000 repositories; manifests are read, never
# run).
PUSH_SMALL = HOST_CURL + """
set -e
url=$1 n=$2
d=$(mktemp -d) && cd "$d"
head -c 2048 /dev/urandom > layer
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"%s"}' "$n" > config
for f in layer config; do
    digest=sha256:$(sha256sum $f | cut -d' ' -f1)
    location=$(curl -f -D - -o /dev/null -X POST "$url/v2/repo$n/blobs/uploads/" \\
        | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')
    case $location in /*) location=$url$location ;; esac
    case $location in *\\?*) sep='&' ;; *) sep='?' ;; esac
    curl -f -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary @$f \\
        "$location${sep}digest=$digest"
    eval "${f}_digest=$digest ${f}_size=$(stat -c %s $f)"
done
v2=application/vnd.docker
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","size":%s,"digest":"%s"},"layers":[%s]}' \\
    $v2.distribution.manifest.v2+json $v2.container.image.v1+json "$config_size" "$config_digest" \\
    "{\\"mediaType\\":\\"$v2.image.rootfs.diff.tar.gzip\\",\\"size\\":$layer_size,\\"digest\\":\\"$layer_digest\\"}" \\
    > manifest
curl -f -o /dev/null -X PUT -H "Content-Type: $v2.distribution.manifest.v2+json" \\
    --data-binary @manifest "$url/v2/repo$n/manifests/1"
cd / && rm -rf "$d"
"""
# `sh /tmp/delete-small.sh URL N`: delete repoN:1's manifest through URL (its blobs become garbage).
DELETE_SMALL = HOST_CURL + """
d=$(curl -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$1/v2/repo$2/manifests/1" \\
    | tr -d '\\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
curl -f -o /dev/null -X DELETE "$1/v2/repo$2/manifests/$d"
"""


def gc_scale_benchmark(runs: int):
    """GC across replicas on the sandbox's S3 at 50, 200 and 1,000 repositories with 3 replicas, then at
    1,000 with 2, 3 and 5 (one small image each, pushed through the load balancer), one image deleted
    before each run, while a client probes uploads and pulls through the load balancer back to back: how
    long uploads are refused, pulls failed, gc.py's wall time, the mark (replicas writable) and the
    collector's part inside the window; and, at 50 and 200, distribution's own collector walking the same
    bucket (`garbage-collect --dry-run`, what it reads)."""
    print("# GC at scale (replicas on S3)", flush=True)
    sandbox("down")
    sandbox("up", "--hosts", "6", "--s3", "--engine")
    hosts = read_state()["hosts"]
    names, lb = [h["name"] for h in hosts[:5]], hosts[5]["name"]
    _with_cluster([*names[:3], lb], lambda: ok_deploy(inventory=CLUSTER))
    pusher, prober = ssh_host(hosts[0]["ssh_port"]), ssh_host(hosts[1]["ssh_port"])
    url = f"https://{lb}:5000"
    pusher.check_output(f"cat > /tmp/push-small.sh <<'EOF'\n{PUSH_SMALL}\nEOF\n"
                        f"cat > /tmp/delete-small.sh <<'EOF'\n{DELETE_SMALL}\nEOF")
    deleted = 0

    def measure(label: str, cluster: list[str]):
        nonlocal deleted
        refused, read_only, failed, tried, walls, marks, windows = [], [], [], [], [], [], []
        for _ in range(runs):
            deleted += 1
            pusher.check_output(f"sh /tmp/delete-small.sh {url} {deleted}")
            started = time.monotonic()
            done, window = probed(prober, f"repo{pushed}:1", lambda: _with_cluster(
                cluster, lambda: deploy(inventory=CLUSTER, file="gc.py")), url=url)
            walls.append(time.monotonic() - started)
            assert done.returncode == 0, done.why()
            refused.append(window[0])
            read_only.append(window[1])
            failed.append(window[2])
            tried.append(window[3])
            marks.append(float(re.search(r"blobs in (\d+)ms", done.stderr).group(1)) / 1000)
            windows.append(float(re.search(r"garbage collected in (\d+)ms", done.stderr).group(1)) / 1000)
        report(f"GC, {label}: uploads refused (last accepted to first after)", (statistics.median(refused), refused))
        report("  first to last upload refused (405) through the load balancer",
               (statistics.median(read_only), read_only))
        report("  gc.py wall time", (statistics.median(walls), walls))
        report("  the mark, every replica writable", (statistics.median(marks), marks))
        report("  the collector inside the window", (statistics.median(windows), windows))
        print(f"  failed pulls through the load balancer per GC (of {statistics.median(tried):.0f} tried): {failed}",
              flush=True)
        return statistics.median(refused), statistics.median(windows)

    pushed = 0
    for count in (50, 200, 1000):
        started = time.monotonic()
        pusher.check_output(f"seq {pushed + 1} {count + 2 * runs * 3} | xargs -P 16 -I N sh /tmp/push-small.sh {url} N")
        pushed = count + 2 * runs * 3
        print(f"  {pushed} repositories pushed ({time.monotonic() - started:.0f} s for these)", flush=True)
        _, window = measure(f"{count} repositories, 3 replicas", [*names[:3], lb])
        if count <= 200:
            walk = timed(lambda: pusher.check_output(
                "docker exec registry registry garbage-collect --dry-run /etc/docker/registry/config.yml >/dev/null"))
            print(f"  distribution's collector over the same bucket (dry run, one walk): {walk:.2f} s,"
                  f" {walk / window:.0f} x the window's part", flush=True)
    # The replicas left out of the inventory stop serving the bucket meanwhile (a GC would not switch them).
    results = {}
    for count in (2, 3, 5):
        cluster = [*names[:count], lb]
        for name in names[count:]:
            ssh_host(hosts[names.index(name)]["ssh_port"]).run("docker stop registry >/dev/null 2>&1")
        _with_cluster(cluster, lambda: ok_deploy(inventory=CLUSTER))
        results[count] = measure(f"{pushed} repositories, {count} replicas", cluster)[0]
    print(f"  uploads refused, 5 replicas / 2 replicas = {results[5] / results[2]:.2f}", flush=True)


def _client():
    client = requests.Session()
    client.trust_env = False
    client.verify = str(SECRETS_DIR / "ca.crt")
    client.auth = ("admin", (SECRETS_DIR / "passwords" / "admin").read_text())
    return client


def _until(check, seconds=180) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if check():
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not back within {seconds}s")


def faults_benchmark(runs: int):
    """Seconds from a fault until the host serves again: the registry's process killed (its restart policy),
    the engine restarted (both containers), the host restarted (boot to registry and UI answering)."""
    print("# faults", flush=True)
    fresh_hosts(1)
    ok_deploy()
    state = read_state()["hosts"][0]
    host, client = ssh_host(state["ssh_port"]), _client()
    registry, ui = f"https://127.0.0.1:{state['registry_port']}", f"https://127.0.0.1:{state['ui_port']}"

    def serving():
        return client.get(f"{registry}/v2/", timeout=2).ok and client.get(f"{ui}/v2/_catalog", timeout=2).ok

    def crash():
        host.check_output("kill -9 $(docker inspect --format '{{.State.Pid}}' registry)")
        return _until(serving)

    def engine():
        # systemd allows docker.service 3 starts a minute; the benchmark restarts it more often than that.
        host.check_output("systemctl reset-failed docker.service; systemctl restart docker")
        return _until(serving)

    def reboot():
        container = docker.from_env().containers.get(state["name"])
        container.stop(timeout=30)
        container.start()
        return _until(serving)

    for label, fault in (("registry process killed -> answering (restart policy)", crash),
                         ("engine restarted -> registry and UI answering", engine),
                         ("host restarted -> registry and UI answering", reboot)):
        samples = [fault() for _ in range(runs)]
        report(label, (statistics.median(samples), samples))


def _load(url: str, auth, clients: int, seconds: float = 3.0) -> tuple[float, float, float]:
    """`clients` threads, each with its own keep-alive session, GETting `url` for `seconds`:
    (requests per second, p50 ms, p99 ms)."""
    deadline = time.monotonic() + seconds

    def client():
        session = requests.Session()
        session.trust_env, session.verify, session.auth = False, str(SECRETS_DIR / "ca.crt"), auth
        latencies = []
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert session.get(url, headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
                               timeout=30).status_code == 200
            latencies.append(time.monotonic() - started)
        return latencies

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        latencies = sorted(sum(pool.map(lambda _: client(), range(clients)), []))
    return (len(latencies) / seconds, latencies[len(latencies) // 2] * 1000,
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000)


def access_benchmark(runs: int):
    """Manifest and blob GETs with 1 and 16 clients: users on (the access proxy, a password checked once
    and remembered), users on with every request checked (registry_auth_cache_seconds=0: a bcrypt each, as
    distribution's htpasswd does), and users off, in the same run on one host."""
    print("# access: authenticated throughput", flush=True)
    fresh_hosts(1)
    [host] = read_state()["hosts"]
    ok_deploy()
    ssh_host(host["ssh_port"]).check_output(
        "mkdir -p /tmp/small && cd /tmp/small && head -c 1000 /dev/urandom > blob"
        " && printf 'FROM scratch\\nCOPY blob /blob\\n' > Dockerfile && docker build -q -t localhost:5000/pp:access ."
        " >/dev/null && docker push -q localhost:5000/pp:access >/dev/null")
    base = f"https://127.0.0.1:{host['registry_port']}/v2/pp"
    digest = requests.get(f"{base}/manifests/access", verify=str(SECRETS_DIR / "ca.crt"),
                          auth=("admin", (SECRETS_DIR / "passwords" / "admin").read_text()),
                          headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
                          timeout=30).json()["config"]["digest"]
    admin = ("admin", (SECRETS_DIR / "passwords" / "admin").read_text())
    modes = {"users on": ((), admin), "users on, every request checked": (("--data", "registry_auth_cache_seconds=0"),
                                                                          admin),
             "users off": (("--data", "registry_auth=none"), None)}
    rates = {}
    for mode, (data, auth) in modes.items():
        ok_deploy(*data)
        for what, url in (("manifest", f"{base}/manifests/access"), ("blob", f"{base}/blobs/{digest}")):
            for clients in (1, 16):
                samples = [_load(url, auth, clients) for _ in range(runs)]
                rate = statistics.median(s[0] for s in samples)
                rates[mode, what, clients] = rate
                print(f"{mode + ', ' + what + f', {clients} clients':<62} median {rate:7.1f} req/s"
                      f"   p50 {statistics.median(s[1] for s in samples):6.1f} ms"
                      f"   p99 {statistics.median(s[2] for s in samples):6.1f} ms", flush=True)
    for what in ("manifest", "blob"):
        ratio = rates["users on", what, 16] / rates["users off", what, 16]
        print(f"  {what}, 16 clients: users on / users off {ratio:.2f},"
              f" every request checked / users off"
              f" {rates['users on, every request checked', what, 16] / rates['users off', what, 16]:.2f}")


def status_benchmark(runs: int):
    """status.py on one host and on eight (each a client of every registry), against a no-op deploy of one."""
    print("# status.py", flush=True)
    sandbox("down")
    sandbox("up", "--hosts", "8", "--engine")
    ok_deploy()
    first = read_state()["hosts"][0]["name"]
    one = report("status.py, 1 host", median_of(runs, lambda: status("--limit", first)))
    eight = report("status.py, 8 hosts", median_of(runs, status))
    noop = report("no-op deploy, 1 host (same run)", median_of(runs, lambda: ok_deploy("--limit", first)))
    print(f"  8 hosts / 1 host = {eight / one:.2f}; status.py / no-op deploy, 1 host = {one / noop:.2f}", flush=True)


def monitoring_benchmark(runs: int):
    """What watching costs on a host that is registry and Prometheus at once: one write of the chores'
    metrics, each scrape as Prometheus times it, and a no-op deploy with monitoring against without."""
    print("# monitoring", flush=True)
    sandbox("down")
    sandbox("up", "--hosts", "1", "--engine")
    first = read_state()["hosts"][0]
    ok_deploy()
    plain = report("no-op deploy, 1 host, no monitoring", median_of(runs, ok_deploy))
    os.environ["SANDBOX_MONITOR"] = first["name"]
    try:
        ok_deploy("--data", "registry_prometheus_interval=1s")
        watched = report("no-op deploy, 1 host, node exporter + Prometheus on it",
                         median_of(runs, lambda: ok_deploy("--data", "registry_prometheus_interval=1s")))
        host = ssh_host(first["ssh_port"])
        write = "s=$(date +%s%N); registry-maintenance metrics; echo $((($(date +%s%N) - s) / 1000))"
        micros = [int(host.check_output(write)) for _ in range(runs)]
        report("registry-maintenance metrics (every 15 s)", (statistics.median(micros) / 1000,
                                                              [m / 1000 for m in micros]), unit="ms")
        time.sleep(5)
        for job in ("registry", "registry-node", "prometheus"):
            query = ("curl -s -G 127.0.0.1:9090/api/v1/query"
                     f" --data-urlencode 'query=scrape_duration_seconds{{job=\"{job}\"}}'")
            samples = []
            for _ in range(runs):
                samples.append(float(json.loads(host.check_output(query))["data"]["result"][0]["value"][1]) * 1000)
                time.sleep(1)
            scraped = json.loads(host.check_output(query.replace("scrape_duration_seconds", "scrape_samples_scraped")))
            count = scraped["data"]["result"][0]["value"][1]
            report(f"scrape of {job} ({count} samples)", (statistics.median(samples), samples), unit="ms")
        scraped, unscraped = _scrape_cost(runs, host, first["registry_port"])
    finally:
        del os.environ["SANDBOX_MONITOR"]
    print(f"  no-op with monitoring / without = {watched / plain:.2f}; manifest GETs served while scraped every"
          f" second / not scraped = {scraped / unscraped:.2f}", flush=True)


def _scrape_cost(runs: int, host, port: int) -> tuple[float, float]:
    """Manifest GETs per second the registry serves (4 clients, through the access proxy) with Prometheus
    scraping its metrics every second and with Prometheus stopped, alternately: the medians."""
    host.check_output("mkdir -p /tmp/small && cd /tmp/small && head -c 1000 /dev/urandom > blob"
                      " && printf 'FROM scratch\\nCOPY blob /blob\\n' > Dockerfile"
                      " && docker build -q -t localhost:5000/pp:scraped . >/dev/null"
                      " && docker push -q localhost:5000/pp:scraped >/dev/null")
    url = f"https://127.0.0.1:{port}/v2/pp/manifests/scraped"
    admin = ("admin", (SECRETS_DIR / "passwords" / "admin").read_text())
    rates = {True: [], False: []}
    for _ in range(runs):
        for scraping in (True, False):
            host.check_output(f"systemctl {'start' if scraping else 'stop'} prometheus && sleep 2")
            rates[scraping].append(_load(url, admin, 4)[0])
    host.check_output("systemctl start prometheus")
    scraped = report("manifest GETs/s, scraped every second", (statistics.median(rates[True]), rates[True]),
                     unit="/s")
    unscraped = report("manifest GETs/s, not scraped", (statistics.median(rates[False]), rates[False]), unit="/s")
    return scraped, unscraped


def mirror_benchmark(runs: int):
    """A 100 MB image pulled on a host through its pull-through mirror of another host's registry (registry
    3, TLS and users): cold (the mirror fetches it), warm (from the mirror's cache), and straight from the
    upstream, same run."""
    print("# pull-through mirror", flush=True)
    sandbox("images", "--registry3")
    fresh_hosts(2)
    upstream, mirror = read_state()["hosts"]
    password = SECRETS_DIR / "mirrors" / "bench"
    entry = {"name": "bench", "upstream": f"https://{upstream['name']}:5000", "port": 5010,
             "username": "registry-pull", "ca": str(SECRETS_DIR / "ca.crt")}
    limits = ("--limit", upstream["name"], "--limit", mirror["name"])
    try:
        os.environ["SANDBOX_HOST_DATA"] = json.dumps({mirror["name"]: {"registry_image": REGISTRY3_IMAGE}})
        ok_deploy(*limits)
        password.parent.mkdir(mode=0o700, exist_ok=True)
        password.write_text((SECRETS_DIR / "passwords" / "registry-pull").read_text())
        os.environ["SANDBOX_HOST_DATA"] = json.dumps({mirror["name"]: {"registry_image": REGISTRY3_IMAGE,
                                                                       "registry_mirrors": [entry]}})
        ok_deploy(*limits)
        source, client = ssh_host(upstream["ssh_port"]), ssh_host(mirror["ssh_port"])
        times = {"cold": [], "warm": [], "direct": []}
        for run in range(runs):
            source.check_output(PUSH_PULL.format(run=run) + f"docker push -q localhost:5000/pp:{run} >/dev/null")
            names = {"cold": f"{mirror['name']}:5010/pp:{run}", "warm": f"{mirror['name']}:5010/pp:{run}",
                     "direct": f"{upstream['name']}:5000/pp:{run}"}
            for kind, name in names.items():
                times[kind].append(timed(partial(client.check_output, f"docker pull -q {name}")))
                client.check_output(f"docker rmi -f {name} >/dev/null")
        medians = {kind: report(f"pull 100 MB, {kind}" + {"cold": " (through the mirror, not cached)",
                                                          "warm": " (from the mirror's cache)",
                                                          "direct": " (from the upstream itself)"}[kind],
                                (statistics.median(samples), samples)) for kind, samples in times.items()}
        print(f"  warm/cold {medians['warm'] / medians['cold']:.2f}, warm/direct"
              f" {medians['warm'] / medians['direct']:.2f}, cold/direct {medians['cold'] / medians['direct']:.2f}",
              flush=True)
    finally:
        os.environ.pop("SANDBOX_HOST_DATA", None)
        password.unlink(missing_ok=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-cold", action="store_true", help="do not rebuild the base image")
    parser.add_argument("--skip-deploy", action="store_true")
    parser.add_argument("--skip-gc", action="store_true")
    parser.add_argument("--skip-backup", action="store_true")
    parser.add_argument("--skip-storage", action="store_true")
    parser.add_argument("--skip-lb", action="store_true")
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--skip-registry3", action="store_true")
    parser.add_argument("--skip-access", action="store_true")
    parser.add_argument("--skip-status", action="store_true")
    parser.add_argument("--skip-monitoring", action="store_true")
    parser.add_argument("--skip-s3-chores", action="store_true")
    parser.add_argument("--skip-mirrors", action="store_true")
    parser.add_argument("--skip-gc-scale", action="store_true")
    parser.add_argument("--skip-noop", action="store_true")
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

    if not args.skip_deploy:
        deploy_benchmark(args.runs)
    if not args.skip_gc:
        gc_benchmark(min(args.runs, 3))
    if not args.skip_backup:
        backup_benchmark(min(args.runs, 3))
    if not args.skip_storage:
        storage_benchmark(min(args.runs, 3))
    if not args.skip_lb:
        lb_benchmark(min(args.runs, 3))
    if not args.skip_faults:
        faults_benchmark(min(args.runs, 3))
    if not args.skip_registry3:
        registry3_benchmark(min(args.runs, 3))
    if not args.skip_access:
        access_benchmark(args.runs)
    if not args.skip_status:
        status_benchmark(args.runs)
    if not args.skip_monitoring:
        monitoring_benchmark(args.runs)
    if not args.skip_s3_chores:
        s3_chores_benchmark(args.runs)
    if not args.skip_mirrors:
        mirror_benchmark(args.runs)
    if not args.skip_gc_scale:
        gc_scale_benchmark(min(args.runs, 3))
    if not args.skip_noop:
        noop_benchmark(args.runs)
    sandbox("down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
