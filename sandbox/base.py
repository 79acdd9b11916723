"""The hosts' base image: Debian with systemd and sshd, built offline with debootstrap and imported.

The image is tagged with a hash of this file, so it is rebuilt only when the recipe below changes.
"""

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .local_docker import SandboxError, apt_install
from .settings import DEBIAN_SUITE, LABEL

# What a minimal real Debian server has: an init, sshd, sudo, and the tools the deploy expects to find.
PACKAGES = ["systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "ca-certificates", "sudo"]

# Units that cannot work in a container and would leave systemd "degraded" instead of "running".
MASKED_UNITS = [
    "getty@tty1.service",
    "console-getty.service",
    "systemd-remount-fs.service",
    "systemd-firstboot.service",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
]

SSHD_CONFIG = """\
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
"""

IMAGE_REPO = "registry-sandbox/base"


def image_tag():
    recipe = Path(__file__).read_bytes()
    return f"{IMAGE_REPO}:{hashlib.sha256(recipe).hexdigest()[:12]}"


def debian_mirror(sources_dir=Path("/etc/apt")):
    """The Debian archive this machine's apt already uses (so no address is written down here)."""
    texts = [p.read_text() for p in sorted(sources_dir.glob("sources.list.d/*.sources"))]
    list_file = sources_dir / "sources.list"
    if list_file.exists():
        texts.append(list_file.read_text())
    for text in texts:
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.M):
            uri = match.group(1)
            if uri.rstrip("/").endswith("/debian"):
                return uri
    raise SandboxError("No Debian archive found in this machine's apt sources (/etc/apt)")


def _prepare_rootfs(root: Path):
    (root / "etc/ssh/sshd_config.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/ssh/sshd_config.d/sandbox.conf").write_text(SSHD_CONFIG)
    for unit in MASKED_UNITS:
        link = root / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    (root / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
    # debootstrap leaves the build machine's name behind; docker sets each host's own.
    for leftover in ("etc/hostname", "etc/machine-id"):
        (root / leftover).write_text("")
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True)


def debootstrapped_image(tag: str, suite: str, packages: list[str], changes: list[str], prepare=None):
    """Import a Debian `suite` root with `packages` (debootstrap, minbase) as image `tag`, each of
    `changes` a Dockerfile instruction for it; `prepare(root)` may change the root first."""
    if not shutil.which("debootstrap"):
        apt_install("debootstrap")
    with tempfile.TemporaryDirectory(prefix="sandbox-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", suite, str(root),
                        debian_mirror()], check=True, stdout=subprocess.DEVNULL)
        if prepare:
            prepare(root)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", *[f"--change={change}" for change in changes], "-", tag],
                       stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise SandboxError(f"tar of the debootstrap root for {tag} failed")


def ensure_base_image(client):
    """Return the base image's tag, building it when no image of this recipe exists."""
    tag = image_tag()
    if not client.images.list(name=tag):
        debootstrapped_image(tag, DEBIAN_SUITE, PACKAGES, [f"LABEL {LABEL}=base", "ENV container=docker",
                                                           'CMD ["/sbin/init"]'], prepare=_prepare_rootfs)
    return tag
