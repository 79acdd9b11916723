"""The sandbox's S3 object store: a real single-node Ceph whose gateway the hosts reach, with the bucket and
keys written to the sandbox's state, that comes back after a restart with what it stored."""

import docker
import pytest

from dev.operator import sandbox, ssh_host
from sandbox.hosts import read_state
from sandbox.object_store import ACCESS_KEY_FILE, NAME, SECRET_KEY_FILE, s3_state


@pytest.fixture(scope="module")
def store():
    sandbox("down")
    sandbox("up", "--hosts", "1", "--s3")
    yield s3_state()
    sandbox("down")


def s3cmd(*args: str) -> tuple[int, str]:
    """s3cmd inside the store's container, with the sandbox's keys, through the address the hosts use."""
    endpoint = s3_state()["endpoint"].removeprefix("http://")
    command = ["s3cmd", f"--access_key={ACCESS_KEY_FILE.read_text().strip()}",
               f"--secret_key={SECRET_KEY_FILE.read_text().strip()}", f"--host={endpoint}",
               f"--host-bucket={endpoint}", "--no-ssl", "--region=us-east-1", *args]
    code, output = docker.from_env().containers.get(NAME).exec_run(command)
    return code, output.decode(errors="replace")


def test_the_state_names_the_endpoint_bucket_and_access_key_but_no_secret(store):
    assert store["endpoint"].startswith("http://") and store["endpoint"].endswith(":7480")
    assert store["bucket"] == "registry" and store["access_key"] == ACCESS_KEY_FILE.read_text().strip()
    assert SECRET_KEY_FILE.read_text().strip() not in str(store)
    assert SECRET_KEY_FILE.stat().st_mode & 0o077 == 0


def test_ceph_reports_one_osd_up_and_the_bucket_exists(store):
    container = docker.from_env().containers.get(NAME)
    code, output = container.exec_run(["ceph", "osd", "stat"])
    assert code == 0 and "1 osds: 1 up" in output.decode(), output
    code, output = s3cmd("ls")
    assert code == 0 and f"s3://{store['bucket']}" in output, output


def test_a_host_reaches_the_gateway_which_keeps_the_bucket_private(store):
    host = ssh_host(read_state()["hosts"][0]["ssh_port"])
    address, port = store["endpoint"].removeprefix("http://").split(":")

    def get(path):  # a fresh host has no curl yet (the deploy installs it): bash's own TCP client
        return host.check_output(f"timeout 10 bash -c 'exec 3<>/dev/tcp/{address}/{port};"
                                 f" printf \"GET {path} HTTP/1.0\\r\\n\\r\\n\" >&3; cat <&3'")

    # Anonymous: radosgw answers with S3's own XML, and refuses to list the private bucket.
    assert "ListAllMyBucketsResult" in get("/")
    assert get(f"/{store['bucket']}").startswith("HTTP/1.1 403")


def test_objects_survive_a_restart_of_the_store(store):
    code, output = s3cmd("put", "/etc/hostname", f"s3://{store['bucket']}/probe/hostname")
    assert code == 0, output
    docker.from_env().containers.get(NAME).restart(timeout=10)
    sandbox("up", "--hosts", "1", "--s3")  # starts the daemons again
    code, output = s3cmd("get", "--force", f"s3://{store['bucket']}/probe/hostname", "/tmp/back")
    assert code == 0, output
    code, output = docker.from_env().containers.get(NAME).exec_run(["cmp", "/etc/hostname", "/tmp/back"])
    assert code == 0, output
