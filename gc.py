"""Garbage collection with the registry read-only meanwhile:
`pyinfra inventory/<env>.py gc.py [--data registry_gc_dry_run=True] [--data registry_gc_delete_untagged=True]`."""

from pyinfra import host

from core import topology
from ops.pyinfra_internals import validate_host
from tasks.host_scripts import host_scripts, private_uploads
from tasks.maintenance import collect_garbage

validate_host(host)
private_uploads()

if topology.is_registry(host):
    host_scripts()
collect_garbage()  # on S3 storage across the replicas, the load balancers draining each in turn
