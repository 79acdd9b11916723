"""The docker-registry-ui (Joxit) container, proxying to the registry over the Docker bridge gateway (or,
with a load balancer in the inventory, to the load balancer), and with TLS on, serving HTTPS itself with
the registry's certificate."""

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError

from ops.container import GATEWAY_PLACEHOLDER, ContainerSpec, Mount, absent, container
from ops.data import auth_on, image_tag, registry_name, scheme, tls_on
from ops.facts import HostAddress

from .registry_files import UI_FILES, UI_TLS_CONF, UI_TLS_DIR, config_files, files_hash

# Carries the hash of the files the UI reads, so a new certificate recreates it.
FILES_LABEL = "io.registry-deploy.files-sha256"


def ui_spec(name: str, data, upstream: str | None = None) -> ContainerSpec:
    """The UI container; `upstream`: the registry it proxies to, by default the host's own, which containers
    reach through the bridge gateway, read from the host when the operation runs (never a hard-coded
    172.17.0.1)."""
    upstream = upstream or f"{scheme(data)}://{GATEWAY_PLACEHOLDER}:{data.registry_port}"
    env = {"REGISTRY_TITLE": data.ui_title, "DELETE_IMAGES": str(data.ui_delete_images).lower(),
           # The UI would otherwise call out to the internet weekly; registries are often air-gapped.
           "ENABLE_VERSION_NOTIFICATION": "false"}
    if image_tag(data.ui_image) == "static":
        env["REGISTRY_URL"] = upstream  # the 2019 `static` tag proxied to REGISTRY_URL
    else:
        env.update(NGINX_PROXY_PASS_URL=upstream, SINGLE_REGISTRY="true")
    if auth_on(data):
        env["REGISTRY_SECURED"] = "true"  # the browser asks for the registry's users; nginx passes them on
    mounts, labels = (), {}
    if tls_on(data):
        source = data.registry_config_dir
        mounts = (Mount("bind", f"{source}/registry.crt", f"{UI_TLS_DIR}/registry.crt", True),
                  Mount("bind", f"{source}/registry.key", f"{UI_TLS_DIR}/registry.key", True),
                  Mount("bind", f"{source}/ui-tls.conf", UI_TLS_CONF, True))
        labels = {FILES_LABEL: files_hash(config_files(name, data), UI_FILES)}
    return ContainerSpec(name=data.ui_container, image=data.ui_image, env=env,
                         ports={443 if tls_on(data) else 80: data.ui_port}, mounts=mounts, labels=labels)


def load_balancer_upstream(data) -> str | None:
    """With a load balancer in the inventory, its URL by its address as this host resolves it (the UI's
    nginx checks no certificate, and a container may not resolve the hosts' names); else None."""
    balancers = list(inventory.get_group("registry_lb", []))
    if not balancers:
        return None
    name = registry_name(balancers[0].name, balancers[0].data)
    address = host.get_fact(HostAddress, hostname=name)
    if not address:
        raise DeployError(f"{host.name}: the load balancer's name {name} does not resolve here, so the UI cannot"
                          " reach the registry through it (nothing was changed)")
    return f"{scheme(data)}://{address}:{balancers[0].data.lb_port}"


@deploy("Registry UI")
def ui():
    data = host.data
    if data.ui_enabled:
        container(name="Registry UI container is running",
                  spec=ui_spec(host.name, data, load_balancer_upstream(data)))
    else:
        absent(name="Registry UI container is absent", container_name=data.ui_container)
