"""Facts pyinfra does not have: the Docker bridge gateway, a container with its image in one command,
the registry's configuration files, the maintenance lock and mark, health, whether SELinux enforces, and
the load balancer's view of the replicas."""

from __future__ import annotations

import base64
import json
import shlex

from pyinfra.api import FactBase

from core.retention_rules import Tag, children

from .hostscripts import CONTAINER_SCRIPT, LOCK, MAINTENANCE_SCRIPT, READ_ONLY_MARK


class BridgeGateway(FactBase):
    """
    The host's address on Docker's default bridge network, as containers on it reach the host.

    Docker 20.10+ may leave the bridge's IPAM gateway empty (only the docker0 interface has it),
    so the interface's address is the fallback. None when neither is known (no engine yet).
    """

    def requires_command(self) -> str:
        return "docker"

    def command(self) -> str:
        return (
            "docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "
            "2>/dev/null; ip -4 -o addr show dev docker0 2>/dev/null | awk '{print $4}'"
        )

    def process(self, output):
        for line in output:
            address = line.strip().split("/")[0]
            if address:
                return address
        return None


class HostAddress(FactBase):
    """The IPv4 address a name resolves to on the host (as its containers cannot always resolve it), or None."""

    def command(self, hostname) -> str:
        return f"getent ahostsv4 {shlex.quote(hostname)} | awk 'NR == 1 {{ print $1 }}' || true"

    def process(self, output):
        return output[0].strip() if output and output[0].strip() else None


class ContainerState(FactBase):
    """
    `docker inspect` of a container and of the image it should run, in one command, with the bridge
    gateway (see BridgeGateway) when asked: {"container": dict or None, "image": dict or None,
    "aside": bool, "gateway": str or None}. None: no such container, image not on the host, gateway not
    asked or unknown. "aside": a `<container>-next` an interrupted replace left behind exists.
    """

    def requires_command(self, container, image, gateway=False) -> str:
        return "docker"

    def command(self, container, image, gateway=False) -> str:
        command = (f"docker container inspect {shlex.quote(container)} {shlex.quote(container + '-next')}"
                   f" 2>/dev/null; echo @@; docker image inspect {shlex.quote(image)} 2>/dev/null; true")
        return f"{command}; echo @@; {BridgeGateway().command()}" if gateway else command

    def process(self, output):
        containers, image, gateway = ("\n".join(output) + "\n@@").split("@@")[:3]
        by_name = {c["Name"].lstrip("/"): c for c in _documents(containers)}
        images = _documents(image)
        return {
            "container": next((c for name, c in by_name.items() if not name.endswith("-next")), None),
            "image": images[0] if images else None,
            "aside": any(name.endswith("-next") for name in by_name),
            "gateway": BridgeGateway().process(gateway.splitlines()),
        }


def _documents(text) -> list:
    return json.loads(text) if text.strip() else []


class ConfigFiles(FactBase):
    """
    The registry's configuration directory: {"directory": "MODE USER:GROUP", "files": {name: "SHA1 MODE
    USER:GROUP"} for each of `names` present, "link": what config.yml points at, "read_only": whether a
    maintenance chore's read-only mark exists}. None when the directory is missing.
    """

    def command(self, directory, names) -> str:
        quoted = " ".join(shlex.quote(name) for name in names)
        return (
            f"cd {shlex.quote(directory)} 2>/dev/null || exit 0; stat -c '@dir %a %U:%G' .; "
            f"for f in {quoted}; do [ -f \"$f\" ] && echo \"@file $f $(sha1sum < \"$f\" | cut -c1-40)"
            f" $(stat -c '%a %U:%G' \"$f\")\"; done; echo \"@link $(readlink config.yml)\"; "
            f"[ ! -e {READ_ONLY_MARK} ] || echo @read-only"
        )

    def process(self, output):
        found = {"directory": None, "files": {}, "link": "", "read_only": False}
        for line in output:
            kind, _, rest = line.partition(" ")
            if kind == "@dir":
                found["directory"] = rest
            elif kind == "@file":
                name, _, state = rest.partition(" ")
                found["files"][name] = state
            elif kind == "@link":
                found["link"] = rest.strip()
            elif kind == "@read-only":
                found["read_only"] = True
        return found if found["directory"] else None


class MaintenanceState(FactBase):
    """
    {"running": who holds the maintenance lock, or None; "read_only": the read-only mark a chore left
    (who and when), or None}. Reading it takes no lock.
    """

    def requires_command(self) -> str:
        return "flock"

    def command(self) -> str:
        return (f"if [ -e {LOCK} ] && ! flock -n {LOCK} true; then echo \"@running $(cat {LOCK})\"; fi; "
                f"if [ -e {READ_ONLY_MARK} ]; then echo \"@read-only $(cat {READ_ONLY_MARK})\"; fi")

    def process(self, output):
        found = {"running": None, "read_only": None}
        for line in output:
            for key in found:
                if line.startswith(f"@{key.replace('_', '-')} "):
                    found[key] = line.split(" ", 1)[1]
        return found


class Health(FactBase):
    """
    The health checks of files/registry-container.sh, each asked once: a list of "ok WHAT" or
    "failed WHAT: ..." lines. None until the deploy placed the script.
    """

    def requires_command(self) -> str:
        return CONTAINER_SCRIPT

    def command(self) -> str:
        return f"{CONTAINER_SCRIPT} healthy"

    def process(self, output):
        return [line for line in output if line.startswith(("ok ", "failed "))]


class SelinuxEnforcing(FactBase):
    """True when SELinux enforces (pyinfra's Selinux fact tells enabled, not enforcing)."""

    def requires_command(self) -> str:
        return "getenforce"

    def command(self) -> str:
        return "getenforce"

    def process(self, output):
        return "".join(output).strip().lower() == "enforcing"


class CalendarExpression(FactBase):
    """What `systemd-analyze calendar` makes of an OnCalendar expression: {"valid": bool, "said": its output}."""

    def requires_command(self, expression) -> str:
        return "systemd-analyze"

    def command(self, expression) -> str:
        return f"systemd-analyze calendar -- {shlex.quote(expression)} 2>&1 && echo @valid || true"

    def process(self, output):
        return {"valid": "@valid" in output, "said": " ".join(line.strip() for line in output if line != "@valid")}


class StorageHoldings(FactBase):
    """
    For each place the registry may keep its data ("volume:NAME" or "bind:PATH"): whether it holds a
    repository with manifests. {place: bool}; a volume or directory that does not exist holds nothing.
    """

    def requires_command(self, places) -> str:
        return "docker"

    def command(self, places) -> str:
        checks = []
        for place in places:
            kind, _, where = place.partition(":")
            root = (f"$(docker volume inspect --format '{{{{.Mountpoint}}}}' {shlex.quote(where)} 2>/dev/null)"
                    if kind == "volume" else shlex.quote(where))
            checks.append(f"echo {shlex.quote(place)} $(find {root}/docker/registry/v2/repositories -type d"
                          f" -name _manifests 2>/dev/null | head -n 1 | wc -l)")
        return "; ".join(checks)

    def process(self, output):
        holdings = {}
        for line in output:
            place, _, count = line.rpartition(" ")
            if place:
                holdings[place] = count.strip() not in ("", "0")
        return holdings


class StoredTags(FactBase):
    """Every tag the registry stores with its digest and push time, and every manifest of each repository:
    {"tags": [Tag], "manifests": {repository: {digest: [platform manifest digests]}}}."""

    def requires_command(self) -> str:
        return MAINTENANCE_SCRIPT

    def command(self) -> str:
        return f"{MAINTENANCE_SCRIPT} tags"

    def process(self, output):
        tags, manifests = [], {}
        for line in output:
            kind, *fields = line.split(" ")
            if kind == "@tag" and len(fields) == 4:
                pushed, repository, name, digest = fields
                tags.append(Tag(repository, name, digest, float(pushed)))
            elif kind == "@manifest" and len(fields) == 3:
                repository, digest, encoded = fields
                manifests.setdefault(repository, {})[digest] = children(base64.b64decode(encoded))
        return {"tags": tags, "manifests": manifests}


class StoresInS3(FactBase):
    """Whether the registry's configuration on the host (writable.yml, as the deploy rendered it) keeps the
    data in an S3 bucket; False when there is none yet."""

    def command(self, path) -> str:
        return f"grep -qx '  s3:' {shlex.quote(path)} 2>/dev/null && echo yes || echo no"

    def process(self, output):
        return bool(output) and output[0].strip() == "yes"


def http_status_command(url: str, resolve_name: str | None = None, cacert: str | None = None, head: bool = False,
                        seconds: int = 5) -> str:
    """curl printing the HTTP status this host gets for `url` ("000" when nothing answers within `seconds`),
    with `resolve_name` resolved to 127.0.0.1 (so a certificate is checked for the name clients use), `cacert`
    trusted, and a HEAD request when `head`."""
    options = ["-s", "-o", "/dev/null", "-m", str(seconds), "-w", "%{http_code}", *(["-I"] if head else [])]
    if resolve_name:
        port = url.rsplit(":", 1)[1].split("/")[0]
        options += ["--resolve", f"{resolve_name}:{port}:127.0.0.1"]
    if cacert:
        options += ["--cacert", cacert]
    return f"{shlex.join(['curl', *options, url])} || true"


class HttpCode(FactBase):
    """The HTTP status this host gets for a URL (see http_status_command); None without curl."""

    # pyinfra passes a fact's arguments by the names its command() declares: each is named here.
    def requires_command(self, url, resolve_name=None, cacert=None, head=False, seconds=5) -> str:
        return "curl"

    def command(self, url, resolve_name=None, cacert=None, head=False, seconds=5) -> str:
        return http_status_command(url, resolve_name, cacert, head, seconds)

    def process(self, output):
        return output[0].strip() if output else "000"


# HAProxy's runtime API, root only (files/haproxy.cfg.j2 creates it).
HAPROXY_SOCKET = "/run/haproxy/admin.sock"


def haproxy_command(command: str) -> str:
    """The shell command that sends `command` to HAProxy's runtime API."""
    return f"echo {shlex.quote(command)} | socat stdio {HAPROXY_SOCKET}"


# Columns of HAProxy's `show stat` (CSV: proxy, server, ...): the requests a server serves now, its status.
SESSIONS_COLUMN = 5
STATUS_COLUMN = 18


class BalancedServers(FactBase):
    """
    {server: status ("UP", "DOWN", "DRAIN", "MAINT", ...)} for each server of a backend of the running
    HAProxy; {} when it does not run, None without socat.
    """

    def requires_command(self, backend) -> str:
        return "socat"

    def command(self, backend) -> str:
        return (f"{haproxy_command('show stat')} 2>/dev/null | awk -F, -v b={shlex.quote(backend)}"
                f" '$1 == b && $2 != \"FRONTEND\" && $2 != \"BACKEND\" {{ print $2 \",\" ${STATUS_COLUMN} }}'"
                " || true")

    def process(self, output):
        return dict(line.split(",", 1) for line in output)
