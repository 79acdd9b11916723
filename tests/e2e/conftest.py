"""Fresh sandbox hosts, deployed once for the whole end-to-end session: two to test on (one per storage
mode) and a spare for tests that need a host of their own (an empty registry, faults)."""

import json
from dataclasses import dataclass

import pytest
import requests

from ops.images import archive_name
from sandbox.config import IMAGE_DIR
from sandbox.images import HELLO_IMAGE
from tests.support import deploy, inventory_hosts, sandbox, ssh_host, upload

HOSTS = 2  # the targets; one more host is the spare


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
    sandbox("up", "--hosts", str(HOSTS + 1))
    run = deploy()
    assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
    return run


@pytest.fixture(scope="session")
def targets(first_run):
    found = [Target(name, data, ssh_host(data.ssh_port), data.registry_public_url, data.ui_public_url)
             for name, data in inventory_hosts()]
    assert len(found) == HOSTS + 1
    return found[:HOSTS]


@pytest.fixture(scope="session")
def spare(first_run):
    """The third host: deployed with the others, never pushed to by the shared fixtures."""
    name, data = inventory_hosts()[HOSTS]
    return Target(name, data, ssh_host(data.ssh_port), data.registry_public_url, data.ui_public_url)


@pytest.fixture(params=range(HOSTS), ids=lambda i: f"host{i}")
def target(request, targets):
    return targets[request.param]


@pytest.fixture(scope="session")
def hello_pushed(targets):
    """The hello image loaded on every host and pushed to its registry as `hello`."""
    archive = IMAGE_DIR / archive_name(HELLO_IMAGE)
    for t in targets:
        upload(t.data.ssh_port, archive, "/tmp/hello.tar")
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
