"""The access proxy in front of each registry while users are on: HAProxy in a container on the host's
network, serving TLS on registry_port, checking each user's password against the same bcrypt hashes as
htpasswd and each request against registry_access, and passing what is allowed to the registry on
127.0.0.1:registry_backend_port. A changed rule or user reloads it gracefully (transfers in flight finish
on the old process); the registry is never restarted for it."""

from __future__ import annotations

import hashlib
import shlex

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.operations import server
from pyinfra.operations.util import any_changed

from core import topology
from core.data import proxied
from core.haproxy_files import CLIENT_CA, PROXY_CONFIG, PROXY_IMAGE_DIR, PROXY_LOADED, PROXY_PEM, proxy_config
from core.host_files import server_material
from core.host_paths import PROXY_RUNTIME_DIR, proxy_runtime_volume
from core.mirrors import mirrors
from core.secrets import SecretStore
from ops.container import ContainerSpec, Mount, absent, container
from ops.files import FileStates, checked_file, files_in_place, in_place


def proxy_spec(data) -> ContainerSpec:
    # Root only to read the root-only files at start; HAProxy then runs as its own user (`global user`).
    return ContainerSpec(name=data.registry_auth_proxy_container, image=data.registry_auth_proxy_image,
                         network="host", user="0",
                         mounts=(Mount("bind", data.registry_config_dir, PROXY_IMAGE_DIR, True),
                                 # Its runtime API's socket, for the chores (a volume: root only on the host).
                                 Mount("volume", proxy_runtime_volume(data), PROXY_RUNTIME_DIR, False)),
                         # Docker stops it with the image's STOPSIGNAL (SIGUSR1: transfers in flight finish).
                         stop_timeout=data.registry_drain_timeout + 5)


def check_command(data) -> str:
    """How a new configuration is checked before it replaces the live one: HAProxy itself, from its image."""
    return (f"docker run --rm --network none --user 0 --entrypoint haproxy --mount"
            f" type=bind,src={shlex.quote(data.registry_config_dir)},dst={PROXY_IMAGE_DIR},readonly"
            f" {shlex.quote(data.registry_auth_proxy_image)} -c -q -f {PROXY_IMAGE_DIR}/$(basename {{}})")


# How long a reloaded proxy may take to say it loaded the new files.
RELOAD_SECONDS = 30


def reload_command(name: str) -> str:
    """Reload the proxy container `name` (HAProxy's master-worker: SIGUSR2 starts a worker on the new files
    while the old one finishes its transfers), and wait until its master says the new worker is loaded: the
    signal returns at once, and until then new connections still meet the old rules (a user just added is
    refused). A configuration it refuses fails the host, naming the proxy's log."""
    quoted = shlex.quote(name)
    said = f'docker logs --since "$since" {quoted} 2>&1'
    return (f"since=$(date +%s.%N) && docker kill --signal USR2 {quoted} >/dev/null &&"
            f" for i in $(seq {RELOAD_SECONDS * 4}); do {said} | grep -q 'Loading success' && exit 0;"
            f" {said} | grep -q 'Loading failure' && break; sleep 0.25; done;"
            f" echo 'the access proxy did not load its new rules; see: docker logs {name}' >&2; exit 1")


@deploy("Access proxy retired")
def proxy_retired():
    """With users off, after the registry: the registry's replacement removed the proxy once it served
    registry_port itself; this removes one left by a run interrupted after that."""
    if not proxied(host.data):
        absent(name="No access proxy runs (registry_auth is none)",
               container_name=host.data.registry_auth_proxy_container)


@deploy("Access proxy")
def access_proxy():
    """With users on, after the registry: the proxy takes registry_port once the registry has left it."""
    data = host.data
    if not proxied(data):
        return
    certificate, key, _ = server_material(host.name, data)
    rules = proxy_config(host.name, data, topology.mirror_clients(inventory) if mirrors(data) else ()).encode()
    # The mirrors check client certificates against the deploy's own CA, whatever signed the server's.
    client_ca = SecretStore(data.registry_secrets_dir).ca_certificate() if mirrors(data) else b""
    pem = files_in_place(name="The proxy's certificate and key are in place", files={
        f"{data.registry_config_dir}/{PROXY_PEM}": (certificate + key, "600"),
        **({f"{data.registry_config_dir}/{CLIENT_CA}": (client_ca, "600")} if client_ca else {})})
    config = checked_file(name="The access rules are checked and in place",
                          path=f"{data.registry_config_dir}/{PROXY_CONFIG}", content=rules, mode="600",
                          check=check_command(data))
    running = container(name="Access proxy container is running", spec=proxy_spec(data))
    record = f"{data.registry_config_dir}/{PROXY_LOADED}"
    loaded = f"{hashlib.sha1(rules).hexdigest()} {hashlib.sha1(certificate + key + client_ca).hexdigest()}\n".encode()
    stale = not in_place((host.get_fact(FileStates, paths=[record]) or {}).get(record), loaded, "600")
    # Files changed this run, or changed by a run that never reached the reload (or edited by hand).
    changed = any_changed(pem, config)
    server.shell(name="The access proxy reloads its rules and certificate (transfers in flight finish)",
                 commands=[reload_command(data.registry_auth_proxy_container)],
                 _if=[running.did_not_change, lambda: stale or changed()])
    # Only once the proxy runs on these files: a failed reload or start stops the host before this.
    files_in_place(name="What the access proxy loaded is recorded", files={record: (loaded, "600")})
