"""Back up each registry's data: `pyinfra inventory/<env>.py backup.py` (to registry_backup_dir on this machine, one
archive per host with its manifest and checksum), or `--data registry_backup_host_dir=/path` to keep it on the host."""

from pyinfra import host

from core import topology
from ops.pyinfra_internals import validate_host
from tasks.backup import backup
from tasks.host_scripts import host_scripts, private_uploads

validate_host(host)
private_uploads()

if topology.is_registry(host):
    host_scripts()
backup()  # on S3 storage one archive of the bucket, across the replicas
