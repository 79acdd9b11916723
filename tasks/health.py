"""The health gate: the deploy succeeds on a host only when its registry and UI answer; then it says where
they are and how to log in."""

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy

from core.data import auth_on, public_urls
from core.secrets import SecretStore, password_variable
from ops.health import healthy


def how_to_reach(name: str, data) -> str:
    """The line a healthy host ends with: URLs, the CA to trust, the users and where their passwords are."""
    registry_url, ui_url = public_urls(name, data)
    line = f"registry {registry_url}" + (f"  UI {ui_url}" if data.registry_ui_enabled else "")
    store = SecretStore(data.registry_secrets_dir)
    if data.registry_tls == "self-signed":
        line += f"  CA {Path(store.root, 'ca.crt')}"
    if auth_on(data):
        users = ", ".join(f"{user} (${password_variable(user)} or {store.password_file(user)})"
                          for user in data.registry_users)
        line += f"  users: {users}"
    return line


@deploy("Health")
def health():
    healthy(name="Registry and UI answer", announce=how_to_reach(host.name, host.data))
