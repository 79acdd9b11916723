"""Images with packages installed on top of the base image (sandbox/base.py): the Docker engine's, Ceph's.

Each is tagged with a hash of the base image's tag and its packages, so it is rebuilt only when either
changes (and this file's edits rebuild nothing).
"""

import hashlib

from .base import ensure_base_image
from .local_docker import SandboxError
from .settings import LABEL

# What the deploy installs on a Debian host with registry_docker_package_source = "distribution".
ENGINE_PACKAGES = ["docker.io", "curl", "socat"]


def ensure_image_with(client, repository: str, packages: list[str], changes: list[str]) -> str:
    """The base image with `packages` installed from this machine's Debian archive (as the deploy installs
    them: no recommends), each of `changes` a Dockerfile instruction for it; built when no image of this
    recipe exists. Its tag."""
    base = ensure_base_image(client)
    recipe = f"{base} {' '.join(packages)}".encode()
    tag = f"{repository}:{hashlib.sha256(recipe).hexdigest()[:12]}"
    if client.images.list(name=tag):
        return tag
    install = ("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
               f"{' '.join(packages)} >/dev/null && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb")
    builder = client.containers.run(base, ["sh", "-c", install], detach=True, labels={LABEL: "build"})
    try:
        if builder.wait(timeout=900)["StatusCode"] != 0:
            raise SandboxError(f"installing {' '.join(packages)} failed:\n"
                               f"{builder.logs(tail=20).decode(errors='replace')}")
        builder.commit(*tag.split(":"), changes=changes)
    finally:
        builder.remove(force=True)
    return tag


def ensure_engine_image(client) -> str:
    """The base image with the Docker engine the deploy would install: for hosts of tests that do not test
    the install (each install costs a host about 7 s of CPU, which many hosts at once turn into minutes)."""
    return ensure_image_with(client, "registry-sandbox/base-engine", ENGINE_PACKAGES,
                             [f"LABEL {LABEL}=base", "ENV container=docker", 'CMD ["/sbin/init"]'])
