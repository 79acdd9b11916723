"""`make test`: every test, on fresh sandbox hosts, in workers that run side by side.

The unit, plan and sandbox tests run as one pytest; each end-to-end file runs in a pytest of its own, on
hosts its session makes fresh, so a file that leaned on another's state fails here. The jobs go to
`--workers` workers, the longest first (as the last run measured them; by file size before any run). Each
worker has a sandbox slot of its own ($SANDBOX_SLOT: its own hosts, network, ports, SSH key, state and
secrets), so two files never share a host. Much of a test's time is spent waiting on hosts (SSH round
trips, engines and registries starting, health polls), which is why 3 workers on 2 cores finish well
before 1.

A job's output is printed when it ends, whole; the failed jobs are listed at the end with pytest's FAILED
and ERROR lines (a CI log cut in the middle still names every failure), and the exit code is 1 if any
failed. The images every slot shares are made once, before any worker starts, and the hosts of every slot
but 0 are removed at the end (slot 0's stay, as `make demo` leaves them).
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time

from sandbox.engine_seed import ensure_engine_seed
from sandbox.local_docker import ensure_local_docker
from sandbox.object_store import ensure_ceph_image
from sandbox.offline_images import build_archives
from sandbox.package_images import ensure_engine_image
from sandbox.registry3 import build_registry3_archive
from sandbox.settings import ROOT, STATE_DIR

FIRST = ("tests/unit", "tests/plan", "tests/sandbox")
DURATIONS = STATE_DIR / "test-durations.json"


def jobs() -> list[tuple[str, ...]]:
    """Every pytest to run, the longest first."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests/e2e").glob("test_*.py"))
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}

    def size(path):
        return sum(f.stat().st_size for f in (ROOT / path).rglob("test_*.py")) if (ROOT / path).is_dir() \
            else (ROOT / path).stat().st_size

    def expected(job):
        return known.get(" ".join(job), sum(size(path) for path in job))

    return sorted([FIRST, *[(f,) for f in files]], key=expected, reverse=True)


def prepare():
    """What every slot shares, made once: two workers making it at once would race."""
    client = ensure_local_docker()
    ensure_ceph_image(client)
    build_archives(client)
    ensure_engine_seed(client, ensure_engine_image(client))
    build_registry3_archive(client)


def summary(output: str) -> str:
    """What a failed run's end says: pytest's FAILED and ERROR lines, or the last lines when it has none
    (pytest itself failed), so the end of a long log names every failure."""
    lines = [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return "\n".join(lines or output.splitlines()[-20:])


def run_job(job, slot) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *job], cwd=ROOT,
                          env={**os.environ, "SANDBOX_SLOT": str(slot)}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return done.returncode, done.stdout, time.monotonic() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.parallel", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args(argv)
    prepare()
    every = jobs()
    pending = queue.Queue()
    for job in every:
        pending.put(job)
    finished = queue.Queue()

    def worker(slot):
        while True:
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            finished.put((job, slot, *run_job(job, slot)))

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(args.workers)]
    for thread in threads:
        thread.start()
    durations, failed = {}, {}
    for _ in every:
        job, slot, code, output, seconds = finished.get()
        name = " ".join(job)
        durations[name] = round(seconds)
        print(f"\n===== {name} (slot {slot}): {'passed' if code == 0 else 'FAILED'} in {seconds:.0f} s =====",
              flush=True)
        print(output, flush=True)
        if code != 0:
            failed[name] = summary(output)
    for thread in threads:
        thread.join()
    DURATIONS.write_text(json.dumps(durations, indent=2) + "\n")
    for slot in range(1, args.workers):
        subprocess.run([sys.executable, "-m", "sandbox", "down"], cwd=ROOT, stdout=subprocess.DEVNULL, check=False,
                       env={**os.environ, "SANDBOX_SLOT": str(slot)})
    total = time.monotonic() - started
    for name, lines in failed.items():
        print(f"\n----- {name} failed:\n{lines}", flush=True)
    print(f"\n{len(durations)} pytest runs on {args.workers} workers in {total / 60:.1f} min"
          + (f"; failed: {', '.join(failed)}" if failed else "; all passed"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
