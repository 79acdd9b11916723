"""Restore a backup onto a registry: `pyinfra inventory/<env>.py restore.py --limit HOST
--data registry_backup_archive=backups/<name>.tar` (refused onto a registry that holds tags unless
registry_restore_force)."""

from pyinfra import host

from core import topology
from ops.pyinfra_internals import validate_host
from tasks.backup import restore
from tasks.host_scripts import host_scripts, private_uploads

validate_host(host)
private_uploads()

if topology.is_registry(host):
    host_scripts()
restore()  # on S3 storage into the bucket, across the replicas
