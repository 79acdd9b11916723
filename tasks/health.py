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
    registry_url, ui_url = public_urls(data)
    healthy(
        name="Registry and UI answer",
        announce=f"registry {registry_url}" + (f"  UI {ui_url}" if data.ui_enabled else ""),
    )
