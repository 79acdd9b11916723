"""Offline images for registry:2, haproxy, the Joxit UI and a hello image, built from Debian packages.

No image registry is reachable here, so each image is assembled FROM scratch out of files unpacked from
Debian's packages, laid out with the real image's container contract, and saved as one `.tar` per image
in IMAGE_DIR, named as the deploy expects (see ops/images.py: archive_name). The UI is the real one: the
released docker-registry-ui 2.6.0 (its page, nginx server and start script, read from SOURCES_DIR) on
Debian's nginx.
"""

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from core.archives import archive_name

from .local_docker import SandboxError, apt_update
from .settings import IMAGE_DIR, LABEL, SOURCES_DIR

RECIPES = Path(__file__).resolve().parent / "image_recipes"

REGISTRY_IMAGE = "registry-sandbox/registry:2.8.2"
UI_IMAGE = "registry-sandbox/docker-registry-ui:2.6.0"
HAPROXY_IMAGE = "registry-sandbox/haproxy:2.6"
HELLO_IMAGE = "registry-sandbox/hello:1"
# Each image and its recipe folder (registry3 is built from source by sandbox/registry3.py).
IMAGES = {REGISTRY_IMAGE: "registry", UI_IMAGE: "ui", HAPROXY_IMAGE: "haproxy", HELLO_IMAGE: "hello"}

PACKAGES = [
    "docker-registry", "busybox-static", "nginx", "haproxy",
    "libc6", "libcrypt1", "libpcre2-8-0", "libssl3", "zlib1g",
    "liblua5.3-0", "libsystemd0", "libopentracing-c-wrapper0", "libopentracing1", "libcap2", "libgcrypt20",
    "liblzma5", "libzstd1", "liblz4-1", "libstdc++6", "libgcc-s1", "libgpg-error0",
]
GLIBC = ["libc.so.6"]
NGINX_LIBS = GLIBC + ["libcrypt.so.1", "libpcre2-8.so.0", "libssl.so.3", "libcrypto.so.3", "libz.so.1"]
HAPROXY_LIBS = GLIBC + [
    "libcrypt.so.1", "libssl.so.3", "libcrypto.so.3", "liblua5.3.so.0", "libsystemd.so.0", "libpcre2-8.so.0",
    "libopentracing-c-wrapper.so.0", "libm.so.6", "libcap.so.2", "libgcrypt.so.20", "liblzma.so.5",
    "libzstd.so.1", "liblz4.so.1", "libopentracing.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libgpg-error.so.0"]

# The UI's released files: what the release's Dockerfile copies into nginx:alpine-slim.
UI_SOURCE = "docker-registry-ui-2.6.0.tar.gz"
UI_SOURCE_SHA256 = "7d4f7c5470227b56fcc14b87f032710ecb074bdd8c0800512215c72a9500cc0e"
UI_RELEASE_FILES = {"dist": "usr/share/nginx/html", "favicon.ico": "usr/share/nginx/html/favicon.ico",
                    "nginx/default.conf": "etc/nginx/conf.d/default.conf",
                    "bin/90-docker-registry-ui.sh": "docker-entrypoint.d/90-docker-registry-ui.sh"}

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
# The official haproxy image's user.
HAPROXY_USER = "haproxy:x:99:99:haproxy:/var/lib/haproxy:/bin/false\n"


def hash_recipes(digest, recipes):
    """`digest` updated with every file (path and content) of the named recipe folders."""
    for recipe in sorted(recipes):
        for path in sorted((RECIPES / recipe).rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(RECIPES).as_posix().encode() + path.read_bytes())
    return digest


def recipe_hash():
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(" ".join(PACKAGES).encode() + UI_SOURCE_SHA256.encode())
    return hash_recipes(digest, IMAGES.values()).hexdigest()


def _ui_release(workdir: Path) -> Path:
    """The UI's release unpacked into workdir, after its sha256 is checked against the released one."""
    tarball = SOURCES_DIR / UI_SOURCE
    if not tarball.is_file():
        raise SandboxError(f"the UI image is built from its released files: put {UI_SOURCE} (sha256"
                           f" {UI_SOURCE_SHA256}) in {SOURCES_DIR}, or point $SANDBOX_SOURCES at its folder")
    with tarball.open("rb") as source:
        found = hashlib.file_digest(source, "sha256").hexdigest()
    if found != UI_SOURCE_SHA256:
        raise SandboxError(f"{tarball} has sha256 {found}, not the released {UI_SOURCE_SHA256}")
    with tarfile.open(tarball) as archive:
        archive.extractall(workdir / "ui-release", filter="data")
    [release] = (workdir / "ui-release").iterdir()
    return release


def _unpack_packages(workdir: Path) -> Path:
    debs, root = workdir / "debs", workdir / "root"
    debs.mkdir()
    apt_update()
    subprocess.run(["apt-get", "download", "-q", *PACKAGES], cwd=debs, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for deb in debs.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def _find(root: Path, name: str) -> Path:
    for candidate in sorted(root.rglob(name)):
        if candidate.is_symlink() and Path(candidate.readlink()).is_absolute():
            continue
        return candidate.resolve()
    raise FileNotFoundError(f"{name} is in none of the unpacked packages {PACKAGES}")


def _copy(src: Path, dest: Path, mode=None):
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    shutil.copymode(src, dest)
    if mode is not None:
        dest.chmod(mode)


def _with_libs(packages: Path, rootfs: Path, libs):
    for lib in libs:
        _copy(_find(packages, lib), rootfs / "lib/x86_64-linux-gnu" / lib)
    _copy(_find(packages, "ld-linux-x86-64.so.2"), rootfs / "lib64/ld-linux-x86-64.so.2")


def _stage(packages: Path, context: Path, recipe: str):
    shutil.copytree(RECIPES / recipe, context)
    rootfs = context / "rootfs"
    _copy(packages / "bin/busybox", rootfs / "bin/busybox")
    (rootfs / "tmp").mkdir(mode=0o1777)
    (rootfs / "tmp").chmod(0o1777)
    if recipe == "registry":
        _with_libs(packages, rootfs, GLIBC)
        _copy(packages / "usr/bin/docker-registry", rootfs / "bin/registry")
        _copy(context / "entrypoint.sh", rootfs / "entrypoint.sh", 0o755)
        _copy(context / "config.yml", rootfs / "etc/docker/registry/config.yml")
        (rootfs / "var/lib/registry").mkdir(parents=True)
    elif recipe == "ui":
        _with_libs(packages, rootfs, NGINX_LIBS)
        _copy(packages / "usr/sbin/nginx", rootfs / "usr/sbin/nginx")
        _copy(context / "docker-entrypoint.sh", rootfs / "docker-entrypoint.sh", 0o755)
        _copy(context / "printenv", rootfs / "usr/bin/printenv", 0o755)
        _copy(context / "nginx.conf", rootfs / "etc/nginx/nginx.conf")
        _copy(context / "mime.types", rootfs / "etc/nginx/mime.types")
        release = _ui_release(context.parent)
        for source, target in UI_RELEASE_FILES.items():
            if (release / source).is_dir():
                shutil.copytree(release / source, rootfs / target)
            else:
                _copy(release / source, rootfs / target)
        (rootfs / "docker-entrypoint.d/90-docker-registry-ui.sh").chmod(0o755)
        # nginx:alpine's error page, which the release's default.conf serves for 5xx (keeping their status).
        _copy(context / "50x.html", rootfs / "usr/share/nginx/html/50x.html")
        for directory in ("var/cache/nginx", "var/log/nginx", "run"):
            (rootfs / directory).mkdir(parents=True)
        (rootfs / "etc/passwd").write_text(PASSWD + "nginx:x:101:101:nginx:/nonexistent:/bin/false\n")
        (rootfs / "etc/group").write_text(GROUP + "nginx:x:101:\n")
    elif recipe == "haproxy":
        _with_libs(packages, rootfs, HAPROXY_LIBS)
        _copy(packages / "usr/sbin/haproxy", rootfs / "usr/sbin/haproxy")
        _copy(context / "docker-entrypoint.sh", rootfs / "usr/local/bin/docker-entrypoint.sh", 0o755)
        (rootfs / "usr/local/etc/haproxy").mkdir(parents=True)
        (rootfs / "var/lib/haproxy").mkdir(parents=True)
        (rootfs / "etc").mkdir()
        (rootfs / "etc/passwd").write_text(PASSWD + HAPROXY_USER)
        (rootfs / "etc/group").write_text(GROUP + "haproxy:x:99:\n")
    else:
        _copy(context / "hello.txt", rootfs / "hello.txt")


def build_archives(client, out_dir: Path = IMAGE_DIR):
    """Build the images and save each as out_dir/<archive_name>; skipped when up to date."""
    archives = [out_dir / archive_name(image) for image in IMAGES]
    stamp = out_dir / "recipe.sha256"
    wanted = recipe_hash()
    if (
        stamp.exists() and stamp.read_text() == wanted
        and all(a.exists() for a in archives)
        and all(client.images.list(name=image) for image in IMAGES)
    ):
        return archives
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sandbox-images-") as tmp:
        packages = _unpack_packages(Path(tmp))
        for image, recipe in IMAGES.items():
            context = Path(tmp) / recipe
            _stage(packages, context, recipe)
            client.images.build(path=str(context), tag=image, labels={LABEL: "image"}, rm=True)
            with (out_dir / archive_name(image)).open("wb") as archive:
                for chunk in client.images.get(image).save(named=True):
                    archive.write(chunk)
    stamp.write_text(wanted)
    return archives
