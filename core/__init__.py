"""Pure logic, run on the control machine only: data checks and derived settings, the inventory's shape,
every file rendered for a host, secrets material, access rules, the registry's YAML, retention decisions,
OpenPGP fingerprints. Nothing here imports pyinfra; each
module is unit-tested without a host. pyinfra's facts and operations are in ops/, the order of things in
tasks/."""

from pathlib import Path

# The project's folder: where files/ and group_data/ are read from, whatever directory pyinfra runs in.
ROOT = Path(__file__).resolve().parent.parent
