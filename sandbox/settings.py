"""Where the sandbox keeps its state and how it names what it creates."""

import os
from pathlib import Path

from core import ROOT

# Several sandboxes can run side by side on one machine (the test runner gives each of its workers one):
# $SANDBOX_SLOT (0 to 9, default 0) picks one. A slot's hosts, network, object store, published ports, SSH
# key, state and secrets are its own; only the images are shared. Slot 0 names everything as it always has.
SLOT = int(os.environ.get("SANDBOX_SLOT", "0"))
if not 0 <= SLOT <= 9:
    raise ValueError(f"SANDBOX_SLOT={SLOT}: a slot is 0 to 9")
NAMESPACE = "registry-sandbox" + (f"-s{SLOT}" if SLOT else "")

STATE_DIR = ROOT / ".sandbox"
IMAGE_DIR = STATE_DIR / "images"
SLOT_DIR = STATE_DIR / f"slot-{SLOT}" if SLOT else STATE_DIR
KEY_FILE = SLOT_DIR / "id_ed25519"
STATE_FILE = SLOT_DIR / "state.json"
SECRETS_DIR = SLOT_DIR / "secrets"
# Released sources too big for the repository that the sandbox builds offline images from (distribution
# 3.1.1 for the registry 3 image): the one setting that names where they are. $SANDBOX_SOURCES overrides it.
SOURCES_DIR = Path(os.environ.get("SANDBOX_SOURCES", ROOT.parent / "shared" / "sources"))
# The hosts reach each other (by name) on this network only; it has no route off this machine.
NETWORK = f"{NAMESPACE}-net"

# Every object the sandbox creates carries this label; `down` removes by it and by nothing else.
LABEL = "io.registry-deploy.sandbox"
SLOT_LABEL = f"{LABEL}.slot"

HOST_PREFIX = f"{NAMESPACE}-"
DEBIAN_SUITE = "bookworm"

# Published on 127.0.0.1 only, at BASE + host index (up to 49 hosts a slot), a hundred further on for each slot.
SSH_PORT_BASE = 22200 + 100 * SLOT
REGISTRY_PORT_BASE = 25000 + 100 * SLOT
UI_PORT_BASE = 25050 + 100 * SLOT

# The flags a systemd host with its own Docker engine needs here: --privileged is refused on these machines
# ("unable to apply caps": CAP_SYS_RESOURCE is not ours), so every capability but that one, unconfined
# seccomp, AppArmor and system paths, the host's cgroups. The SDK has no `systempaths=unconfined`: its API
# form is empty Masked/ReadonlyPaths.
SYSTEM_CONTAINER = dict(
    cap_add=["ALL"],
    cap_drop=["SYS_RESOURCE"],
    security_opt=["seccomp=unconfined", "apparmor=unconfined"],
    cgroupns="host",
    tmpfs={"/run": "", "/run/lock": ""},
)
UNCONFINED_PATHS = {"MaskedPaths": [], "ReadonlyPaths": []}
