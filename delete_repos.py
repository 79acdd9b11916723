"""Delete whole repositories, gone from the catalog and the disk:
`pyinfra inventory/<env>.py delete_repos.py --data repositories=team/app,other`."""

from pyinfra import host

from ops.data import validate
from tasks.maintenance import delete_repositories, maintenance_tools

validate(host)

maintenance_tools()
delete_repositories()
