"""Delete whole repositories, gone from the catalog and the disk:
`pyinfra inventory/<env>.py delete_repos.py --data registry_repositories=team/app,other`."""

from pyinfra import host

from core import topology
from ops.pyinfra_internals import validate_host
from tasks.host_scripts import host_scripts, private_uploads
from tasks.maintenance import delete_repositories

validate_host(host)
private_uploads()

if topology.is_registry(host):
    host_scripts()
delete_repositories()  # on S3 storage across the replicas, the load balancers draining each in turn
