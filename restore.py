"""Restore a backup onto a registry: `pyinfra inventory/<env>.py restore.py --limit HOST
--data backup_archive=backups/<name>.tar` (refused onto a registry that holds tags unless restore_force)."""

from pyinfra import host

from core.data import validate
from tasks.backup import restore
from tasks.tools import host_tools, private_uploads

validate(host)
private_uploads()

if "registry_hosts" in host.groups:  # clients and load balancers hold no registry
    host_tools()
    restore()
