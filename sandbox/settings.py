"""Where the sandbox keeps its state and how it names what it creates."""

import os
from pathlib import Path

from core import ROOT

STATE_DIR = ROOT / ".sandbox"
STATE_FILE = STATE_DIR / "state.json"
KEY_FILE = STATE_DIR / "id_ed25519"
IMAGE_DIR = STATE_DIR / "images"
SECRETS_DIR = STATE_DIR / "secrets"
# Released sources too big for the repository that the sandbox builds offline images from (distribution
# 3.1.1 for the registry 3 image): the one setting that names where they are. $SANDBOX_SOURCES overrides it.
SOURCES_DIR = Path(os.environ.get("SANDBOX_SOURCES", ROOT.parent / "shared" / "sources"))
# The hosts reach each other (by name) on this network only; it has no route off this machine.
NETWORK = "registry-sandbox-net"

# Every object the sandbox creates carries this label; `down` removes by it and by nothing else.
LABEL = "io.registry-deploy.sandbox"

HOST_PREFIX = "registry-sandbox-"
DEBIAN_SUITE = "bookworm"

# Published on 127.0.0.1 only, at BASE + host index.
SSH_PORT_BASE = 22200
REGISTRY_PORT_BASE = 25000
UI_PORT_BASE = 25050
