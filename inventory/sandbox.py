"""The sandbox hosts made by `python -m sandbox up`, reached over SSH on 127.0.0.1.

Every host runs a registry and is a client of the others (they reach each other by name on the sandbox's
internal network). Odd-numbered hosts keep registry data in a bind mount, even ones in the named volume, so
any run on two hosts proves both storage modes. $SANDBOX_MONITOR (host names, comma-separated) puts those
hosts in registry_monitor too: Prometheus on them, watching every registry. $SANDBOX_HOST_DATA (JSON: host
name -> data) gives single hosts data of their own (a pull-through mirror on one host whose upstream is
another).
"""

import json
import os

from sandbox.hosts import inventory_data, read_state

_state = read_state()
_own = json.loads(os.environ.get("SANDBOX_HOST_DATA") or "{}")

registry_hosts = [
    (_host["name"], {**inventory_data(_host, _state), "registry_storage": "bind" if _index % 2 else "volume",
                     **_own.get(_host["name"], {})})
    for _index, _host in enumerate(_state["hosts"])
]

registry_clients = [name for name, _ in registry_hosts]
registry_monitor = [name for name in os.environ.get("SANDBOX_MONITOR", "").split(",") if name]
