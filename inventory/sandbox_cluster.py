"""The sandbox hosts as registry replicas on one S3 bucket behind a load balancer: `python -m sandbox up
--hosts N --s3` makes the hosts and the object store (a single-node Ceph); the last host is the load
balancer, the others replicas. $SANDBOX_CLUSTER_HOSTS (names, comma-separated) picks some hosts instead.

The hosts are also in the `sandbox` group, so group_data/sandbox.py (offline images, the sandbox's secrets
directory, which holds the object store's secret key) applies as it does to inventory/sandbox.py.
"""

import os

from sandbox.hosts import inventory_data, read_state
from sandbox.object_store import s3_state

_state = read_state()
_store = s3_state() or {}
_chosen = [name for name in os.environ.get("SANDBOX_CLUSTER_HOSTS", "").split(",") if name]
_hosts = [h for h in _state["hosts"] if not _chosen or h["name"] in _chosen]

registry_hosts = [
    (
        _host["name"],
        {
            **inventory_data(_host, _state),
            "registry_storage": "s3",
            "registry_s3_endpoint": _store.get("endpoint"),
            "registry_s3_bucket": _store.get("bucket"),
            "registry_s3_region": _store.get("region"),
            "registry_s3_access_key": _store.get("access_key"),
        },
    )
    for _host in _hosts[:-1]
]
registry_lb = [(_host["name"], inventory_data(_host, _state)) for _host in _hosts[-1:]]

registry_clients = [name for name, _ in registry_hosts]
# The load balancer runs the scheduled chores too, when a deploy schedules any (it reaches every replica by name).
registry_scheduler = [name for name, _ in registry_lb]
sandbox = [_host["name"] for _host in _hosts]
