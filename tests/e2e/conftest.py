"""Fresh sandbox hosts, deployed once for the whole end-to-end session: two to test on (one per storage
mode) and, only for the modules that ask for it, a spare for tests that need a host of their own (an empty
registry, faults). Modules that make hosts of their own (from index 3) start from fresh_sandbox and make none
of these; the S3 cluster's modules make theirs with `cluster`."""

import json
import time
from dataclasses import dataclass

import pytest

from core.data import public_urls
from dev.operator import deploy, inventory_hosts, sandbox, ssh_host
from dev.operator import push_hello as load_and_push_hello
from sandbox.hosts import host_name
from tests.e2e.client import ACCEPT, session

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

    def data_mount(self) -> tuple[str, str]:
        """(type, source) of the one mount the registry keeps its data in, as its container has it."""
        [mount] = [m for m in self.container(self.data.registry_container)["Mounts"]
                   if m["Destination"] == "/var/lib/registry"]
        return mount["Type"], mount["Source"]

    def logs(self, name):
        return self.host.run(f"docker logs --tail 30 {name} 2>&1").stdout


@pytest.fixture(scope="session")
def fresh_sandbox():
    """This session's sandbox slot emptied and the offline images built: where every module starts."""
    sandbox("down")
    sandbox("images")


def made_and_deployed(first: int, hosts: int):
    """Hosts `first` to `hosts - 1` made, and every host up to them deployed (those made before learn the new
    ones: their engines trust each registry's CA). Their engine comes installed as the deploy would install it
    (installing it is tested on hosts made without: test_faults.py, `make demo`); everything on it is the
    deploy's."""
    sandbox("up", "--first", str(first), "--hosts", str(hosts), "--engine")
    run = deploy(*[flag for index in range(hosts) for flag in ("--limit", host_name(index))])
    assert run.returncode == 0 and not run.errors(), run.stderr[-3000:]
    return run


@pytest.fixture(scope="session")
def first_run(fresh_sandbox):
    """The targets made and deployed, in one run."""
    return made_and_deployed(0, HOSTS)


@pytest.fixture(scope="session")
def targets(first_run):
    """The hosts first_run made, found by name: hosts another module adds do not shift them."""
    return [target_for(host_name(index)) for index in range(HOSTS)]


@pytest.fixture(scope="session")
def spare(first_run):
    """The third host, made and deployed (in a run of its own) only for the modules that use it: never pushed
    to by the shared fixtures."""
    made_and_deployed(HOSTS, HOSTS + 1)
    return target_for(host_name(HOSTS))


def target_for(name: str, data=None) -> Target:
    """A sandbox host as the tests reach it; its data as inventory/sandbox.py gives it, unless given (from
    another inventory)."""
    data = data if data is not None else dict(inventory_hosts())[name]
    return Target(name, data, ssh_host(data.ssh_port), *public_urls(name, data))


@pytest.fixture(params=range(HOSTS), ids=lambda i: f"host{i}")
def target(request, targets):
    return targets[request.param]


def push_hello(t):
    """Load the hello image on a host and push it to the host's registry as `hello`."""
    load_and_push_hello(t.data)


def push_own(t, repository: str, tag: str) -> str:
    """Build on the host an image of its own from hello (a manifest no other tag shares), push it as
    `repository:tag`; its digest, as the registry answers a HEAD."""
    image = f"localhost:{t.data.registry_port}/{repository}:{tag}"
    t.host.check_output(f"printf 'FROM localhost:{t.data.registry_port}/hello\\nLABEL tag={tag}\\n'"
                        f" | docker build -q -t {image} - && docker push -q {image}")
    return manifest_head(t, f"{repository}:{tag}")[1]


@pytest.fixture(scope="module")
def cluster(fresh_sandbox):
    """An S3 cluster of the module's own (tests/e2e/cluster.py): (replicas, load balancer)."""
    from tests.e2e.cluster import made_cluster  # imported here: it builds on this module's helpers

    with made_cluster() as made:
        yield made


@pytest.fixture(scope="module")
def replicas(cluster):
    return cluster[0]


@pytest.fixture(scope="session")
def hello_pushed(targets):
    """The hello image pushed to every target's registry as `hello`."""
    for t in targets:
        push_hello(t)
    return "hello"


def manifest_head(t, reference, accept=ACCEPT) -> tuple[int, str | None]:
    """(HTTP status, digest) of `repository:tag` or `repository@digest` on a target's registry, asked with HEAD
    accepting the media types `accept` names (by default an image manifest's)."""
    repository, tag = reference.split("@") if "@" in reference else reference.split(":")
    answer = session().head(f"{t.registry}/v2/{repository}/manifests/{tag}", headers={"Accept": accept}, timeout=10)
    return answer.status_code, answer.headers.get("Docker-Content-Digest")


def manifest(t, repository, tag) -> tuple[str, set[str]]:
    """(digest, the digests of its layers) of `repository:tag` on a target's registry."""
    answer = session().get(f"{t.registry}/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT}, timeout=10)
    answer.raise_for_status()
    return answer.headers["Docker-Content-Digest"], {layer["digest"] for layer in answer.json()["layers"]}


def tags_of(t, repository) -> list[str]:
    """The tags of `repository` on a target's registry (or load balancer), sorted; [] when it has none."""
    return sorted(session().get(f"{t.registry}/v2/{repository}/tags/list", timeout=10).json()["tags"] or [])


def catalog(base_url):
    return session().get(f"{base_url}/v2/_catalog", timeout=10).json()["repositories"]


def pull_back(target, reference):
    """Drop the host's copy of `reference` and pull it again from the host's registry."""
    image = f"localhost:{target.data.registry_port}/{reference}"
    target.host.check_output(f"docker rmi -f {image} >/dev/null && docker pull -q {image}")


def wait_for(check, seconds=120, every=0.25) -> float:
    """Seconds until check() is true; fails the test after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if check():
                return time.monotonic() - started
        except Exception:  # not answering yet, in any of the ways a host can
            pass
        time.sleep(every)
    raise AssertionError(f"not recovered within {seconds}s")
