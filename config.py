"""pyinfra's own configuration file: pyinfra runs it, from the directory it runs in, before it loads the
inventory. From here every host's data (group_data, inventory, --data) is checked once loaded and before
pyinfra connects to any host, so bad data never reaches one."""

import sys
from pathlib import Path

from pyinfra import config

from ops.converged import watch_local_reads
from ops.files import UPLOAD_DIR
from ops.pyinfra_internals import check_data_before_connect, inventory_argument, validate_host

watch_local_reads()  # what the deploy decides from on this machine (ops/converged.py), the inventory too

# `pyinfra inventory deploy.py`, as Ansible's inventory folders taught: running every inventory of the folder
# would deploy the sandbox and production at once, and none is a safe default, so say which to name.
_given = inventory_argument()
if _given and Path(_given).is_dir():
    names = ", ".join(str(path) for path in sorted(Path(_given).glob("*.py")) if not path.name.startswith("_"))
    sys.exit(f"{_given} is a folder: name one inventory file in it ({names})")

check_data_before_connect(validate_host)
# Made private by every entry script's first operation (tasks.host_scripts.private_uploads).
config.TEMP_DIR = UPLOAD_DIR
