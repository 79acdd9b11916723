"""The health gate: the deploy succeeds on a host only when its registry and UI answer."""

from pyinfra import host
from pyinfra.api import deploy

from ops.health import healthy


def public_urls(data):
    """The URLs operators use: the data's, or http://<inventory name>:<port>."""
    registry = data.registry_public_url or f"http://{host.name}:{data.registry_port}"
    ui = data.ui_public_url or f"http://{host.name}:{data.ui_port}"
    return registry, ui


@deploy("Health")
def health():
    data = host.data
    registry = f"http://127.0.0.1:{data.registry_port}"
    checks = [("registry", f"{registry}/v2/", "{}")]
    containers = [data.registry_container]
    registry_url, ui_url = public_urls(data)
    announce = f"registry {registry_url}"
    if data.ui_enabled:
        ui = f"http://127.0.0.1:{data.ui_port}"
        checks += [("UI", f"{ui}/", None), ("UI proxy to the registry", f"{ui}/v2/_catalog", None)]
        containers.append(data.ui_container)
        announce += f"  UI {ui_url}"
    healthy(
        name="Registry and UI answer",
        checks=checks,
        containers=containers,
        attempts=data.health_timeout,
        announce=announce,
    )
