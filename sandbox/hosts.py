"""Create, list and remove the sandbox hosts: Debian system containers reached over SSH on 127.0.0.1."""

import hashlib
import json
import logging
import time

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from docker.errors import NotFound
from docker.types import Mount

from .base import ensure_base_image
from .engine_seed import seed
from .local_docker import SandboxError, one_file_tar
from .object_store import NAME as S3_NAME
from .object_store import s3_down
from .package_images import ensure_engine_image
from .settings import (
    HOST_PREFIX,
    KEY_FILE,
    LABEL,
    NETWORK,
    REGISTRY_PORT_BASE,
    SLOT,
    SLOT_LABEL,
    SSH_PORT_BASE,
    STATE_FILE,
    SYSTEM_CONTAINER,
    UI_PORT_BASE,
    UNCONFINED_PATHS,
)

# While a host boots, sshd refuses early connections; paramiko would print each one as an error.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


def host_name(index):
    return f"{HOST_PREFIX}{index}"


def host_ports(index):
    return {
        "ssh_port": SSH_PORT_BASE + index,
        "registry_port": REGISTRY_PORT_BASE + index,
        "ui_port": UI_PORT_BASE + index,
    }


def ensure_key():
    """The sandbox's own SSH key, generated once and kept under the ignored .sandbox directory."""
    KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    if not KEY_FILE.exists():
        key = Ed25519PrivateKey.generate()
        KEY_FILE.touch(mode=0o600)
        KEY_FILE.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
        )
    private = serialization.load_ssh_private_key(KEY_FILE.read_bytes(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode() + " registry-sandbox\n"


def ours(labels: dict) -> bool:
    """Made by this slot's sandbox (what slot 0 made before there were slots carries no slot label)."""
    return labels.get(SLOT_LABEL, "0") == str(SLOT)


def sandbox_containers(client):
    """This slot's hosts. Listed first and only ours looked at: another slot may remove its own meanwhile."""
    listed = client.api.containers(all=True, filters={"label": f"{LABEL}=host"})
    return [client.containers.get(c["Id"]) for c in listed if ours(c.get("Labels") or {})]


def _key_id(public_key):
    return hashlib.sha256(public_key.encode()).hexdigest()[:16]


def _create_host(client, image, index, public_key, store):
    """Host `index`, its engine's store (/var/lib/docker) on volume `store`."""
    name = host_name(index)
    ports = host_ports(index)
    host_config = client.api.create_host_config(
        port_bindings={
            22: ("127.0.0.1", ports["ssh_port"]),
            5000: ("127.0.0.1", ports["registry_port"]),
            5050: ("127.0.0.1", ports["ui_port"]),
        },
        mounts=[
            Mount("/sys/fs/cgroup", "/sys/fs/cgroup", type="bind", read_only=False),
            Mount("/var/lib/docker", store, type="volume"),
        ],
        **SYSTEM_CONTAINER,
    )
    host_config.update(UNCONFINED_PATHS)
    created = client.api.create_container(
        image,
        name=name,
        hostname=name,
        labels={LABEL: "host", SLOT_LABEL: str(SLOT), f"{LABEL}.index": str(index),
                f"{LABEL}.key": _key_id(public_key)},
        ports=[22, 5000, 5050],
        # systemd shuts down on SIGRTMIN+3 and ignores SIGTERM: `docker stop` would wait out its timeout.
        stop_signal="SIGRTMIN+3",
        host_config=host_config,
    )
    container = client.containers.get(created["Id"])
    network(client).connect(container)
    container.put_archive("/root/.ssh", one_file_tar("authorized_keys", public_key.encode(), 0o600))
    container.start()
    return container


def network(client):
    """The hosts' own network: internal (no route off this machine), with Docker's DNS for their names."""
    found = [n for n in client.networks.list(names=[NETWORK], filters={"label": LABEL}) if n.name == NETWORK]
    return found[0] if found else client.networks.create(NETWORK, internal=True,
                                                         labels={LABEL: "network", SLOT_LABEL: str(SLOT)})


def _volume(client, name):
    """A new, empty volume (one a removed host left behind is dropped first)."""
    try:
        client.volumes.get(name).remove(force=True)
    except NotFound:
        pass
    client.volumes.create(name, labels={LABEL: "volume", SLOT_LABEL: str(SLOT)})
    return name


def _ssh_ready(port):
    """What `systemctl is-system-running` says over SSH ("running" once fully booted); None while sshd
    does not yet accept our key."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            "127.0.0.1", port=port, username="root", key_filename=str(KEY_FILE),
            timeout=3, banner_timeout=3, auth_timeout=3, allow_agent=False, look_for_keys=False,
        )
        _, stdout, _ = client.exec_command("systemctl is-system-running")
        return stdout.read().decode().strip()
    except (OSError, paramiko.SSHException, EOFError):
        return None
    finally:
        client.close()


def wait_ready(hosts, timeout=90):
    pending = {h["name"]: h for h in hosts}
    last = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for name, host in list(pending.items()):
            last[name] = _ssh_ready(host["ssh_port"])
            if last[name] == "running":
                del pending[name]
        if pending:
            time.sleep(0.5)
    if pending:
        states = ", ".join(f"{n} (systemd: {last.get(n) or 'no SSH'})" for n in sorted(pending))
        raise SandboxError(f"Not ready after {timeout}s: {states}")


def write_state(hosts):
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps({"key": str(KEY_FILE), "hosts": hosts}, indent=2) + "\n")


def inventory_data(host: dict, state: dict) -> dict:
    """How pyinfra reaches a sandbox host and where this machine finds its registry and UI."""
    return {
        "ssh_hostname": "127.0.0.1",
        "ssh_port": host["ssh_port"],
        "ssh_user": "root",
        "ssh_key": state["key"],
        # Each sandbox host is new, with a new host key, on a reused port.
        "ssh_strict_host_key_checking": "off",
        "ssh_known_hosts_file": "/dev/null",
        # This machine reaches each host's ports on 127.0.0.1 (covered by the certificate too); the scheme
        # follows registry_tls.
        "registry_public_url": f"//127.0.0.1:{host['registry_port']}",
        "registry_ui_public_url": f"//127.0.0.1:{host['ui_port']}",
    }


def read_state():
    if not STATE_FILE.exists():
        return {"key": str(KEY_FILE), "hosts": []}
    return json.loads(STATE_FILE.read_text())


def up(client, count, engine=False, first=0):
    """Ensure hosts first..count-1 run and answer; keep running ones, create or start the rest (with the
    Docker engine the deploy would install already installed, and the images a deploy loads already loaded,
    if `engine`: sandbox/engine_seed.py).

    A host left by another checkout (its key is not ours) cannot be reached: it is made anew."""
    image = ensure_engine_image(client) if engine else ensure_base_image(client)
    public_key = ensure_key()
    existing = {}
    for container in sandbox_containers(client):
        if container.labels.get(f"{LABEL}.key") == _key_id(public_key):
            existing[container.name] = container
        else:
            container.remove(force=True, v=True)
    stores = {index: _volume(client, f"{host_name(index)}-docker") for index in range(first, count)
              if host_name(index) not in existing}
    if engine:
        seed(client, image, list(stores.values()))
    for index in range(first, count):
        container = existing.get(host_name(index))
        if container is None:
            _create_host(client, image, index, public_key, stores[index])
        elif container.status != "running":
            container.start()
    hosts = status(client)
    write_state(hosts)
    wait_ready(hosts)
    return hosts


def status(client):
    """Every sandbox host with its published ports, in index order."""
    indexes = sorted(int(c.labels[f"{LABEL}.index"]) for c in sandbox_containers(client))
    return [{"name": host_name(i), **host_ports(i)} for i in indexes]


def remove(client, names):
    """Remove the named sandbox hosts and their volumes; the others keep running."""
    removed = []
    for container in sandbox_containers(client):
        if container.name in names:
            container.remove(force=True, v=True)
            client.volumes.get(f"{container.name}-docker").remove(force=True)
            removed.append(container.name)
    write_state(status(client))
    return removed


def down(client):
    """Remove every container, volume and network this slot's sandbox made, and nothing else."""
    removed = []
    for container in sandbox_containers(client):
        container.remove(force=True, v=True)
        removed.append(container.name)
    if s3_down(client):
        removed.append(S3_NAME)
    for volume in client.volumes.list(filters={"label": f"{LABEL}=volume"}):
        if ours(volume.attrs.get("Labels") or {}):
            volume.remove(force=True)
    for network in client.networks.list(filters={"label": f"{LABEL}=network"}):
        if ours(network.attrs.get("Labels") or {}):
            network.remove()
    write_state([])
    return removed

