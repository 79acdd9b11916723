"""The sandbox hosts as registry replicas on one S3 bucket: `python -m sandbox up --hosts N --s3` makes the
hosts and the object store (a single-node Ceph); each replica serves the same images.

The hosts are also in the `sandbox` group, so group_data/sandbox.py (offline images, the sandbox's secrets
directory, which holds the object store's secret key) applies as it does to inventory/sandbox.py.
"""

from sandbox.hosts import inventory_data, read_state
from sandbox.object_store import s3_state

_state = read_state()
_store = s3_state() or {}

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
    for _host in _state["hosts"]
]

registry_clients = [name for name, _ in registry_hosts]
sandbox = [name for name, _ in registry_hosts]
