"""Garbage collection with the registry read-only meanwhile:
`pyinfra inventory/<env>.py gc.py [--data gc_dry_run=True] [--data gc_delete_untagged=True]`."""

from pyinfra import host

from core.data import validate
from tasks.maintenance import collect_garbage
from tasks.tools import host_tools, private_uploads

validate(host)
private_uploads()

if "registry_hosts" in host.groups:
    host_tools()
collect_garbage()  # on S3 storage across the replicas, the load balancers draining each in turn
