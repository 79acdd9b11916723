"""The deploy's own scripts on each host (files/registry-*.sh) and what they read: the configuration
directory and the client settings probes use. Placed before anything they manage."""

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.operations import files

from core import topology
from core.host_scripts import script_files
from ops.files import files_in_place, private_upload_directory


@deploy("Host scripts")
def host_scripts():
    data = host.data
    files.directory(
        name="Registry configuration directory exists, root only",
        path=data.registry_config_dir, user="root", group="root", mode="0700",
    )
    files_in_place(name="The host scripts, their settings and the probes' client settings are in place",
                   files=script_files(host.name, data, topology.replaced_in_turn(inventory, data),
                                      topology.node_exporter(host)))


@deploy("Uploads")
def private_uploads():
    """First on every host of every entry script: the directory pyinfra stages uploads in is the login
    user's alone before anything, secret or not, is uploaded."""
    private_upload_directory(name="pyinfra's upload directory is the login user's alone")
