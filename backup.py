"""Back up each registry's data: `pyinfra inventory/<env>.py backup.py` (to backup_dir on this machine, one
archive per host with its manifest and checksum), or `--data backup_host_dir=/path` to keep it on the host."""

from pyinfra import host

from core.data import validate
from tasks.backup import backup
from tasks.tools import host_tools, private_uploads

validate(host)
private_uploads()

if "registry_hosts" in host.groups:  # clients and load balancers hold no registry
    host_tools()
    backup()
