"""Driving the deploy as an operator would, for the tests and the benchmarks: run pyinfra and the sandbox
as commands, read the inventory's merged data, and reach the sandbox hosts over SSH."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import paramiko
import testinfra

from core.archives import archive_name
from sandbox.offline_images import HELLO_IMAGE
from sandbox.settings import IMAGE_DIR, KEY_FILE, ROOT

PYINFRA = str(Path(sys.executable).parent / "pyinfra")
SANDBOX_INVENTORY = "inventory/sandbox.py"


def group_defaults() -> dict:
    """group_data/all.py, the defaults every inventory starts from."""
    return {k: v for k, v in runpy.run_path(str(ROOT / "group_data/all.py")).items() if not k.startswith("__")}


class Data(dict):
    """Deploy data as tasks read it (attributes) and as validation reads it (.get)."""

    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def results(self) -> list[dict]:
        # When every host failed, pyinfra prints no JSON at all.
        return json.loads(self.stdout)["results"]["operations"] if self.stdout.strip() else []

    def changed(self) -> list[tuple[str, str]]:
        """(operation, host) for every operation that changed something."""
        return [(op["name"], h) for op in self.results for h in op["success"]]

    def errors(self) -> list[tuple[str, str]]:
        return [(op["name"], h) for op in self.results for h in op["error"]]

    def changes(self) -> list[tuple[str, str]]:
        """changed(), from a run that succeeded on every host: raises when pyinfra failed or printed no
        results, so that an aborted run never reads as "nothing changed"."""
        if self.returncode != 0 or not self.results:
            raise RunFailed(f"pyinfra exited {self.returncode} with {len(self.results)} results:\n" + self.why())
        return self.changed()

    def why(self) -> str:
        """What a failed run said where it failed: the lines around each error pyinfra printed (a host that
        failed early is long gone from the output's tail), then the tail."""
        lines = self.stderr.splitlines()
        marks = [i for i, line in enumerate(lines) if "Error" in line or "error:" in line]
        around = sorted({j for i in marks for j in range(max(0, i - 8), min(len(lines), i + 4))})
        return "\n".join(lines[j] for j in around)[-4000:] + "\n...\n" + self.stderr[-1500:]


class RunFailed(AssertionError):
    pass


def sandbox(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"python -m sandbox {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _pyinfra(args, inventory: str, dry: bool, file: str) -> list[str]:
    """`pyinfra [-y|--dry] --json INVENTORY FILE ARGS`, as an operator runs it."""
    return [PYINFRA, "--dry" if dry else "-y", "--json", inventory, file, *args]


def deploy(*args: str, inventory: str = SANDBOX_INVENTORY, dry: bool = False, file: str = "deploy.py") -> Run:
    done = subprocess.run(_pyinfra(args, inventory, dry, file), cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    return Run(done.returncode, done.stdout, done.stderr)


def status_output(*args: str, inventory: str = SANDBOX_INVENTORY) -> str:
    """What status.py prints on stdout (the table, unless the arguments ask for JSON)."""
    return subprocess.run([PYINFRA, "-y", inventory, "status.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=True).stdout


def status(*args: str, inventory: str = SANDBOX_INVENTORY) -> dict[str, dict]:
    """status.py's JSON, as a script reads it from stdout: {host: its status}."""
    printed = status_output("--data", "registry_status_format=json", *args, inventory=inventory)
    return {found["host"]: found for found in json.loads(printed)["hosts"]}


def start_deploy(*args: str, inventory: str = SANDBOX_INVENTORY, file: str = "deploy.py") -> subprocess.Popen:
    """deploy(), running in the background: its output is the process's (text) stdout and stderr."""
    return subprocess.Popen(_pyinfra(args, inventory, False, file), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def inventory_hosts(inventory: str = SANDBOX_INVENTORY) -> list[tuple[str, SimpleNamespace]]:
    """(name, data) for each host, data merged by pyinfra itself exactly as the deploy sees it."""
    done = subprocess.run([PYINFRA, "--json", inventory, "debug-inventory"], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    return [(h["name"], SimpleNamespace(**h["data"])) for h in json.loads(done.stdout)]


def ssh_host(ssh_port: int):
    return testinfra.get_host(
        f"paramiko://root@127.0.0.1:{ssh_port}?ssh_identity_file={KEY_FILE}&timeout=30"
    )


def upload(ssh_port: int, local: Path, remote: str) -> None:
    """Copy a local file to a sandbox host over SFTP."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=ssh_port, username="root", key_filename=str(KEY_FILE),
                   allow_agent=False, look_for_keys=False)
    try:
        with client.open_sftp() as sftp:
            sftp.put(str(local), remote)
    finally:
        client.close()


def push_hello(data, reference: str = "hello") -> None:
    """Load the offline hello image on a sandbox host and push it to the host's own registry as `reference`
    (the host's Docker is logged in as registry_client_login: admin in the sandbox)."""
    upload(data.ssh_port, IMAGE_DIR / archive_name(HELLO_IMAGE), "/tmp/hello.tar")
    image = f"localhost:{data.registry_port}/{reference}"
    ssh_host(data.ssh_port).check_output(f"docker load -q -i /tmp/hello.tar >/dev/null && rm -f /tmp/hello.tar"
                                         f" && docker tag {HELLO_IMAGE} {image} && docker push -q {image}")
