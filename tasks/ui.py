"""The docker-registry-ui (Joxit) container, proxying to the registry over the Docker bridge gateway (or,
with a load balancer in the inventory, to the load balancer), and with TLS on, serving HTTPS itself with
the registry's certificate."""

from urllib.parse import urlsplit

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError

from core import topology
from core.data import auth_on, image_tag, public_urls, registry_name, scheme, tls_on
from core.host_files import (
    UI_FILES,
    UI_TLS_CONF,
    UI_TLS_DIR,
    UPSTREAM_TLS_CONF,
    UPSTREAM_TLS_FILE,
    config_files,
    files_hash,
    private_ca,
    upstream_tls,
)
from ops.container import GATEWAY_PLACEHOLDER, ContainerSpec, Mount, absent, container
from ops.files import files_in_place
from ops.platform import HostAddress

# Carries the hash of the files the UI reads, so a new certificate recreates it.
FILES_LABEL = "io.registry-deploy.files-sha256"
def ui_spec(name: str, data, upstream: str | None = None, upstream_conf: bytes = b"",
            pull_from: str | None = None) -> ContainerSpec:
    """The UI container; `upstream`: the registry it proxies to, by default the host's own, which containers
    reach through the bridge gateway, read from the host when the operation runs (never a hard-coded
    172.17.0.1); `upstream_conf`: upstream_tls's settings, with TLS on; `pull_from`: the registry's address
    (host:port) in the `docker pull` lines the UI offers to copy, by default the host's public one."""
    upstream = upstream or f"{scheme(data)}://{GATEWAY_PLACEHOLDER}:{data.registry_port}"
    env = {"REGISTRY_TITLE": data.registry_ui_title, "DELETE_IMAGES": str(data.registry_ui_delete_images).lower(),
           # The UI would otherwise call out to the internet weekly; registries are often air-gapped.
           "ENABLE_VERSION_NOTIFICATION": "false"}
    if image_tag(data.registry_ui_image) == "static":
        env["REGISTRY_URL"] = upstream  # the 2019 `static` tag proxied to REGISTRY_URL
    else:
        # Without it the UI offers `docker pull <the UI's own host:port>/...`, which no client can pull.
        env.update(NGINX_PROXY_PASS_URL=upstream, SINGLE_REGISTRY="true",
                   PULL_URL=pull_from or urlsplit(public_urls(name, data)[0]).netloc)
    if auth_on(data):
        env["REGISTRY_SECURED"] = "true"  # the browser asks for the registry's users; nginx passes them on
    mounts, labels = (), {}
    if tls_on(data):
        source = data.registry_config_dir
        mounts = (Mount("bind", f"{source}/registry.crt", f"{UI_TLS_DIR}/registry.crt", True),
                  Mount("bind", f"{source}/registry.key", f"{UI_TLS_DIR}/registry.key", True),
                  Mount("bind", f"{source}/ui-tls.conf", UI_TLS_CONF, True),
                  Mount("bind", f"{source}/{UPSTREAM_TLS_FILE}", UPSTREAM_TLS_CONF, True))
        if private_ca(data):
            mounts += (Mount("bind", f"{source}/ca.crt", f"{UI_TLS_DIR}/ca.crt", True),)
        files = {**config_files(name, data), UPSTREAM_TLS_FILE: upstream_conf}
        labels = {FILES_LABEL: files_hash(files, (*UI_FILES, UPSTREAM_TLS_FILE))}
    return ContainerSpec(name=data.registry_ui_container, image=data.registry_ui_image, env=env,
                         ports={443 if tls_on(data) else 80: data.registry_ui_port}, mounts=mounts, labels=labels)


def load_balancer_upstream(data) -> tuple[str, str, str] | None:
    """With a load balancer in the inventory, (its URL by its address as this host resolves it, the name its
    certificate covers, the host:port clients pull from): a container may not resolve the hosts' names;
    else None."""
    balancer = topology.front_door(inventory)
    if not balancer:
        return None
    name = registry_name(balancer.name, balancer.data)
    public = balancer.data.registry_public_url
    pull_from = urlsplit(public).netloc if public else f"{name}:{balancer.data.registry_lb_port}"
    address = host.get_fact(HostAddress, hostname=name)
    if not address:
        raise DeployError(f"{host.name}: the load balancer's name {name} does not resolve here, so the UI cannot"
                          " reach the registry through it (nothing was changed)")
    return f"{scheme(data)}://{address}:{balancer.data.registry_lb_port}", name, pull_from


@deploy("Registry UI")
def ui():
    data = host.data
    if data.registry_ui_enabled:
        balancer = load_balancer_upstream(data)
        upstream, upstream_name, pull_from = balancer or (None, registry_name(host.name, data), None)
        upstream_conf = upstream_tls(data, upstream_name) if tls_on(data) else b""
        if tls_on(data):
            files_in_place(name="The UI checks the certificate of the registry it forwards to",
                           files={f"{data.registry_config_dir}/{UPSTREAM_TLS_FILE}": (upstream_conf, "600")})
        container(name="Registry UI container is running",
                  spec=ui_spec(host.name, data, upstream, upstream_conf, pull_from))
    else:
        absent(name="Registry UI container is absent", container_name=data.registry_ui_container)
