"""The sandbox hosts made by `python -m sandbox up`, reached over SSH on 127.0.0.1.

Every host runs a registry and is a client of the others (they reach each other by name on the sandbox's
internal network). Odd-numbered hosts keep registry data in a bind mount, even ones in the named volume, so
any run on two hosts proves both storage modes.
"""

from sandbox.hosts import read_state

_state = read_state()

registry_hosts = [
    (
        _host["name"],
        {
            "ssh_hostname": "127.0.0.1",
            "ssh_port": _host["ssh_port"],
            "ssh_user": "root",
            "ssh_key": _state["key"],
            # Each sandbox host is new, with a new host key, on a reused port.
            "ssh_strict_host_key_checking": "off",
            "ssh_known_hosts_file": "/dev/null",
            "registry_storage": "bind" if _index % 2 else "volume",
            # This machine reaches each host's ports on 127.0.0.1 (covered by the certificate too); the
            # scheme follows registry_tls.
            "registry_public_url": f"//127.0.0.1:{_host['registry_port']}",
            "ui_public_url": f"//127.0.0.1:{_host['ui_port']}",
        },
    )
    for _index, _host in enumerate(_state["hosts"])
]

registry_clients = [name for name, _ in registry_hosts]
