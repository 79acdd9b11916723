"""Delete whole repositories, gone from the catalog and the disk:
`pyinfra inventory/<env>.py delete_repos.py --data repositories=team/app,other`."""

from pyinfra import host

from core.data import validate
from tasks.maintenance import delete_repositories
from tasks.tools import host_tools, private_uploads

validate(host)
private_uploads()

if "registry_hosts" in host.groups:
    host_tools()
delete_repositories()  # on S3 storage across the replicas, the load balancers draining each in turn
