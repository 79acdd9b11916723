"""Remove repositories with no tag left (what UI deletes leave behind), then collect their garbage:
`pyinfra inventory/<env>.py prune_repos.py`."""

from pyinfra import host

from core import topology
from ops.pyinfra_internals import validate_host
from tasks.host_scripts import host_scripts, private_uploads
from tasks.maintenance import prune_repositories

validate_host(host)
private_uploads()

if topology.is_registry(host):
    host_scripts()
prune_repositories()  # on S3 storage across the replicas, the load balancers draining each in turn
