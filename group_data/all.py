"""Every tunable of the deploy, with its default. Override per inventory (group_data/<inventory>.py),
per host (in the inventory) or per run (`--data key=value`). The README's table lists the same keys."""

# --- Docker engine ---------------------------------------------------------------------------------
# Debian/Ubuntu: "distribution" installs the release's docker.io; "docker-ce" uses Docker's apt repo.
# RHEL-family hosts always use Docker's docker-ce repo.
docker_package_source = "distribution"
# Pin docker.io to this exact Debian package version; None takes the one the release ships.
docker_io_version = None
# docker-ce and docker-ce-cli version as the host's package manager spells it. RPM: [epoch:]version-release
# (CentOS 7: "18.09.9-3.el7", the original target); apt: e.g. "5:24.0.9-1~debian.12~bookworm".
docker_ce_version = "18.09.9-3.el7"
# Where Docker's package repositories live (yum/dnf: <url>/linux/centos/docker-ce.repo).
docker_ce_repo_url = "https://download.docker.com"
# CentOS 7 is end-of-life and its mirrors are gone: a vault base URL (e.g. a local mirror of
# vault.centos.org/7.9.2009) to point the base repos at; None leaves the repos alone.
centos_vault_baseurl = None
# daemon.json: pull-through mirrors and registries the engine may reach over plain HTTP.
docker_registry_mirrors = []
docker_insecure_registries = []
# daemon.json: container log rotation (json-file driver).
docker_log_max_size = "10m"
docker_log_max_file = 3

# --- Images ----------------------------------------------------------------------------------------
# Pinned by tag. A registry:3 image reads its config from /etc/distribution instead.
registry_image = "registry:2.8.3"
# The Joxit UI; 2.x tags proxy /v2 via NGINX_PROXY_PASS_URL, the legacy "static" tag via REGISTRY_URL.
ui_image = "joxit/docker-registry-ui:2.5.7"
# "pull" from the image's registry, or "archives": upload <image_archive_dir>/<image>.tar (name with
# "/" and ":" as "_", as `docker save` wrote it) and `docker load` it when the host lacks that image.
image_source = "pull"
image_archive_dir = "images"

# --- Storage ---------------------------------------------------------------------------------------
# "volume": the named Docker volume below; "bind": the host directory below. Never removed by the deploy.
registry_storage = "volume"
registry_volume = "registry-vol"
registry_bind_path = "/mnt/registry"

# --- Registry --------------------------------------------------------------------------------------
registry_container = "registry"
registry_port = 5000
# Allow deleting manifests through the API (the UI's delete button, repository deletion).
registry_delete_enabled = True
# The registry configuration placed on the hosts (relative to the directory pyinfra runs in). A new one
# replaces the old only after a trial registry started with it.
registry_config_src = "files/config.yml"
# Host directory holding it as config.yml, mounted read-only into the registry.
registry_config_dir = "/etc/registry"

# --- UI --------------------------------------------------------------------------------------------
ui_enabled = True
ui_container = "registry-ui"
ui_port = 5050
ui_title = "Docker registry"
# Show delete buttons (deletes also need registry_delete_enabled).
ui_delete_images = True

# --- Firewall (RHEL family) ------------------------------------------------------------------------
# When firewalld runs, open registry_port and ui_port in it (runtime and permanent).
firewalld_open_ports = True

# --- Maintenance (gc.py, delete_repos.py, prune_repos.py, the registry-gc timer) --------------------
# Seconds a chore, or a deploy's change to the registry, waits for another chore's lock before failing
# with a message naming who holds it.
maintenance_lock_timeout = 300
# Seconds the scheduled GC may run before systemd stops it (the registry is then switched back).
maintenance_timeout = 3600
# gc.py: list the blobs that would go, remove nothing.
gc_dry_run = False
# GC also removes manifests no tag points to.
gc_delete_untagged = False
# Scheduled GC: a systemd OnCalendar expression (e.g. "Sun *-*-* 03:00:00"); None: no timer.
gc_schedule = None
# delete_repos.py: the repositories to delete, e.g. --data repositories=team/app,hello
repositories = []

# --- Health gate and output ------------------------------------------------------------------------
# Seconds to wait for the registry and the UI to answer before failing the host (also after each
# restart a maintenance chore makes).
health_timeout = 60
# The URLs printed for operators; None: http://<inventory host name>:<port>.
registry_public_url = None
ui_public_url = None
