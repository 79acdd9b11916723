"""What every host is doing, changing nothing: `pyinfra -y inventory/<env>.py status.py` prints, once every
host has answered, a block per host: its roles; the registry's image and container state, storage and
what it holds (blobs, bytes, repositories, tags), read-only or writable, the chore running (the lock's
holder), the last chore and how it ended; a load balancer's replicas as HAProxy sees them; each pull-through
mirror's container and cache; the scheduler's chores, each one's last run, how it ended and the next; the
days left on the certificate. `--data registry_status_format=json` prints
the same as JSON, on stdout."""

from pyinfra import host, inventory

from ops.pyinfra_internals import validate_host
from ops.status import collect

validate_host(host)
collect(inventory, host.data)
