"""The scheduler's facts and operations (core/scheduler.py): what a host holds of it (the scheduler's key in
authorized_keys, its own host keys, the scheduler's files), its authorized key put right or taken away, and
the scheduler's copy of the project and virtualenv installed so that an interrupted install is finished by
the next run and a timer never starts a half-made copy."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, operation
from pyinfra.api.exceptions import OperationError

from core import ROOT
from core.scheduler import CONFIG, HOME, KEY_COMMENT, UNITS, digest

# The control machine's cache of the wheels each scheduler's Python needs (git-ignored).
WHEELS_CACHE = ROOT / ".cache" / "scheduler-wheels"


class SchedulerTraces(FactBase):
    """What a host holds of the scheduler: {"home": the login user's home, "keys": the scheduler keys its
    authorized_keys holds (whole lines), "host_keys": its SSH host keys ("type base64"), "installed": whether
    it holds the scheduler's files or units}."""

    def command(self, user) -> str:
        quoted = shlex.quote(user)
        return (f"home=$(getent passwd {quoted} | cut -d: -f6); echo \"@home $home\"; "
                f"[ -f \"$home/.ssh/authorized_keys\" ] && grep -F ' {KEY_COMMENT}@' \"$home/.ssh/authorized_keys\""
                " | sed 's/^/@key /'; "
                "for k in /etc/ssh/ssh_host_*_key.pub; do"
                " [ -f \"$k\" ] && echo \"@host-key $(cut -d' ' -f1,2 \"$k\")\"; done; "
                f"ls -d {CONFIG} {HOME} {UNITS}/registry-scheduled-* 2>/dev/null | sed 's/^/@installed /'; true")

    def process(self, output):
        found = {"home": None, "keys": [], "host_keys": [], "installed": []}
        for line in output:
            key, _, value = line.partition(" ")
            if key == "@home":
                found["home"] = value.strip() or None
            elif key in ("@key", "@host-key", "@installed"):
                found[{"@key": "keys", "@host-key": "host_keys", "@installed": "installed"}[key]].append(value.strip())
        return found


@operation()
def scheduler_traces(user: str, key: str | None, keep: list[str]):
    """
    Ensure the login user's authorized_keys holds the scheduler's key `key` (None: no scheduler key), and
    that the host holds none of the scheduler's files and units but those in `keep`.

    + user: the login user the scheduler connects as
    + key: the authorized_keys line for the scheduler's key, or None
    + keep: the scheduler's paths this host keeps (on the scheduler host, its install and its chores' units)
    """
    traces = host.get_fact(SchedulerTraces, user=user) or {}
    home = traces.get("home")
    changed = False
    if traces.get("keys") != ([key] if key else []):
        if not home:
            raise OperationError(f"{user} has no home directory to authorize the scheduler's key in")
        owner = f"-o {shlex.quote(user)} -g \"$(id -gn {shlex.quote(user)})\""
        keys = shlex.quote(f"{home}/.ssh/authorized_keys")
        add = f" && printf '%s\\n' {shlex.quote(key)} >> {keys}.new" if key else ""
        yield (f"install -d -m 700 {owner} {shlex.quote(home + '/.ssh')} && rm -f {keys}.new"
               f" && install -m 600 {owner} /dev/null {keys}.new"
               f" && {{ grep -v -F ' {KEY_COMMENT}@' {keys} 2>/dev/null || true; }} >> {keys}.new{add}"
               f" && mv {keys}.new {keys}")
        changed = True
    gone = [path for path in traces.get("installed", []) if path not in keep]
    if gone:
        timers = [Path(path).name for path in gone if path.endswith(".timer")]
        if timers:
            yield f"systemctl disable --now {' '.join(shlex.quote(t) for t in timers)} || true"
        yield f"rm -rf {' '.join(shlex.quote(path) for path in gone)}"
        if any(path.startswith(f"{UNITS}/") for path in gone):
            yield "systemctl daemon-reload"
        changed = True
    if not changed:
        host.noop("the scheduler's key and files are as they should be")


class SchedulerInstall(FactBase):
    """The scheduler's install under HOME: {"project": the link's target, "venv": the link's target, "complete":
    the copies and virtualenvs finished, "all": every copy and virtualenv, "python": "MAJOR.MINOR MACHINE" of
    the host's python3, or None}."""

    def command(self) -> str:
        return (f"cd {HOME} 2>/dev/null && {{ echo \"@project $(readlink project)\"; echo \"@venv $(readlink venv)\";"
                " for d in project-* venv-*; do [ -d \"$d\" ] || continue; echo \"@all $d\";"
                " [ -e \"$d/.complete\" ] && echo \"@complete $d\"; done; };"
                " python3 -c 'import sys, platform; print(\"@python %d.%d %s\" % (sys.version_info[0],"
                " sys.version_info[1], platform.machine()))' 2>/dev/null; true")

    def process(self, output):
        found = {"project": None, "venv": None, "complete": [], "all": [], "python": None}
        for line in output:
            key, _, value = line.partition(" ")
            value = value.strip()
            if key in ("@project", "@venv", "@python"):
                found[key[1:]] = value or None
            elif key in ("@complete", "@all"):
                found[key[1:]].append(value)
        return found


def wheelhouse(requirements: bytes, python: str, machine: str) -> Path:
    """A tar of the wheels `requirements` needs on CPython `python` (MAJOR.MINOR) on a glibc Linux `machine`,
    downloaded by the control machine's pip once (from its package index, as configured for it) and kept."""
    version = f"{digest(requirements)}-py{python}-{machine}"
    archive = WHEELS_CACHE / f"{version}.tar"
    if archive.exists():
        return archive
    directory = WHEELS_CACHE / version
    directory.mkdir(parents=True, exist_ok=True)
    listed = directory / "requirements.txt"
    listed.write_bytes(requirements)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--implementation", "cp",
         "--python-version", python, "--platform", f"manylinux2014_{machine}", "--platform",
         f"manylinux_2_28_{machine}", "--dest", str(directory), "-r", str(listed)],
        capture_output=True, text=True)
    if done.returncode != 0:
        raise OperationError(f"pip could not download the scheduler's wheels for Python {python} on {machine}:"
                             f" {done.stderr.strip()[-1500:]}")
    temporary = archive.with_suffix(".tmp")
    with tarfile.open(temporary, "w") as tar:
        for wheel in sorted(directory.glob("*.whl")):
            tar.add(wheel, arcname=wheel.name)
    temporary.replace(archive)
    return archive


@operation()
def scheduler_install(project: bytes, requirements: bytes):
    """
    Ensure HOME/project is the copy of the project `project` (a tar) and HOME/venv a virtualenv with
    `requirements`, each made beside the one in use under a name of its own, marked complete last, and
    switched to by renaming a link: an install cut off anywhere leaves the old ones in use and its half-made
    directory to be made again by the next run.

    + project: the project's copy, as core.scheduler.project_archive made it
    + requirements: requirements.txt's content
    """
    found = host.get_fact(SchedulerInstall) or {}
    if not found.get("python"):
        yield "echo 'python3 is missing: the step before this installs it' >&2; false"
        return
    python, machine = found["python"].split()
    project_dir, venv_dir = f"project-{digest(project)}", f"venv-{digest(requirements)}-py{python}"
    wanted = {project_dir, venv_dir}
    changed = False
    home = shlex.quote(HOME)
    if project_dir not in found["complete"]:
        yield f"mkdir -p -m 755 {home} && rm -rf {home}/{project_dir} {home}/{project_dir}.tar"
        yield FileUploadCommand(BytesIO(project), f"{HOME}/{project_dir}.tar")
        yield (f"cd {home} && mkdir {project_dir} && tar -xf {project_dir}.tar -C {project_dir} --no-same-owner"
               f" && rm {project_dir}.tar && touch {project_dir}/.complete")
        changed = True
    if venv_dir not in found["complete"]:
        wheels = wheelhouse(requirements, python, machine)
        yield f"mkdir -p -m 755 {home} && rm -rf {home}/{venv_dir} {home}/{venv_dir}.wheels {home}/{venv_dir}.tar"
        yield FileUploadCommand(str(wheels), f"{HOME}/{venv_dir}.tar")
        yield (f"cd {home} && mkdir {venv_dir}.wheels && tar -xf {venv_dir}.tar -C {venv_dir}.wheels"
               f" && python3 -m venv {venv_dir} && {venv_dir}/bin/pip install --quiet --no-index"
               f" --find-links {venv_dir}.wheels -r {project_dir}/requirements.txt"
               f" && rm -rf {venv_dir}.wheels {venv_dir}.tar && touch {venv_dir}/.complete")
        changed = True
    for link, target in (("project", project_dir), ("venv", venv_dir)):
        if found.get(link) != target:
            yield f"cd {home} && ln -sfn {target} {link}.new && mv -T {link}.new {link}"
            changed = True
    stale = [name for name in found["all"] if name not in wanted]
    if stale:
        yield f"cd {home} && rm -rf {' '.join(shlex.quote(name) for name in stale)}"
        changed = True
    if not changed:
        host.noop(f"the scheduler runs {project_dir} with {venv_dir}")
