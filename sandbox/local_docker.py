"""A local Docker engine: use the one that answers, or install and start one on Debian."""

import io
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import docker
from docker.errors import DockerException

ENGINE_LOG = Path("/var/log/dockerd.log")


class SandboxError(RuntimeError):
    """A sandbox step failed; the message says which and why."""


def _client():
    try:
        client = docker.from_env(timeout=300)
        client.ping()
        return client
    except DockerException:
        return None


def _is_debian():
    return Path("/etc/debian_version").exists()


def ensure_local_docker(wait_seconds=60):
    """Return a client for a running engine, starting one (installing docker.io on Debian) if needed."""
    client = _client()
    if client:
        return client
    if not shutil.which("dockerd"):
        if not _is_debian():
            raise SandboxError(
                "No Docker engine answers and this is not Debian: install and start Docker, then retry."
            )
        if os.geteuid() != 0:
            raise SandboxError("No Docker engine answers; installing docker.io needs root.")
        apt_install("docker.io")
    with ENGINE_LOG.open("ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        client = _client()
        if client:
            return client
        time.sleep(0.5)
    raise SandboxError(f"dockerd did not answer within {wait_seconds}s; see {ENGINE_LOG}")


APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def apt_update():
    """Refresh this machine's package lists: a new machine has none."""
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=APT_ENV, stdout=subprocess.DEVNULL)


def apt_install(*packages):
    """Install Debian packages on this machine."""
    apt_update()
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=APT_ENV,
    )


def one_file_tar(name: str, data: bytes, mode: int) -> bytes:
    """A tar archive of one file, as Docker's put_archive takes it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
