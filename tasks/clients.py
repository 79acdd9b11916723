"""Docker on the hosts that push and pull (the registry_clients group, and the registry hosts themselves)
trusts the inventory's registries and load balancers: their CA in /etc/docker/certs.d/<name:port>/ (read
on each connection, no engine restart), or for registries without TLS an insecure-registries entry; and
logs in when asked. It pulls Docker Hub's images through the inventory's Docker Hub mirrors (daemon.json
registry-mirrors, applied by a reload), showing each mirror the client certificate the deploy made for it."""

from pyinfra import host, inventory
from pyinfra.api import deploy

from core import topology
from core.data import auth_on, registry_name, tls_on
from core.host_files import registry_ca
from core.mirrors import mirrors
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
    # Each pull-through mirror: its CA, and where users are on, this host's client certificate, which the
    # mirror's door accepts in place of a password (the engine sends none to a registry-mirrors entry).
    # The CA and the certificate are read once per registry host, whatever the number of its mirrors.
    for registry in topology.registries(inventory):
        own = mirrors(registry.data)
        if not own:
            continue
        ca = registry_ca(registry.data)
        pair = (SecretStore(registry.data.registry_secrets_dir).client_certificate(host.name)
                if auth_on(registry.data) else None)
        for mirror in own:
            directory = f"/etc/docker/certs.d/{registry_name(registry.name, registry.data)}:{mirror.port}"
            if ca:
                trusted[f"{directory}/ca.crt"] = (ca, "644")
            if pair:
                trusted[f"{directory}/client.cert"] = (pair[0], "644")
                trusted[f"{directory}/client.key"] = (pair[1], "600")
    if trusted:
        files_in_place(name="Docker trusts each registry's CA", files=trusted)
    if logins:
        logged_in(name=f"Docker is logged in to each registry as {login}", user=login, passwords=logins)
    if topology.is_registry(host):  # a registry host's engine task set daemon.json
        return
    settings = {}
    plain_http = topology.plain_http_registries(inventory)
    if plain_http:
        settings["insecure-registries"] = plain_http
    hub_mirrors = topology.hub_mirror_urls(inventory)
    if hub_mirrors:
        settings["registry-mirrors"] = hub_mirrors
    if settings:
        daemon_json(name="Docker uses the inventory's mirrors and may reach its plain-HTTP registries (a reload)",
                    settings=settings)
