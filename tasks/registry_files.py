"""What the registry reads, and how the deploy's own probes reach it: rendered on the control machine from
the data, so the same data always gives the same files."""

from ops import registry_yaml


def config_mount_target(image: str) -> str:
    """registry:3 (distribution 3) reads /etc/distribution; registry:2 /etc/docker/registry."""
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return "/etc/distribution" if tag.split(".")[0] == "3" else "/etc/docker/registry"


def config_files(data) -> dict[str, bytes]:
    """The registry's configuration directory: writable.yml, and readonly.yml for maintenance."""
    source = registry_yaml.load(data.registry_config_src)
    writable = registry_yaml.writable(source, data.registry_delete_enabled)
    return {
        "writable.yml": registry_yaml.dump(writable, data.registry_config_src).encode(),
        "readonly.yml": registry_yaml.dump(registry_yaml.read_only(writable), data.registry_config_src).encode(),
    }


def probe_urls(data) -> tuple[str, str]:
    """How the host reaches its own registry and UI: (registry, UI or "" when the UI is off)."""
    registry = f"http://127.0.0.1:{data.registry_port}"
    return registry, (f"http://127.0.0.1:{data.ui_port}" if data.ui_enabled else "")


def client_curlrc(data) -> str:
    """curl settings for the host's probes of its own registry (curl -K)."""
    return "# Managed by the registry deploy: curl settings for the host's probes of its own registry.\n"
