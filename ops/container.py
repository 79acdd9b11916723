"""A drift-aware container operation.

pyinfra's own ``docker.container`` never compares an existing container with the one asked for
(upstream issue #1561), and ``force=True`` recreates it on every run. This one compares the running
container's ``docker inspect`` with the desired spec and repairs only what differs:

- missing: create; stopped: start; differs in image (by ID), env, ports, mounts, restart policy,
  network mode, user or labels (our labels carry the hash of every file the container reads): replace,
  keeping the old one until the new one runs (``registry-container replace`` on the host, files/registry-container.sh);
  a replacement an interrupted run left aside: adopted or removed; otherwise nothing.

What drifted is logged once per run, one line per difference, so ``--dry`` names it.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import NamedTuple
from urllib.parse import quote

from pyinfra import host
from pyinfra.api import FactBase, operation
from pyinfra.facts.docker import DockerContainer

from core.host_paths import CONTAINER_SCRIPT

from .report import log_once

DOCKER_SOCKET = "/var/run/docker.sock"


def docker_api(*paths: str) -> str:
    """One curl asking the engine's API for each path (what `docker ... inspect` prints, raw), each answer
    followed by a line `@@<HTTP status>` (404: no such object; 000: the engine did not answer). A fact asked
    every run costs the host about 5 ms a path this way, against about 35 ms for each `docker` command."""
    urls = " ".join(shlex.quote(f"http://docker{path}") for path in paths)
    return f"curl -sg --unix-socket {DOCKER_SOCKET} -w '\\n@@%{{http_code}}\\n' {urls} 2>/dev/null; true"


def api_answers(output) -> list:
    """What each path of docker_api answered, in order: its JSON, or None (not there, or no answer)."""
    answers, body = [], []
    for line in output:
        if re.fullmatch(r"@@\d{3}", line):
            text = "\n".join(body).strip()
            answers.append(json.loads(text) if line == "@@200" and text else None)
            body = []
        else:
            body.append(line)
    return answers


# The docker0 interface's address, printed after a `@@gateway` line that follows the engine's answers.
DOCKER0 = "ip -4 -o addr show dev docker0 2>/dev/null | awk '{print $4}'"


def _gateway(network, docker0_lines) -> str | None:
    """The host's address on Docker's default bridge network, as containers on it reach the host: the bridge's
    IPv4 IPAM gateway as the API describes the network or, as Docker 20.10+ may leave that empty (only the
    docker0 interface has it), the interface's address; None when neither is known (no engine yet)."""
    configs = ((network or {}).get("IPAM") or {}).get("Config") or []
    found = [config["Gateway"] for config in configs if "." in config.get("Gateway", "")]
    found += [line.strip().split("/")[0] for line in docker0_lines if line.strip()]
    return found[0] if found else None


class ContainerState(FactBase):
    """
    A container and the image it should run, as the engine's API describes them (`docker inspect`), in one
    command, with the bridge gateway (see _gateway) when asked: {"container": dict or None, "image":
    dict or None, "aside": bool, "gateway": str or None}. None: no such container, image not on the host,
    gateway not asked or unknown. "aside": a `<container>-next` an interrupted replace left behind exists.
    """

    def requires_command(self, container, image, gateway=False) -> str:
        return "curl"

    def command(self, container, image, gateway=False) -> str:
        paths = [f"/containers/{container}/json", f"/containers/{container}-next/json", f"/images/{image}/json"]
        if gateway:
            return f"{docker_api(*paths, '/networks/bridge')}; echo @@gateway; {DOCKER0}"
        return docker_api(*paths)

    def process(self, output):
        # The lines after the last answer (`@@gateway` and docker0's address) are no answer of api_answers'.
        container, aside, image, network = (api_answers(output) + [None] * 4)[:4]
        for found in (container, aside):
            if found:
                # Docker lists mounts in any order; the health check's log has timestamps, new every interval.
                found["Mounts"] = sorted(found.get("Mounts") or [], key=lambda mount: mount.get("Destination", ""))
                (found.get("State", {}).get("Health") or {}).pop("Log", None)
        return {
            "container": container,
            "image": image,
            "aside": aside is not None,
            "gateway": _gateway(network, output[output.index("@@gateway") + 1:]) if "@@gateway" in output else None,
        }


def _documents(text) -> list:
    return json.loads(text) if text.strip() else []

GATEWAY_PLACEHOLDER = "{bridge_gateway}"


# Docker names a volume it makes for a container (no name given) with 64 hex digits.
ANONYMOUS_VOLUME = re.compile(r"[0-9a-f]{64}")


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
    stop_timeout: int | None = None  # seconds `docker stop` waits before SIGKILL (None: Docker's 10)
    network: str = "default"  # Docker's network mode: "default" (the bridge) or "host"
    user: str = ""  # the user it runs as ("": the image's)

    def create_arguments(self) -> list[str]:
        """`docker create` arguments for this container, all but its name."""
        args = ["--restart", self.restart]
        if self.network != "default":
            args += ["--network", self.network]
        if self.user:
            args += ["--user", self.user]
        if self.stop_timeout is not None:
            args += ["--stop-timeout", str(self.stop_timeout)]
        for inner, outer in sorted(self.ports.items()):
            args += ["--publish", f"{outer}:{inner}"]
        for mount in self.mounts:
            args += ["--mount", mount.flag()]
        for key, value in sorted(self.env.items()):
            args += ["--env", f"{key}={value}"]
        for key, value in sorted(self.labels.items()):
            args += ["--label", f"{key}={value}"]
        return args + [self.image]

    def replace_command(self, displaces: str | None = None, restore_config: bool = False) -> str:
        """Create this container, or swap the existing one for it without losing a working one;
        `displaces`: a container serving the port this one takes, stopped for the swap and removed after;
        `restore_config`: a kept old container gets back the configuration files it was made for."""
        options = (["--displaces", displaces] if displaces else []) + (["--restore-config"] if restore_config else [])
        return shlex.join([CONTAINER_SCRIPT, "replace", self.name, *options, *self.create_arguments()])

    def needs_gateway(self) -> bool:
        return any(GATEWAY_PLACEHOLDER in value for value in self.env.values())

    def with_gateway(self, gateway: str) -> ContainerSpec:
        """Fill `{bridge_gateway}` in env values with the host's Docker bridge gateway address."""
        return replace(self, env={k: v.replace(GATEWAY_PLACEHOLDER, gateway) for k, v in self.env.items()})


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


def compare(spec: ContainerSpec, current: dict | None, image: dict | None, aside: bool = False) -> tuple:
    """Decide what to do: ("create" | "recreate" | "start" | "tidy" | "none", reasons).

    `current` is the container's `docker inspect` document (None when missing), `image` the desired
    image's (None when it is not on the host); both are what `docker inspect` prints for one object.
    `aside`: a `<name>-next` container, left by an interrupted replace, exists.
    """
    leftover = [f"container {spec.name}-next was left aside by an interrupted replace"] if aside else []
    if not current:
        return "create", [f"container {spec.name} is missing"] + leftover
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

    # An anonymous volume Docker made for a VOLUME the image declares (the registry's data directory, when
    # the data is elsewhere, e.g. S3) is the image's, not ours to compare.
    declared = (image_config.get("Volumes") or {}).keys()
    mounts = {m for m in _mounts(current.get("Mounts"))
              if not (m.type == "volume" and m.target in declared and ANONYMOUS_VOLUME.fullmatch(m.source))}
    wanted_mounts = set(spec.mounts)
    reasons += [f"mount {m.flag()}: unwanted" for m in sorted(mounts - wanted_mounts)]
    reasons += [f"mount {m.flag()}: missing" for m in sorted(wanted_mounts - mounts)]

    restart = (host_config.get("RestartPolicy") or {}).get("Name") or "no"
    if restart != spec.restart:
        reasons.append(f"restart policy: {restart} -> {spec.restart}")
    if config.get("StopTimeout") != spec.stop_timeout:
        reasons.append(f"stop timeout: {config.get('StopTimeout')} -> {spec.stop_timeout}")
    network = host_config.get("NetworkMode") or "default"
    if network != spec.network:
        reasons.append(f"network: {network} -> {spec.network}")
    if (config.get("User") or "") != spec.user:
        reasons.append(f"user: {config.get('User') or '(image)'} -> {spec.user or '(image)'}")

    labels, base_labels = config.get("Labels") or {}, image_config.get("Labels") or {}
    own_labels = {k: v for k, v in labels.items() if (image and base_labels.get(k) != v) or k in spec.labels}
    reasons += _changes("label", own_labels, spec.labels, own_labels.keys() | spec.labels.keys())

    if reasons:
        return "recreate", reasons + leftover
    if not current.get("State", {}).get("Running"):
        return "start", [f"container {spec.name} is stopped"] + leftover
    if leftover:
        return "tidy", leftover
    return "none", []


@operation()
def container(spec: ContainerSpec, displaces: str | None = None, restore_config: bool = False):
    """
    Ensure a container runs exactly as `spec` says, repairing only what differs.

    + spec: the desired container; env values may use `{bridge_gateway}`, read from the host when
      the operation runs (the Docker bridge's gateway address, see _gateway)
    + displaces: the container that serves the port `spec` publishes until it is (re)created, if any:
      stopped only for the swap, removed once the new one serves, started again if it does not
    + restore_config: the configuration files changed in this run: if the new container does not serve,
      the old one is started on the files it was made for
    """
    state = host.get_fact(ContainerState, container=spec.name, image=spec.image, gateway=spec.needs_gateway()) or {}
    if spec.needs_gateway():
        if not state.get("gateway"):
            yield (f"echo 'the Docker bridge gateway of this host is unknown (no bridge network, no docker0),"
                   f" so {spec.name} cannot be wired to the registry' >&2; exit 1")
            return
        spec = spec.with_gateway(state["gateway"])
    action, reasons = compare(spec, state.get("container"), state.get("image"), bool(state.get("aside")))
    for reason in reasons:
        log_once(f"{spec.name}: {reason}")

    if action in ("create", "recreate"):
        yield spec.replace_command(displaces, restore_config)
        return
    if action in ("start", "tidy") and state.get("aside"):
        yield shlex.join(["docker", "rm", "--force", f"{spec.name}-next"])
    if action == "start":
        yield shlex.join(["docker", "start", spec.name])
    if action == "none":
        host.noop(f"container {spec.name} is up to date")


@operation()
def restarted(container_name: str):
    """Restart a container (use with `_if=` on the operation that changed a file it reads)."""
    yield shlex.join([CONTAINER_SCRIPT, "restart", container_name])


class LabelledContainers(FactBase):
    """The containers carrying `label`, whatever the data says: {name: the label's value}; {} when the engine
    does not answer (an engine stopped by hand is started later in the same run)."""

    def requires_command(self, label) -> str:
        return "curl"

    def command(self, label) -> str:
        filters = quote(json.dumps({"label": [label]}, separators=(",", ":")))
        return f"echo {shlex.quote(label)}; {docker_api('/containers/json?all=1&filters=' + filters)}"

    def process(self, output):
        label, answers = output[0], api_answers(output[1:])
        return {c["Names"][0].lstrip("/"): (c.get("Labels") or {}).get(label, "") for c in (answers or [None])[0] or []}


@operation()
def labelled_absent(label: str, keep: list[str], directory_prefix: str | None = None):
    """Ensure no container carrying `label` exists but those in `keep` (images and volumes stay), and with
    `directory_prefix`, no directory <prefix><the label's value> of one removed (its configuration). Asked
    when the operation runs, after the engine is running.
    """
    found = host.get_fact(LabelledContainers, label=label) or {}
    gone = {name: value for name, value in found.items() if name not in keep}
    for name, value in sorted(gone.items()):
        log_once(f"{name}: no longer wanted, removed (its volumes are kept)")
        yield f"docker rm --force {shlex.quote(name)} >/dev/null"
        if directory_prefix and value:
            yield f"rm -rf {shlex.quote(directory_prefix + value)}"
    if not gone:
        host.noop(f"no container labelled {label} but {', '.join(keep) or 'none'}")


@operation()
def absent(container_name: str):
    """Ensure no container of this name exists (its image and any volumes stay)."""
    if host.get_fact(DockerContainer, object_id=container_name):
        # Removed since the fact was read (registry-container replace --displaces): nothing to do then.
        quoted = shlex.quote(container_name)
        yield f"docker rm --force {quoted} >/dev/null 2>&1 || ! docker container inspect {quoted} >/dev/null 2>&1"
    else:
        host.noop(f"container {container_name} is absent")
