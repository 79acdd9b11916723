"""pyinfra's own configuration file: pyinfra runs it, from the directory it runs in, before it loads the
inventory. From here every host's data (group_data, inventory, --data) is checked once loaded and before
pyinfra connects to any host, so bad data never reaches one."""

from pyinfra import config

from ops.data import validate
from ops.files import UPLOAD_DIR
from ops.pyinfra_internals import check_data_before_connect

check_data_before_connect(validate)
config.TEMP_DIR = UPLOAD_DIR  # made private by every entry script's first operation (tasks.tools.private_uploads)
