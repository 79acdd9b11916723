"""A private Docker registry with its web UI: `pyinfra inventory/<env>.py deploy.py`."""

from pyinfra import host

from ops.data import validate
from tasks.engine import docker_engine
from tasks.health import health
from tasks.images import images
from tasks.maintenance import maintenance_tools
from tasks.registry import registry
from tasks.storage import registry_storage
from tasks.ui import ui

validate(host)  # inventories call validate_before_connect(); this guards any other entry point

docker_engine()
images()
registry_storage()
registry()
maintenance_tools()
ui()
health()
