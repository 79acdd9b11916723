"""A drift-aware container operation.

pyinfra's own ``docker.container`` never compares an existing container with the one asked for
(upstream issue #1561), and ``force=True`` recreates it on every run. This one compares the running
container's ``docker inspect`` with the desired spec and repairs only what differs:

- missing: create; stopped: start; differs in image (by ID), env, ports, mounts, restart policy or
  labels (our labels carry the hash of every file the container reads): replace, keeping the old one
  until the new one runs; asked to restart because a file it reads changed: restart; otherwise nothing.

What drifted is logged once per run, one line per difference, so ``--dry`` names it.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from pyinfra import host
from pyinfra.api import operation
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.docker import DockerContainer

from .facts import ContainerState

logger = logging.getLogger("pyinfra")

GATEWAY_PLACEHOLDER = "{bridge_gateway}"
# How long a new container must keep running (not exited, never restarted) to count as started.
SETTLE_SECONDS = 2


def kept_running(name: str) -> str:
    """A shell test: the container, just started, is still running SETTLE_SECONDS later, unrestarted."""
    state = f"docker inspect --format '{{{{.State.Running}}}} {{{{.RestartCount}}}}' {shlex.quote(name)}"
    return f"sleep {SETTLE_SECONDS} && [ \"$({state})\" = 'true 0' ]"


class Mount(NamedTuple):
    type: str  # "volume" or "bind"
    source: str  # volume name or host path
    target: str
    read_only: bool = False

    def flag(self) -> str:
        value = f"type={self.type},src={self.source},dst={self.target}"
        return value + (",readonly" if self.read_only else "")


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    env: dict = field(default_factory=dict)
    ports: dict = field(default_factory=dict)  # container port -> host port, on all addresses
    mounts: tuple = ()
    restart: str = "always"
    labels: dict = field(default_factory=dict)

    def run_command(self) -> str:
        return self._docker("run", "--detach", "--name", self.name)

    def replace_command(self) -> str:
        """Swap the running container for this spec, keeping the old one until the new one runs.

        The new container is created aside, the old one stopped, the new one started; unless it is still
        running after a few seconds, it is removed (its last log lines shown) and the old one started again.
        """
        name, aside = shlex.quote(self.name), shlex.quote(f"{self.name}-next")
        return (
            f"docker rm --force {aside} >/dev/null 2>&1; "
            f"{self._docker('create', '--name', f'{self.name}-next')} >/dev/null && "
            f"docker stop {name} >/dev/null && docker start {aside} >/dev/null && "
            f"{kept_running(aside)} && "
            f"docker rm {name} >/dev/null && docker rename {aside} {name} || "
            f"{{ echo 'the new {self.name} container did not keep running; the old one is kept:' >&2; "
            f"docker logs --tail 20 {aside} >&2 2>&1; docker rm --force {aside} >/dev/null 2>&1; "
            f"docker start {name} >/dev/null; exit 1; }}"
        )

    def _docker(self, verb, *first) -> str:
        args = ["docker", verb, *first, "--restart", self.restart]
        for inner, outer in sorted(self.ports.items()):
            args += ["--publish", f"{outer}:{inner}"]
        for mount in self.mounts:
            args += ["--mount", mount.flag()]
        for key, value in sorted(self.env.items()):
            args += ["--env", f"{key}={value}"]
        for key, value in sorted(self.labels.items()):
            args += ["--label", f"{key}={value}"]
        return shlex.join(args + [self.image])

    def with_gateway(self, gateway: str | None) -> ContainerSpec:
        """Fill `{bridge_gateway}` in env values with the host's Docker bridge gateway address."""
        env = {k: v.replace(GATEWAY_PLACEHOLDER, gateway or "<bridge gateway>") for k, v in self.env.items()}
        return replace(self, env=env)


def _env(entries) -> dict:
    return dict(entry.split("=", 1) for entry in entries or [] if "=" in entry)


def _ports(bindings) -> dict:
    ports = {}
    for key, binds in (bindings or {}).items():
        inner = int(key.split("/")[0])
        for bind in binds or []:
            address = bind.get("HostIp") or ""
            ports[inner] = bind["HostPort"] if address in ("", "0.0.0.0") else f"{address}:{bind['HostPort']}"
    return ports


def _mounts(mounts) -> set:
    return {
        Mount(m["Type"], m["Name"] if m["Type"] == "volume" else m["Source"], m["Destination"], not m["RW"])
        for m in mounts or []
    }


def _changes(label, current: dict, wanted: dict, keys) -> list:
    return [
        f"{label} {key}: {current.get(key, '(unset)')} -> {wanted.get(key, '(unset)')}"
        for key in sorted(keys)
        if current.get(key) != wanted.get(key)
    ]


def compare(spec: ContainerSpec, current: dict | None, image: dict | None) -> tuple:
    """Decide what to do: ("create" | "recreate" | "start" | "none", reasons).

    `current` is the container's `docker inspect` document (None when missing), `image` the desired
    image's (None when it is not on the host); both are what `docker inspect` prints for one object.
    """
    if not current:
        return "create", [f"container {spec.name} is missing"]
    config, host_config = current.get("Config", {}), current.get("HostConfig", {})
    image_config = (image or {}).get("Config") or {}
    reasons = []

    if image and current.get("Image") != image.get("Id"):
        reasons.append(f"image: {config.get('Image')} ({current.get('Image', '')[7:19]}) -> "
                       f"{spec.image} ({image['Id'][7:19]})")
    elif not image and config.get("Image") != spec.image:
        reasons.append(f"image: {config.get('Image')} -> {spec.image}")

    # Env and labels the image sets are not ours to compare; while the image is not on the host
    # (a dry run before it is pulled), only the keys we set are.
    env, base_env = _env(config.get("Env")), _env(image_config.get("Env"))
    own_env = {k: v for k, v in env.items() if (image and base_env.get(k) != v) or k in spec.env}
    reasons += _changes("env", own_env, spec.env, own_env.keys() | spec.env.keys())

    ports = _ports(host_config.get("PortBindings"))
    wanted_ports = {inner: str(outer) for inner, outer in spec.ports.items()}
    reasons += _changes("port", ports, wanted_ports, ports.keys() | wanted_ports.keys())

    mounts, wanted_mounts = _mounts(current.get("Mounts")), set(spec.mounts)
    reasons += [f"mount {m.flag()}: unwanted" for m in sorted(mounts - wanted_mounts)]
    reasons += [f"mount {m.flag()}: missing" for m in sorted(wanted_mounts - mounts)]

    restart = (host_config.get("RestartPolicy") or {}).get("Name") or "no"
    if restart != spec.restart:
        reasons.append(f"restart policy: {restart} -> {spec.restart}")

    labels, base_labels = config.get("Labels") or {}, image_config.get("Labels") or {}
    own_labels = {k: v for k, v in labels.items() if (image and base_labels.get(k) != v) or k in spec.labels}
    reasons += _changes("label", own_labels, spec.labels, own_labels.keys() | spec.labels.keys())

    if reasons:
        return "recreate", reasons
    if not current.get("State", {}).get("Running"):
        return "start", [f"container {spec.name} is stopped"]
    return "none", []


def _report(name: str, reasons) -> None:
    # Op generators run twice when pyinfra detects changes first (without -y): report once, in
    # whichever pass comes first, so --dry names the drift and -y runs still show what was repaired.
    state = host.state
    if state.is_executing != state.check_for_changes:
        for reason in reasons:
            logger.warning(f"{host.print_prefix}{name}: {reason}")


def _changed(op: OperationMeta | None) -> bool:
    """Whether an earlier operation changed something: known once it ran, predicted before."""
    if op is None:
        return False
    return op.did_change() if op.is_complete() else op.will_change


@operation()
def container(spec: ContainerSpec, restart_after: OperationMeta | None = None):
    """
    Ensure a container runs exactly as `spec` says, repairing only what differs.

    + spec: the desired container; env values may use `{bridge_gateway}`, read from the host when
      the operation runs (the Docker bridge's gateway address, see facts.BridgeGateway)
    + restart_after: an earlier operation on a file the container reads; when it changed the file,
      a container that is otherwise kept is restarted
    """
    needs_gateway = any(GATEWAY_PLACEHOLDER in value for value in spec.env.values())
    state = host.get_fact(ContainerState, container=spec.name, image=spec.image, gateway=needs_gateway) or {}
    if needs_gateway:
        spec = spec.with_gateway(state.get("gateway"))
    action, reasons = compare(spec, state.get("container"), state.get("image"))
    _report(spec.name, reasons)

    if action == "create":
        yield spec.run_command()
    elif action == "recreate":
        yield spec.replace_command()
    elif action == "start":
        yield f"docker start {spec.name}"
    elif _changed(restart_after):
        _report(spec.name, ["a file it reads changed: restart"])
        yield f"docker restart {spec.name}"
    else:
        host.noop(f"container {spec.name} is up to date")


@operation()
def absent(container_name: str):
    """Ensure no container of this name exists (its image and any volumes stay)."""
    if host.get_fact(DockerContainer, object_id=container_name):
        yield f"docker rm --force {container_name}"
    else:
        host.noop(f"container {container_name} is absent")
