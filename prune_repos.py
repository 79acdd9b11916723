"""Remove repositories with no tag left (what UI deletes leave behind), then collect their garbage:
`pyinfra inventory/<env>.py prune_repos.py`."""

from pyinfra import host

from core.data import validate
from tasks.maintenance import prune_repositories
from tasks.tools import host_tools, private_uploads

validate(host)
private_uploads()

if "registry_hosts" in host.groups:
    host_tools()
prune_repositories()  # on S3 storage across the replicas, the load balancers draining each in turn
