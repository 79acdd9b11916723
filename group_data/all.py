"""Every tunable of the deploy, with its default. Override per inventory (group_data/<inventory>.py),
per host (in the inventory) or per run (`--data key=value`). docs/variables.md's table is generated from
this file (`python -m dev.variables`): each variable's comment is its description there."""

# --- Docker engine ---------------------------------------------------------------------------------
# Debian/Ubuntu: "distribution" (the release's docker.io) or "docker-ce" (Docker's apt repo); the RHEL
# family uses docker-ce; "installed": keep the engine the host already has (any source), install none.
registry_docker_package_source = "distribution"
# Pin docker.io to this exact Debian package version; None takes the one the release ships.
registry_docker_io_version = None
# docker-ce and docker-ce-cli version as the package manager spells it: RPM "[epoch:]version-release"
# (CentOS 7: the original 18.09 target), apt e.g. "5:24.0.9-1~debian.12~bookworm".
registry_docker_ce_version = "18.09.9-3.el7"
# Base URL of Docker's package repositories (yum/dnf: <url>/linux/centos/..., apt: <url>/linux/<distro>).
registry_docker_ce_repo_url = "https://download.docker.com"
# Fingerprints of the keys allowed to sign registry_docker_ce_repo_url's packages (Docker's apt key, then its RPM
# key, as docs.docker.com prints them). The key file is downloaded, and installed only if every key in
# it is one of these; a mirror that signs with its own key needs its fingerprint here.
registry_docker_ce_key_fingerprints = ["9DC858229FC7DD38854AE2D88D81803C0EBFCD88",
                                       "060A61C51B558A7F742B77AAC52FEB6B621E9F35"]
# Allow plain http:// for registry_docker_ce_repo_url and registry_centos_vault_baseurl (packages are still signed;
# https is the default).
registry_docker_repo_allow_http = False
# CentOS 7 is end-of-life: a vault base URL (e.g. a local mirror of vault.centos.org/7.9.2009) for its
# base repos; None leaves them alone.
registry_centos_vault_baseurl = None
# More daemon.json settings, merged in (keys already on the host that the deploy does not set are kept).
registry_docker_daemon_options = {}
# daemon.json `registry-mirrors`: Docker Hub mirrors of your own for the engine, after the inventory's
# (registry_mirrors); a change reloads the engine, its containers keep running.
registry_docker_registry_mirrors = []
# daemon.json `insecure-registries`: registries the engine may reach over plain HTTP (a change reloads it).
registry_docker_insecure_registries = []
# daemon.json json-file `max-size` of each container's log.
registry_docker_log_max_size = "10m"
# daemon.json json-file `max-file`: how many rotated logs to keep.
registry_docker_log_max_file = 3

# --- Images ----------------------------------------------------------------------------------------
# The registry image, pinned by a version tag: registry 2 (registry:2.8.3) or 3 (registry:3.1.1), best with
# its digest too (registry:3.1.1@sha256:...: pulled by content, a re-pushed tag cannot change it). The tag
# says which configuration it gets (registry 3 reads /etc/distribution); the host checks the image agrees.
registry_image = "registry:2.8.3"
# 2 or 3, for a registry_image whose tag does not say (latest, a digest, a name of your own); None: the tag.
registry_major_version = None
# Let a host whose registry data a registry 3 served go back to registry 2 (refused otherwise).
registry_allow_downgrade = False
# The Joxit UI image (tag@digest pins it by content); 2.x tags proxy /v2 via NGINX_PROXY_PASS_URL, the legacy
# "static" tag via REGISTRY_URL.
registry_ui_image = "joxit/docker-registry-ui:2.6.0"
# "pull" from the image's registry, or "archives": upload and `docker load` <registry_image_archive_dir>/<image>.tar.
registry_image_source = "pull"
# Where the archives are, named as `docker save` wrote them with "/" and ":" as "_".
registry_image_archive_dir = "images"

# --- Storage ---------------------------------------------------------------------------------------
# "volume" (the named Docker volume), "bind" (the host directory), never removed by the deploy; or "s3":
# an S3 bucket that several replicas share (GC, deletion and pruning then run across all of them).
registry_storage = "volume"
# The named volume that holds the registry's data.
registry_volume = "registry-vol"
# The host directory that holds the registry's data (mode 0700, root; SELinux-labelled when enforcing).
registry_bind_path = "/mnt/registry"
# Allow a run that moves the registry to an empty place (another mode, volume or bind path) while the
# current one holds repositories: the data is copied there, read-only meanwhile, and verified.
registry_storage_migrate = False
# registry_storage = "s3": the object store's URL, http:// or https:// (addressed path-style). The secret
# key comes from $REGISTRY_S3_SECRET_KEY, else from <registry_secrets_dir>/s3-secret-key.
registry_s3_endpoint = None
# The bucket; it must exist (the registry does not create it, and without it every push fails).
registry_s3_bucket = None
# The region requests are signed for (any name an S3-compatible store such as Ceph accepts).
registry_s3_region = "us-east-1"
# The object store's access key.
registry_s3_access_key = None
# True only when clients can reach the object store themselves: pulls are then redirected to it.
registry_s3_redirect = False
# The bucket's capacity in bytes (the store's quota: S3 has none of its own), for the storage metrics and
# the RegistryStorageFilling alert; None: the bucket's size is not watched.
registry_s3_quota_bytes = None

# --- Load balancer (hosts in the registry_lb group) ------------------------------------------------
# The port clients reach the registry replicas on, through HAProxy; TLS and its certificate follow
# registry_tls, for the load balancer's registry_name (default: its inventory name).
registry_lb_port = 5000
# HAProxy's stats page, on 127.0.0.1 only.
registry_lb_stats_port = 8404

# --- Registry --------------------------------------------------------------------------------------
# The registry container's name.
registry_container = "registry"
# The registry's published port.
registry_port = 5000
# The address the registry's port is published on; None: all addresses (needed by the UI).
registry_bind_address = None
# The name clients reach the registry by (its certificate covers it); None: the inventory host name.
registry_name = None
# Allow deleting manifests through the API (the UI's delete button, repository deletion).
registry_delete_enabled = True
# Seconds a stopping registry (a restart, a replace, a maintenance switch) lets requests in flight finish;
# across replicas, also how long a load balancer waits for a replica it drains to finish its requests.
registry_drain_timeout = 30
# The registry configuration, relative to the directory pyinfra runs in; the deploy lays its own
# settings over it.
registry_config_src = "files/config.yml"
# Host directory (0700) holding the rendered configuration, keys and users, mounted read-only into
# the registry.
registry_config_dir = "/etc/registry"

# --- TLS and users ---------------------------------------------------------------------------------
# "self-signed" (a CA of the deploy's own), "provided" (registry_tls_cert and _key), or "off" (plain
# HTTP, with a warning).
registry_tls = "self-signed"
# More names and IP addresses the self-signed certificate covers (it always covers the host's name,
# registry_name, registry_public_url's host, localhost and 127.0.0.1).
registry_tls_names = []
# "provided": the certificate chain (PEM file on the control machine), covering registry_public_url's host.
registry_tls_cert = None
# "provided": the certificate's private key (PEM file on the control machine).
registry_tls_key = None
# "provided": the CA that signed it, for the hosts' own probes and the clients (None: the system's CAs).
registry_tls_ca = None
# "htpasswd" (users below, bcrypt) or "none" (anyone who can reach the registry may push and delete,
# with a warning).
registry_auth = "htpasswd"
# Registry users; each one's password is $REGISTRY_PASSWORD_<USER>, else the file
# <registry_secrets_dir>/passwords/<user> (made when missing).
registry_users = ["admin"]
# Control-machine directory (git-ignored, 0700) for the CA, certificates, passwords and hashes.
registry_secrets_dir = "inventory/secrets"

# --- Access: who may do what (registry_auth = "htpasswd") -----------------------------------------
# Rules, each granting a role on the repositories a glob matches: {"users": ["ci"], "repositories":
# "team-a/*", "role": "push"}. Roles: "pull"; "push" (and pull); "admin" (and delete). A user has what any
# rule gives them. None: every user of registry_users is admin of every repository. The built-in
# "registry-pull" user may pull every repository either way.
registry_access = None
# Users who may list every repository (/v2/_catalog, the UI's list); None: every user a rule names.
registry_catalog_users = None
# The access proxy in front of each registry (HAProxy, in a container on the host's network): it serves
# TLS on registry_port, checks each user's password (bcrypt) and rights, and passes what is allowed on.
registry_auth_proxy_image = "haproxy:2.8"
# Its container's name.
registry_auth_proxy_container = "registry-auth"
# The port the registry itself listens on behind the proxy, on 127.0.0.1 only.
registry_backend_port = 5001
# The port, on 127.0.0.1 only, of the registry's read-only twin: a chore starts it beside the registry and
# the proxy sends every request to it while the registry restarts read-only and back (no pull meets a
# restart; replicas switch all at once). Runs only during a chore's read-only window.
registry_readonly_port = 5003
# Seconds the proxy remembers a verified password (as an HMAC of it, in memory), so a pull costs one
# bcrypt check instead of one per request; 0: check every request.
registry_auth_cache_seconds = 300

# --- Clients (hosts in the registry_clients group, and the registry hosts themselves) --------------
# A user whose credentials registry_clients hosts `docker login` with: "registry-pull" (pull only), one of
# registry_users, or None (no login).
registry_client_login = "registry-pull"

# --- Pull-through mirrors (on every registry host) ------------------------------------------------
# Each entry a registry in proxy mode caching one upstream, with its own volume (registry-mirror-<name>),
# the registry's TLS, and with users on, the access proxy in front: any registry user's password, or the
# client certificate the deploy gives every client host, may pull; nothing may push or delete. Fields:
# "name", "upstream" (https:// URL of the registry's root; http:// needs "allow_http": True), "port";
# optional "backend_port" (loopback, behind the proxy; default port + 1000), "username" (its password from
# $REGISTRY_MIRROR_PASSWORD_<NAME>, else <registry_secrets_dir>/mirrors/<name>), "ca" (PEM file on the
# control machine the upstream's certificate chains to; default the public CAs), "ttl" (registry 3: how long
# the cache keeps what it fetched, e.g. "168h"; "0": for ever), "docker_hub" (clients list it in daemon.json
# registry-mirrors; default True when the upstream is Docker Hub's). E.g.
# [{"name": "hub", "upstream": "https://registry-1.docker.io", "port": 5010}]
registry_mirrors = []

# --- UI --------------------------------------------------------------------------------------------
# Run the UI (False removes its container).
registry_ui_enabled = True
# The UI container's name.
registry_ui_container = "registry-ui"
# The UI's published port (HTTPS when registry_tls is on).
registry_ui_port = 5050
# The UI's title (no ~ & < > " or newline: the UI's templating cannot take them).
registry_ui_title = "Docker registry"
# Show delete buttons in the UI (deletes also need registry_delete_enabled).
registry_ui_delete_images = True

# --- Firewall (RHEL family) ------------------------------------------------------------------------
# When firewalld runs, open registry_port and registry_ui_port in it (runtime and permanent).
registry_firewalld_open_ports = True

# --- Maintenance (gc.py, delete_repos.py, prune_repos.py, the registry-gc timer) --------------------
# Seconds a chore, or a deploy's change to the registry, waits for another chore's lock before failing.
registry_maintenance_lock_timeout = 300
# Seconds a scheduled GC or retention may run before systemd stops it (the registry is then switched back).
registry_maintenance_timeout = 3600
# gc.py: list the blobs that would go, remove nothing.
registry_gc_dry_run = False
# GC also removes manifests no tag points to: registry 3 only (registry 2 breaks multi-arch images).
registry_gc_delete_untagged = False
# Scheduled GC: a systemd OnCalendar expression (e.g. "Sun *-*-* 03:00:00"); None: no timer. With S3
# storage the registry_scheduler host runs it across the replicas (docs/cluster.md).
registry_gc_schedule = None
# delete_repos.py: the repositories to delete (a list, or comma-separated with --data).
registry_repositories = []

# --- Retention (retention.py) ----------------------------------------------------------------------
# Rules, the first whose glob matches a repository applies: {"repositories": "team/*", "keep_last": 10,
# "keep_days": 30, "keep_tags": ["latest", "v*"]}; a tag stays if any of them says so.
registry_retention_rules = []
# Delete what the rules let go; False (the default) only says what would go, per repository.
registry_retention_apply = False
# Scheduled retention, applying the rules: an OnCalendar expression; None: none. The registry_scheduler host
# runs it (docs/retention-and-backup.md).
registry_retention_schedule = None

# --- Scheduler (the registry_scheduler group: runs the scheduled chores with pyinfra) ----------------
# How the scheduler reaches this host over SSH (as the same login user): its name or address; None: the
# host's inventory name.
registry_scheduler_ssh_hostname = None
# The port the scheduler reaches this host's SSH server on.
registry_scheduler_ssh_port = 22

# --- Backup and restore (backup.py, restore.py) ----------------------------------------------------
# Control-machine directory the archives (and their manifests) are downloaded to.
registry_backup_dir = "backups"
# Keep the archive in this directory on the host instead of downloading it; None: download it.
registry_backup_host_dir = None
# restore.py: the archive to restore (its manifest, <name>.json, must be beside it).
registry_backup_archive = None
# restore.py onto a registry that already holds tags: replace them.
registry_restore_force = False

# --- Metrics and monitoring (Prometheus on the hosts of the registry_monitor group) ----------------
# The address every registry's metrics, every load balancer's HAProxy exporter and every node exporter
# listen on: "127.0.0.1" keeps them on the host; an address of the host (or "0.0.0.0") lets a Prometheus
# on another host scrape them (the registry's metrics port also serves Go's pprof: a network you trust
# only). None: no metrics, and no node exporter.
registry_metrics_address = "127.0.0.1"
# The registry's metrics port (GET /metrics), never its public one.
registry_metrics_port = 5002
# The load balancer's metrics port (HAProxy's Prometheus exporter, GET /metrics).
registry_lb_metrics_port = 8405
# The node exporter's port on each registry host. Its textfile collector serves the chores' metrics
# (read-only, lock, last chore, last GC) and the certificate's expiry. Installed (Debian, Ubuntu) when
# the inventory has a registry_monitor group, or when registry_node_exporter is True.
registry_node_exporter_port = 9100
# True: the node exporter on every registry host even without a registry_monitor group (for a Prometheus
# of your own); False: never; None: when the inventory has a registry_monitor group.
registry_node_exporter = None
# The registry_monitor hosts' Prometheus (from the OS packages): where its UI and API listen.
registry_prometheus_listen = "127.0.0.1:9090"
# How often it scrapes each target (and evaluates the alert rules of files/registry-alerts.yml).
registry_prometheus_interval = "15s"
# The alert rules the registry_monitor hosts load, relative to the directory pyinfra runs in: the shipped
# ones, or a file of your own (checked by promtool on the host before it replaces the live one).
registry_alert_rules = "files/registry-alerts.yml"
# Every alert rule's `for:` on the registry_monitor hosts (e.g. "5s" for a test); None: the shipped ones.
registry_alert_for = None

# --- Health gate and output ------------------------------------------------------------------------
# Seconds to wait for the registry and the UI to answer (also after each restart a chore makes).
registry_health_timeout = 60
# The registry URL operators use (the certificate covers its host); "//host:port" takes the scheme
# from registry_tls; None: <scheme>://<registry_name>:<registry_port>.
registry_public_url = None
# The UI URL printed for operators, written likewise; None: <scheme>://<registry_name>:<registry_ui_port>.
registry_ui_public_url = None
# status.py prints, once every host has answered: "table" (for people) or "json" (for scripts; on stdout,
# where pyinfra prints nothing of its own without --json).
registry_status_format = "table"
