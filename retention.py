"""Keep the tags the rules say, delete the rest, collect their garbage:
`pyinfra inventory/<env>.py retention.py` (a dry run: says per repository what would go and what stays),
`... --data registry_retention_apply=True` to delete. Rules: registry_retention_rules (see
docs/retention-and-backup.md)."""

from pyinfra import host

from core import topology
from ops.pyinfra_internals import validate_host
from tasks.host_scripts import host_scripts, private_uploads
from tasks.retention import retention

validate_host(host)
private_uploads()

if topology.is_registry(host):
    host_scripts()
retention()  # on S3 storage across the replicas, the load balancers draining each in turn
