"""The docker-registry-ui (Joxit) container, proxying to the registry over the Docker bridge gateway."""

from pyinfra import host
from pyinfra.api import deploy

from ops.container import GATEWAY_PLACEHOLDER, ContainerSpec, absent, container


def ui_spec(data) -> ContainerSpec:
    # Containers reach the host's published registry port through the bridge gateway, read from the
    # host when the operation runs (never a hard-coded 172.17.0.1).
    upstream = f"http://{GATEWAY_PLACEHOLDER}:{data.registry_port}"
    env = {"REGISTRY_TITLE": data.ui_title, "DELETE_IMAGES": str(data.ui_delete_images).lower()}
    if data.ui_image.rsplit(":", 1)[-1] == "static":
        env["REGISTRY_URL"] = upstream  # the 2019 `static` tag proxied to REGISTRY_URL
    else:
        env.update(NGINX_PROXY_PASS_URL=upstream, SINGLE_REGISTRY="true")
    return ContainerSpec(name=data.ui_container, image=data.ui_image, env=env, ports={80: data.ui_port})


@deploy("Registry UI")
def ui():
    data = host.data
    if data.ui_enabled:
        container(name="Registry UI container is running", spec=ui_spec(data))
    else:
        absent(name="Registry UI container is absent", container_name=data.ui_container)
