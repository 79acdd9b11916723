"""Docker on the hosts that push and pull (the registry_clients group, and the registry hosts themselves)
trusts the inventory's registries and load balancers: their CA in /etc/docker/certs.d/<name:port>/ (read
on each connection, no engine restart), or for registries without TLS an insecure-registries entry; and
logs in when asked."""

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.operations import systemd

from core import topology
from core.data import auth_on, registry_name, tls_on
from core.host_files import registry_ca
from core.secrets import SecretStore
from ops.clients import logged_in
from ops.daemon import daemon_json
from ops.files import files_in_place


@deploy("Registry clients")
def registry_clients():
    data = host.data
    login = data.registry_client_login if topology.is_client(host) else None
    trusted, logins = {}, {}
    # Each replica, and each load balancer in front of them (by its name, on registry_lb_port).
    for registry, port in topology.endpoints(inventory):
        # A registry host reaches its own registry as localhost too (`docker push localhost:5000/...`).
        addresses = [f"{registry_name(registry.name, registry.data)}:{port}"] + (
            [f"localhost:{port}"] if registry.name == host.name else [])
        ca = registry_ca(registry.data) if tls_on(registry.data) else None
        for address in addresses:
            if ca:
                trusted[f"/etc/docker/certs.d/{address}/ca.crt"] = (ca, "644")
            if login and auth_on(registry.data):
                logins[address] = SecretStore(registry.data.registry_secrets_dir).password(login)
    if trusted:
        files_in_place(name="Docker trusts each registry's CA", files=trusted)
    if logins:
        logged_in(name=f"Docker is logged in to each registry as {login}", user=login, passwords=logins)
    plain_http = topology.plain_http_registries(inventory)
    if plain_http and not topology.is_registry(host):  # a registry host's engine task does it
        config = daemon_json(name="Docker may reach the plain-HTTP registries",
                             settings={"insecure-registries": plain_http})
        systemd.service(name="Docker restarts for its new configuration", service="docker.service",
                        running=None, restarted=True, _if=config.did_change)
