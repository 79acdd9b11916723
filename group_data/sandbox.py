"""Data for the sandbox inventory: the offline images `python -m sandbox images` builds."""

from sandbox.config import IMAGE_DIR
from sandbox.images import REGISTRY_IMAGE, UI_IMAGE

image_source = "archives"
image_archive_dir = str(IMAGE_DIR)
registry_image = REGISTRY_IMAGE
ui_image = UI_IMAGE
ui_title = "Sandbox registry"
# The sandbox hosts answer fast; a failing one should fail the run quickly.
health_timeout = 30
