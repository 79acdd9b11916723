"""The docker-registry-ui (Joxit) container, proxying to the registry over the Docker bridge gateway, and
with TLS on, serving HTTPS itself with the registry's certificate."""

from pyinfra import host
from pyinfra.api import deploy

from ops.container import GATEWAY_PLACEHOLDER, ContainerSpec, Mount, absent, container
from ops.data import auth_on, scheme, tls_on

from .registry_files import UI_FILES, UI_TLS_CONF, UI_TLS_DIR, config_files, files_hash

# Carries the hash of the files the UI reads, so a new certificate recreates it.
FILES_LABEL = "io.registry-deploy.files-sha256"


def ui_spec(name: str, data) -> ContainerSpec:
    # Containers reach the host's published registry port through the bridge gateway, read from the
    # host when the operation runs (never a hard-coded 172.17.0.1).
    upstream = f"{scheme(data)}://{GATEWAY_PLACEHOLDER}:{data.registry_port}"
    env = {"REGISTRY_TITLE": data.ui_title, "DELETE_IMAGES": str(data.ui_delete_images).lower(),
           # The UI would otherwise call out to the internet weekly; registries are often air-gapped.
           "ENABLE_VERSION_NOTIFICATION": "false"}
    if data.ui_image.rsplit(":", 1)[-1] == "static":
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


@deploy("Registry UI")
def ui():
    data = host.data
    if data.ui_enabled:
        container(name="Registry UI container is running", spec=ui_spec(host.name, data))
    else:
        absent(name="Registry UI container is absent", container_name=data.ui_container)
