"""The sandbox's S3 object store: a single-node Ceph (mon, mgr, one BlueStore OSD, radosgw) in a container of
its own on the hosts' network, from Debian's packages, which are installed once into an image of their own.

Its endpoint, bucket and access key are written to .sandbox/s3.json; the keys are made once, in
.sandbox/secrets/s3-access-key and s3-secret-key (root only); all git-ignored. A slot other than 0 keeps
these in .sandbox/slot-N instead.
"""

import json
import secrets
from pathlib import Path

from docker.errors import NotFound
from docker.types import Mount

from .local_docker import SandboxError, one_file_tar
from .package_images import ensure_image_with
from .settings import LABEL, NAMESPACE, SECRETS_DIR, SLOT, SLOT_DIR, SLOT_LABEL

NAME = f"{NAMESPACE}-s3"
PORT = 7480
BUCKET = "registry"
# radosgw takes any region in signatures; us-east-1 asks no location constraint when a bucket is made.
REGION = "us-east-1"
STATE = SLOT_DIR / "s3.json"
ACCESS_KEY_FILE = SECRETS_DIR / "s3-access-key"
SECRET_KEY_FILE = SECRETS_DIR / "s3-secret-key"
PACKAGES = ["ceph-mon", "ceph-mgr", "ceph-osd", "radosgw", "s3cmd", "curl", "procps"]
SCRIPT = Path(__file__).with_name("ceph-up.sh")
# Ceph's state, kept while the container is: the OSD's block file needs a real filesystem, not overlayfs.
VOLUMES = {"/var/lib/ceph": f"{NAME}-data", "/etc/ceph": f"{NAME}-etc"}


def ensure_ceph_image(client) -> str:
    """The base image with Ceph's packages, built when no image of this recipe exists (about 600 MB)."""
    return ensure_image_with(client, "registry-sandbox/ceph", PACKAGES,
                             [f"LABEL {LABEL}=ceph", 'CMD ["sleep", "infinity"]'])


def _credentials() -> tuple[str, str]:
    """The S3 user's keys, made once and kept beside the sandbox's other secrets."""
    if not SECRET_KEY_FILE.exists():
        SECRETS_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
        ACCESS_KEY_FILE.write_text("SANDBOX" + secrets.token_hex(7).upper() + "\n")
        SECRET_KEY_FILE.touch(mode=0o600)
        SECRET_KEY_FILE.write_text(secrets.token_urlsafe(30) + "\n")
    return ACCESS_KEY_FILE.read_text().strip(), SECRET_KEY_FILE.read_text().strip()


def _container(client, network):
    try:
        return client.containers.get(NAME)
    except NotFound:
        pass
    for volume in VOLUMES.values():
        try:
            client.volumes.get(volume).remove(force=True)
        except NotFound:
            pass
        client.volumes.create(volume, labels={LABEL: "volume", SLOT_LABEL: str(SLOT)})
    return client.containers.create(
        # An init reaps the daemons: a killed radosgw must not linger as a zombie that looks alive.
        ensure_ceph_image(client), name=NAME, hostname="s3", labels={LABEL: "s3", SLOT_LABEL: str(SLOT)},
        network=network.name, init=True,
        mounts=[Mount(target, volume, type="volume") for target, volume in VOLUMES.items()],
    )


def s3_up(client, network) -> dict:
    """Make or start the object store, its user and bucket; return what clients need (no secret)."""
    access_key, secret_key = _credentials()
    container = _container(client, network)
    if container.status != "running":
        container.start()
    container.put_archive("/usr/local/sbin", one_file_tar("ceph-up.sh", SCRIPT.read_bytes(), 0o755))
    code, output = container.exec_run(["/usr/local/sbin/ceph-up.sh", access_key, secret_key, BUCKET])
    if code != 0:
        raise SandboxError(f"the object store did not come up:\n{output.decode(errors='replace')[-3000:]}")
    container.reload()
    address = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
    store = {"name": NAME, "endpoint": f"http://{address}:{PORT}", "bucket": BUCKET, "region": REGION,
             "access_key": access_key}
    STATE.write_text(json.dumps(store, indent=2) + "\n")
    return store


def s3_state() -> dict | None:
    return json.loads(STATE.read_text()) if STATE.exists() else None


def s3_down(client) -> bool:
    """Remove the object store and its volumes (the keys stay, for the next one)."""
    STATE.unlink(missing_ok=True)
    try:
        client.containers.get(NAME).remove(force=True, v=True)
    except NotFound:
        return False
    for volume in VOLUMES.values():
        try:
            client.volumes.get(volume).remove(force=True)
        except NotFound:
            pass
    return True
