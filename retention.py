"""Keep the tags the rules say, delete the rest, collect their garbage:
`pyinfra inventory/<env>.py retention.py` (a dry run: says per repository what would go and what stays),
`... --data retention_apply=True` to delete. Rules: retention_rules (see docs/retention-and-backup.md)."""

from pyinfra import host

from core.data import validate
from tasks.retention import retention
from tasks.tools import host_tools, private_uploads

validate(host)
private_uploads()

if "registry_hosts" in host.groups:  # clients and load balancers hold no registry
    host_tools()
    retention()
