"""The sandbox hosts made by `python -m sandbox up`, reached over SSH on 127.0.0.1.

Odd-numbered hosts keep registry data in a bind mount, even ones in the named volume, so any run on
two hosts proves both storage modes.
"""

from sandbox.hosts import read_state

_state = read_state()

sandbox = [
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
            "registry_public_url": f"http://127.0.0.1:{_host['registry_port']}",
            "ui_public_url": f"http://127.0.0.1:{_host['ui_port']}",
        },
    )
    for _index, _host in enumerate(_state["hosts"])
]
