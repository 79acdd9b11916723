"""The access proxy in front of each registry while users are on: HAProxy in a container on the host's
network, serving TLS on registry_port, checking each user's password against the same bcrypt hashes as
htpasswd and each request against registry_access, and passing what is allowed to the registry on
127.0.0.1:registry_backend_port. A changed rule or user reloads it gracefully (transfers in flight finish
on the old process); the registry is never restarted for it."""

from __future__ import annotations

import hashlib
import shlex

import jinja2
from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import server
from pyinfra.operations.util import any_changed

from core import ROOT, access
from core.data import proxied
from core.host_files import server_material
from core.secrets import SecretStore
from ops.container import ContainerSpec, Mount, absent, container
from ops.files import FileStates, checked_file, files_in_place, in_place

# Where the proxy's image reads its configuration (the official haproxy image's path): the host's
# configuration directory is mounted there, read-only, so a file replaced on the host is seen on reload.
IMAGE_DIR = "/usr/local/etc/haproxy"
CONFIG, PEM = "haproxy.cfg", "auth-proxy.pem"
# What the running proxy loaded (the SHA-1s of its configuration and PEM), written once it has: a run
# interrupted after a file changed and before the reload leaves it stale, and the next run reloads.
LOADED = "auth-proxy.loaded"
# Wrong passwords an address may send in a minute before it is refused without a check.
MAX_FAILURES = 30


def proxy_config(name: str, data) -> str:
    """files/auth-proxy.cfg.j2 rendered for a host."""
    store = SecretStore(data.registry_secrets_dir)
    htpasswd = store.htpasswd(data.registry_users).decode()
    users = [tuple(line.split(":", 1)) for line in htpasswd.splitlines() if line]
    rules = [{**rule, "regex": access.glob_regex(rule["repositories"])} for rule in access.rules(data)]
    template = jinja2.Template((ROOT / "files/auth-proxy.cfg.j2").read_text(), keep_trailing_newline=True,
                               trim_blocks=True, lstrip_blocks=True)
    return template.render(users=users, rules=rules, methods=access.METHODS, catalog_users=access.catalog_users(data),
                           cache_seconds=data.auth_cache_seconds, cache_key=store.auth_cache_key(),
                           max_failures=MAX_FAILURES, bind_address=data.registry_bind_address or "",
                           port=data.registry_port, pem=f"{IMAGE_DIR}/{PEM}", backend_port=data.registry_backend_port)


def proxy_spec(data) -> ContainerSpec:
    # Root only to read the root-only files at start; HAProxy then runs as its own user (`global user`).
    return ContainerSpec(name=data.auth_proxy_container, image=data.auth_proxy_image, network="host", user="0",
                         mounts=(Mount("bind", data.registry_config_dir, IMAGE_DIR, True),),
                         # Docker stops it with the image's STOPSIGNAL (SIGUSR1: transfers in flight finish).
                         stop_timeout=data.registry_drain_timeout + 5)


def check_command(data) -> str:
    """How a new configuration is checked before it replaces the live one: HAProxy itself, from its image."""
    return (f"docker run --rm --network none --user 0 --entrypoint haproxy --mount"
            f" type=bind,src={shlex.quote(data.registry_config_dir)},dst={IMAGE_DIR},readonly"
            f" {shlex.quote(data.auth_proxy_image)} -c -q -f {IMAGE_DIR}/$(basename {{}})")


@deploy("Access proxy retired")
def proxy_retired():
    """With users off, after the registry: the registry's replacement removed the proxy once it served
    registry_port itself; this removes one left by a run interrupted after that."""
    if not proxied(host.data):
        absent(name="No access proxy runs (registry_auth is none)", container_name=host.data.auth_proxy_container)


@deploy("Access proxy")
def access_proxy():
    """With users on, after the registry: the proxy takes registry_port once the registry has left it."""
    data = host.data
    if not proxied(data):
        return
    certificate, key, _ = server_material(host.name, data)
    rules = proxy_config(host.name, data).encode()
    pem = files_in_place(name="The proxy's certificate and key are in place", files={
        f"{data.registry_config_dir}/{PEM}": (certificate + key, "600")})
    config = checked_file(name="The access rules are checked and in place", path=f"{data.registry_config_dir}/{CONFIG}",
                          content=rules, mode="600", check=check_command(data))
    running = container(name="Access proxy container is running", spec=proxy_spec(data))
    record = f"{data.registry_config_dir}/{LOADED}"
    loaded = f"{hashlib.sha1(rules).hexdigest()} {hashlib.sha1(certificate + key).hexdigest()}\n".encode()
    stale = not in_place((host.get_fact(FileStates, paths=[record]) or {}).get(record), loaded, "600")
    # Files changed this run, or changed by a run that never reached the reload (or edited by hand).
    changed = any_changed(pem, config)
    server.shell(name="The access proxy reloads its rules and certificate (transfers in flight finish)",
                 commands=[shlex.join(["docker", "kill", "--signal", "USR2", data.auth_proxy_container])],
                 _if=[running.did_not_change, lambda: stale or changed()])
    # Only once the proxy runs on these files: a failed reload or start stops the host before this.
    files_in_place(name="What the access proxy loaded is recorded", files={record: (loaded, "600")})
