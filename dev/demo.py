"""The end of `make demo`: a sample image pushed to each sandbox registry (so the UI's first screen is not
empty), then what a new user needs, printed as commands that work as they are.

    python -m dev.demo
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from core.archives import archive_name
from core.data import public_urls
from dev.operator import inventory_hosts, push_hello
from sandbox.offline_images import HELLO_IMAGE
from sandbox.settings import IMAGE_DIR, ROOT, SECRETS_DIR

SAMPLE = "hello:1"


def _shown(path: Path) -> str:
    """A path as typed from the repository's folder, where make runs."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def instructions(hosts: list[tuple[str, object]]) -> list[str]:
    ca, password = _shown(SECRETS_DIR / "ca.crt"), _shown(SECRETS_DIR / "passwords" / "admin")
    lines = []
    for name, data in hosts:
        registry, ui = public_urls(name, data)
        lines += [f"{name}:", f"  registry  {registry}  (holds {SAMPLE})", f"  UI        {ui}"]
    address = urlsplit(public_urls(*hosts[0])[0]).netloc
    image = archive_name(HELLO_IMAGE)
    lines += [
        f"User admin, its password in {password}; trust the CA {ca} in your browser.",
        "Push from this machine's Docker:",
        f"  mkdir -p /etc/docker/certs.d/{address} && cp {ca} /etc/docker/certs.d/{address}/",
        f"  docker login {address} -u admin --password-stdin < {password}",
        f"  docker load -i {_shown(IMAGE_DIR / image)} && docker tag {HELLO_IMAGE} {address}/hello:2"
        f" && docker push {address}/hello:2",
    ]
    return lines


def main() -> int:
    # Each sandbox host has a new SSH host key on a reused port: paramiko's warning says nothing here.
    warnings.filterwarnings("ignore", "Unknown ssh-ed25519 host key")
    hosts = inventory_hosts()
    if not hosts:
        print("no sandbox host: run `python -m sandbox up --hosts 1` first", file=sys.stderr)
        return 1
    for _, data in hosts:
        push_hello(data, SAMPLE)
    print("\n".join(instructions(hosts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
