"""Data for the sandbox inventory: the offline images `python -m sandbox images` builds, and the sandbox's
own secrets directory (CA, passwords), under the git-ignored .sandbox."""

from sandbox.offline_images import HAPROXY_IMAGE, REGISTRY_IMAGE, UI_IMAGE
from sandbox.settings import IMAGE_DIR, SECRETS_DIR, SLOT_DIR

registry_image_source = "archives"
registry_image_archive_dir = str(IMAGE_DIR)
registry_image = REGISTRY_IMAGE
registry_ui_image = UI_IMAGE
registry_auth_proxy_image = HAPROXY_IMAGE
registry_ui_title = "Sandbox registry"
# The sandbox hosts answer fast; a failing one should fail the run quickly.
registry_health_timeout = 30
registry_secrets_dir = str(SECRETS_DIR)
# Every sandbox host's Docker logs in to every registry as this user (tests push and pull from the hosts).
registry_client_login = "admin"
# backup.py downloads the archives here, beside the sandbox's other state.
registry_backup_dir = str(SLOT_DIR / "backups")
