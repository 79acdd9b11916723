"""The registry container, reading its configuration directory (writable.yml, and readonly.yml while a
chore collects garbage) mounted read-only where its image reads it."""

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.operations import python

from core import topology
from core.data import auth_on, proxied, registry_major, tls_on
from core.host_files import REGISTRY_FILES, config_files, config_mount_target, files_hash
from core.registry_yaml import DEBUG_PORT
from ops.container import ContainerSpec, Mount, container, restarted
from ops.maintenance import migrated, settled
from ops.registry_config import registry_config
from ops.report import log_lines, log_once

from .storage import storage_mount

# Carries the hash of the configuration the container was made for, so a changed one is seen as drift.
CONFIG_LABEL = "io.registry-deploy.config-sha256"


def published(address, port) -> str:
    """How a port is published: on every address, or on one."""
    return f"{address}:{port}" if address else str(port)


def registry_spec(name: str, data) -> ContainerSpec:
    return ContainerSpec(
        name=data.registry_container,
        image=data.registry_image,
        # Registry 3.0 exports traces to localhost:4318 by default and logs an error for each; 3.1 is off.
        env={"OTEL_TRACES_EXPORTER": "none"} if registry_major(data) >= 3 else {},
        # Behind the access proxy, on loopback only: no one reaches the registry without passing it.
        ports={5000: f"127.0.0.1:{data.registry_backend_port}" if proxied(data)
               else published(data.registry_bind_address, data.registry_port),
               **({DEBUG_PORT: published(None if data.registry_metrics_address == "0.0.0.0"
                                         else data.registry_metrics_address, data.registry_metrics_port)}
                  if data.registry_metrics_address is not None else {})},
        mounts=tuple(mount for mount in (
            storage_mount(data),
            Mount("bind", data.registry_config_dir, config_mount_target(data), True),
        ) if mount),
        labels={CONFIG_LABEL: files_hash(config_files(name, data), REGISTRY_FILES)},
        # Docker must wait longer than the registry drains, or it kills uploads the drain would finish.
        stop_timeout=data.registry_drain_timeout + 5,
    )


@deploy("Registry")
def registry(migration=None):
    """The registry, its configuration tried first; `migration`: (from, to) storage places to migrate its
    data between (from tasks.storage.storage), or None."""
    data = host.data
    if not tls_on(data):
        log_once("WARNING: registry_tls is off: the registry serves plain HTTP, and every client must list it"
                 " in insecure-registries", warning=True)
    if not auth_on(data):
        log_once("WARNING: registry_auth is none: anyone who can reach the registry can push over and delete"
                 " any image", warning=True)
    chores = settled(name="No maintenance chore is running or left the registry read-only")
    python.call(name="Say what the maintenance recovery did", function=log_lines, op=chores,
                _if=chores.did_change)
    config = registry_config(
        name="Registry configuration is in place",
        files=config_files(host.name, data),
        directory=data.registry_config_dir,
    )
    if migration:
        copied = migrated(name="Registry data is migrated, verified, and served from its new place",
                         source=migration[0], destination=migration[1], spec=registry_spec(host.name, data))
        python.call(name="Say what the migration did", function=log_lines, op=copied, _if=copied.did_change)
    # Replicas behind load balancers so that clients always have one (registry-container waits for each).
    # Users turned off: the access proxy gives registry_port up to the new registry only for the swap,
    # and takes it back if the new registry does not serve.
    running = container(name="Registry container is running", spec=registry_spec(host.name, data),
                        displaces=None if proxied(data) else data.registry_auth_proxy_container,
                        restore_config=config.will_change, _serial=topology.replaced_in_turn(inventory, data))
    python.call(name="Say what replacing the registry checked", function=log_lines, op=running,
                _if=running.did_change)
    restarted(
        name="Registry restarts to read its restored configuration",
        container_name=data.registry_container,
        _if=[config.did_change, running.did_not_change],
    )
