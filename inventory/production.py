"""An example production inventory: CentOS 7 hosts running Docker CE 18.09 (the original target).

Copy it, replace the placeholder hosts with yours, and run `pyinfra inventory/<yours>.py deploy.py`.
Per-host data overrides group_data/all.py (see docs/variables.md), e.g. registry_storage="bind".
Reach the hosts as you normally do: an SSH user with sudo (`--sudo`), keys from your agent.
"""

# Each runs a registry (TLS with the deploy's own CA, users from registry_users).
registry_hosts = [
    ("registry1.example.internal", {"ssh_user": "centos"}),
    ("registry2.example.internal", {"ssh_user": "centos", "registry_storage": "bind"}),
]

# Docker hosts that pull (and push): they get the registries' CA and a login as registry_client_login
# (default registry-pull: pull only).
registry_clients = [
    ("build1.example.internal", {"ssh_user": "centos"}),
]

# Prometheus (from the OS packages) watching every registry and load balancer above, with the alert rules
# of files/registry-alerts.yml (docs/monitoring.md). A registry it scrapes from another host needs its
# registry_metrics_address set to an address of its own; the default, 127.0.0.1, is refused here.
registry_monitor = []
