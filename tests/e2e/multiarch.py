"""Multi-arch images for the end-to-end tests: an OCI image layout holding an index of two platforms,
written here, pushed with `skopeo copy --all` and pulled back whole with it (every platform, every blob).

Multi-platform `docker buildx` builds need BuildKit's image from Docker Hub; an OCI layout is a few JSON
files and blobs named by their sha256, and skopeo (Debian's package) is a real registry client.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from sandbox.local_docker import apt_install
from sandbox.settings import SECRETS_DIR

PLATFORMS = ("amd64", "arm64")
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT_ANY = ", ".join([INDEX, MANIFEST, "application/vnd.docker.distribution.manifest.v2+json",
                        "application/vnd.docker.distribution.manifest.list.v2+json"])


@dataclass
class MultiArch:
    """What was pushed: the index's digest, and each platform's manifest digest and blobs."""

    index: str
    platforms: dict[str, str]  # architecture -> manifest digest
    blobs: dict[str, list[str]]  # architecture -> [config digest, layer digest]


def skopeo() -> str:
    if not shutil.which("skopeo"):
        apt_install("skopeo")
    return "skopeo"


def _blob(layout: Path, content: bytes) -> dict:
    digest = hashlib.sha256(content).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(content)
    return {"digest": f"sha256:{digest}", "size": len(content)}


def _layer(text: str) -> tuple[bytes, str]:
    """A gzipped tar of one file, and the sha256 of the tar (the image config's diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = text.encode()
        info = tarfile.TarInfo("platform.txt")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0), "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()


def write_layout(layout: Path, tag: str, unique: str) -> MultiArch:
    """An OCI image layout at `layout` holding `tag`: an index of one image per platform, each with a layer
    of its own (`unique` makes every call's images new)."""
    (layout / "blobs/sha256").mkdir(parents=True)
    entries, platforms, blobs = [], {}, {}
    for arch in PLATFORMS:
        layer, diff_id = _layer(f"{unique} on linux/{arch}\n")
        layer_ref = _blob(layout, layer)
        config = {"architecture": arch, "os": "linux", "config": {"Cmd": ["/platform.txt"]},
                  "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
        config_ref = _blob(layout, json.dumps(config).encode())
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_ref},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer_ref}]}
        manifest_ref = _blob(layout, json.dumps(manifest).encode())
        entries.append({"mediaType": MANIFEST, **manifest_ref, "platform": {"architecture": arch, "os": "linux"}})
        platforms[arch] = manifest_ref["digest"]
        blobs[arch] = [config_ref["digest"], layer_ref["digest"]]
    index_ref = _blob(layout, json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}).encode())
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": INDEX, **index_ref, "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return MultiArch(index_ref["digest"], platforms, blobs)


def _credentials(tmp: Path, side: str, user: str = "admin") -> list[str]:
    """skopeo's flags for a sandbox registry as the `side` ("src" or "dest") of a copy: its CA alone in a
    directory, the user's password."""
    certs = tmp / "certs"
    certs.mkdir(exist_ok=True)
    shutil.copyfile(SECRETS_DIR / "ca.crt", certs / "ca.crt")
    return [f"--{side}-cert-dir", str(certs),
            f"--{side}-creds", f"{user}:{(SECRETS_DIR / 'passwords' / user).read_text()}"]


def _copy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([skopeo(), "copy", "--all", "--quiet", *args], capture_output=True, text=True, timeout=300)


def _address(registry: str) -> str:
    """host:port of a registry URL."""
    return registry.split("://", 1)[1]


def push_as(user: str, registry: str, reference: str, tmp: Path) -> tuple[subprocess.CompletedProcess, MultiArch]:
    """Push a new two-platform image as `reference` (repository:tag) to `registry` (https://host:port) as
    `user`: (skopeo's result, what it pushed)."""
    repository, tag = reference.split(":")
    layout = tmp / f"layout-{repository.replace('/', '-')}-{tag}-{os.urandom(4).hex()}"
    pushed = write_layout(layout, tag, unique=f"{reference} {os.urandom(8).hex()}")
    done = _copy(*_credentials(tmp, "dest", user), f"oci:{layout}:{tag}", f"docker://{_address(registry)}/{reference}")
    return done, pushed


def push_multiarch(registry: str, reference: str, tmp: Path) -> MultiArch:
    """Push a new two-platform image as `reference` (repository:tag) to `registry` (https://host:port)."""
    done, pushed = push_as("admin", registry, reference, tmp)
    assert done.returncode == 0, done.stderr
    return pushed


def pull_every_platform(registry: str, reference: str, tmp: Path, user: str = "admin") -> subprocess.CompletedProcess:
    """`skopeo copy --all` of `reference` (a tag, or repository@digest) into a new OCI layout as `user`:
    succeeds only when the index, every platform's manifest and every blob pull."""
    target = tmp / f"pulled-{os.urandom(4).hex()}"
    return _copy(*_credentials(tmp, "src", user), f"docker://{_address(registry)}/{reference}", f"oci:{target}:pulled")
