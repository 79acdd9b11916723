"""An offline registry 3 image: distribution 3.1.1 built from its released source with Debian's Go.

Debian packages no registry 3 (bookworm ships 2.8.2), and no image registry is reachable here. The source
tarball carries its Go modules vendored, so the build asks no module proxy: a Debian sid root with
golang-1.26-go (imported once as a builder image) compiles a static binary, which goes into an image with
the official registry:3 image's container contract (/bin/registry, /etc/distribution/config.yml,
/entrypoint.sh). The archive is saved beside the other offline images and rebuilt only when this recipe
or the source changes.
"""

import hashlib
import shutil
import tempfile
from pathlib import Path

from core.archives import archive_name

from .base import debootstrapped_image
from .local_docker import SandboxError
from .offline_images import RECIPES, hash_recipes
from .settings import IMAGE_DIR, LABEL, SOURCES_DIR

REGISTRY3_IMAGE = "registry-sandbox/registry:3.1.1"
SOURCE = "distribution-v3.1.1.tar.gz"
# The released tarball (tag v3.1.1, commit 9a8d98b6), checked before it is built.
SOURCE_SHA256 = "29fadf8db38f66b581f7826b99567bc1bbaca8bba964baeb527d47b4ee872213"
VERSION = "v3.1.1"

BUILDER_SUITE = "sid"  # the first suite with a Go new enough for distribution 3.1 (go.mod asks for 1.25)
BUILDER_PACKAGES = ["golang-1.26-go", "ca-certificates", "busybox-static"]
BUILDER_REPO = "registry-sandbox/go-builder"

# Run in the builder with the tarball at /src and the output at /out. GOROOT: Debian's trimmed go binary
# cannot find its root otherwise; GOFLAGS, GOPROXY and GOTOOLCHAIN keep every module on the vendored copy.
BUILD = f"""set -e
cd /tmp && tar -xzf /src/{SOURCE} && cd distribution-{VERSION[1:]}
export GOROOT=/usr/lib/go-1.26 PATH=/usr/lib/go-1.26/bin:$PATH GOFLAGS=-mod=vendor GOPROXY=off \
GOTOOLCHAIN=local CGO_ENABLED=0 HOME=/tmp
go build -trimpath -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version={VERSION}" \
-o /out/registry ./cmd/registry
cp /bin/busybox /etc/ssl/certs/ca-certificates.crt /out/
"""


def _recipe_hash() -> str:
    # Its own recipe, and the registry:2 stand-in's entrypoint and configuration it copies.
    return hash_recipes(hashlib.sha256(Path(__file__).read_bytes()), ("registry", "registry3")).hexdigest()


def source_tarball() -> Path:
    """distribution's released source, checked; a clear error when it is not where the setting says."""
    tarball = SOURCES_DIR / SOURCE
    if not tarball.is_file():
        raise SandboxError(
            f"{tarball} is missing: the registry 3 image is built from distribution's released source. Put"
            f" {SOURCE} (tag {VERSION}, sha256 {SOURCE_SHA256}) in {SOURCES_DIR}, or point $SANDBOX_SOURCES"
            " at the folder holding it")
    with tarball.open("rb") as source:
        found = hashlib.file_digest(source, "sha256").hexdigest()
    if found != SOURCE_SHA256:
        raise SandboxError(f"{tarball} has sha256 {found}, not the released {SOURCE_SHA256}")
    return tarball


def _builder(client) -> str:
    """The Go builder image, made once with debootstrap and imported."""
    tag = f"{BUILDER_REPO}:{hashlib.sha256(' '.join(BUILDER_PACKAGES).encode()).hexdigest()[:12]}"
    if not client.images.list(name=tag):
        debootstrapped_image(tag, BUILDER_SUITE, BUILDER_PACKAGES, [f"LABEL {LABEL}=builder"])
    return tag


def _stage(built: Path, context: Path):
    shutil.copytree(RECIPES / "registry3", context)
    rootfs = context / "rootfs"
    for name, dest, mode in (("registry", "bin/registry", 0o755), ("busybox", "bin/busybox", 0o755),
                             ("ca-certificates.crt", "etc/ssl/certs/ca-certificates.crt", 0o644)):
        (rootfs / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built / name, rootfs / dest)
        (rootfs / dest).chmod(mode)
    # The same entrypoint and default configuration as the registry:2 stand-in, at registry 3's path.
    shutil.copyfile(RECIPES / "registry/entrypoint.sh", rootfs / "entrypoint.sh")
    (rootfs / "entrypoint.sh").chmod(0o755)
    (rootfs / "etc/distribution").mkdir(parents=True)
    shutil.copyfile(RECIPES / "registry/config.yml", rootfs / "etc/distribution/config.yml")
    (rootfs / "var/lib/registry").mkdir(parents=True)
    (rootfs / "tmp").mkdir(mode=0o1777)
    (rootfs / "tmp").chmod(0o1777)


def build_registry3_archive(client, out_dir: Path = IMAGE_DIR) -> Path:
    """Build the registry 3 image and save it as out_dir/<archive_name>; skipped when up to date."""
    archive = out_dir / archive_name(REGISTRY3_IMAGE)
    stamp = out_dir / "registry3.sha256"
    wanted = _recipe_hash()
    if stamp.exists() and stamp.read_text() == wanted and archive.exists() and client.images.list(name=REGISTRY3_IMAGE):
        return archive
    tarball = source_tarball()
    builder = _builder(client)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sandbox-registry3-") as tmp:
        built = Path(tmp) / "built"
        built.mkdir()
        client.containers.run(builder, ["sh", "-c", BUILD], remove=True, network_mode="none",
                              volumes={str(tarball.parent): {"bind": "/src", "mode": "ro"},
                                       str(built): {"bind": "/out", "mode": "rw"}})
        context = Path(tmp) / "context"
        _stage(built, context)
        client.images.build(path=str(context), tag=REGISTRY3_IMAGE, labels={LABEL: "image"}, rm=True)
    with archive.open("wb") as out:
        for chunk in client.images.get(REGISTRY3_IMAGE).save(named=True):
            out.write(chunk)
    stamp.write_text(wanted)
    return archive
