"""Where the deploy's host-side scripts (files/registry-*.sh) and the state they share live on each host."""

COMMON_LIBRARY = "/usr/local/lib/registry-deploy/common.sh"
# Where the deploy writes its systemd units (timers, services).
SYSTEMD_UNITS = "/etc/systemd/system"
CONTAINER_SCRIPT = "/usr/local/sbin/registry-container"
MAINTENANCE_SCRIPT = "/usr/local/sbin/registry-maintenance"
# Held by every maintenance chore and every deploy change to the registry (flock, released when the
# holder dies, SIGKILL included). In a directory only root may enter (not the world-writable /run/lock):
# no other user can hold the lock, plant its files, or read who holds it.
LOCK = "/run/registry-maintenance/lock"
# The access proxy's runtime API (HAProxy's admin socket), through which a chore switches the proxy between
# the registry and its read-only twin: in the proxy's container, on a volume of its own (root only on the
# host, where the chores find it by the volume's mount point).
PROXY_RUNTIME_DIR = "/var/lib/registry-auth"
PROXY_SOCKET_NAME = "admin.sock"
PROXY_SOCKET = f"{PROXY_RUNTIME_DIR}/{PROXY_SOCKET_NAME}"


def proxy_runtime_volume(data) -> str:
    return f"{data.registry_auth_proxy_container}-runtime"

# Written before the registry is switched read-only, removed once a write was accepted again.
READ_ONLY_MARK = "/var/lib/registry-maintenance/read-only"
# "SESSION PID" of the process keeping the lock between the steps of a chore across replicas (gc.py on S3
# storage): it lets go when the step's SSH connection ends, so a killed run never keeps it.
HOLD = "/run/registry-maintenance/hold"
# In a storage place a migration copies into, from before the copy until the registry runs on it: what such a
# place holds is an unfinished copy (a migration killed mid-way), never data a registry served; the next
# migration clears it and copies again.
MIGRATION_INCOMPLETE = ".migration-incomplete"
# "CHORE started|ok|failed EPOCH": the last chore that ran on this host and how it ended; "started" with no
# chore holding the lock is one that was killed (SIGKILL, a power loss) before it could say.
LAST_CHORE = "/var/lib/registry-maintenance/last-chore"
# "EPOCH" files named CHORE.ok and CHORE.failed: when each chore last ended so (a chore killed before it
# could say is written as failed, at its start, by the next one): what the chores' metrics report.
CHORE_RESULTS = "/var/lib/registry-maintenance/chores"
# "BLOBS_BEFORE BYTES_BEFORE BLOBS_AFTER BYTES_AFTER EPOCH" of the last garbage collection that removed.
LAST_GC = "/var/lib/registry-maintenance/last-gc"
# The node exporter's textfile collector directory (Debian's): the chores write registry.prom there, the
# deploy registry-certificate.prom.
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
CHORE_METRICS = "registry.prom"
CERTIFICATE_METRICS = "registry-certificate.prom"
# The major version of the last registry that served this host's data: a registry 2 is not handed data a
# registry 3 served unless the operator says so (registry_allow_downgrade).
SERVED_BY = "/var/lib/registry-maintenance/served-by"
