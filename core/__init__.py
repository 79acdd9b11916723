"""Pure logic, run on the control machine only: data checks and derived settings, secrets material, access
rules, the registry's YAML, retention decisions, OpenPGP fingerprints. Nothing here imports pyinfra; each
module is unit-tested without a host. pyinfra's facts and operations are in ops/, the order of things in
tasks/."""
