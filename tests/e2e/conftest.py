"""Two fresh sandbox hosts (one per storage mode), deployed once for the whole end-to-end session."""

import json
from dataclasses import dataclass

import pytest
import requests

from ops.images import archive_name
from sandbox.config import IMAGE_DIR
from sandbox.images import HELLO_IMAGE
from tests.support import deploy, inventory_hosts, sandbox, ssh_host

HOSTS = 2


@dataclass
class Target:
    """One deployed sandbox host: its data as the deploy saw it, a testinfra handle, its URLs."""

    name: str
    data: object
    host: object
    registry: str  # base URL on 127.0.0.1, as published by the sandbox
    ui: str

    def container(self, name):
        return json.loads(self.host.check_output(f"docker inspect {name}"))[0]

    def logs(self, name):
        return self.host.run(f"docker logs --tail 30 {name} 2>&1").stdout


@pytest.fixture(scope="session")
def first_run():
    sandbox("down")
    sandbox("images")
    sandbox("up", "--hosts", str(HOSTS))
    run = deploy()
    assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
    return run


@pytest.fixture(scope="session")
def targets(first_run):
    found = []
    for name, data in inventory_hosts():
        found.append(Target(name, data, ssh_host(data.ssh_port),
                            data.registry_public_url, data.ui_public_url))
    assert len(found) == HOSTS
    return found


@pytest.fixture(params=range(HOSTS), ids=lambda i: f"host{i}")
def target(request, targets):
    return targets[request.param]


@pytest.fixture(scope="session")
def hello_pushed(targets):
    """The hello image loaded on every host and pushed to its registry as `hello`."""
    archive = IMAGE_DIR / archive_name(HELLO_IMAGE)
    for t in targets:
        sftp = t.host.backend.client.open_sftp()
        sftp.put(str(archive), "/tmp/hello.tar")
        sftp.close()
        t.host.check_output(
            f"docker load -i /tmp/hello.tar && docker tag {HELLO_IMAGE} localhost:{t.data.registry_port}/hello"
            f" && docker push localhost:{t.data.registry_port}/hello"
        )
    return "hello"


def catalog(base_url):
    return requests.get(f"{base_url}/v2/_catalog", timeout=10).json()["repositories"]


def pull_back(target, reference):
    """Drop the host's copy of `reference` and pull it again from the host's registry."""
    image = f"localhost:{target.data.registry_port}/{reference}"
    target.host.check_output(f"docker rmi -f {image} >/dev/null && docker pull -q {image}")
