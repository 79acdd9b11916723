"""How pyinfra is invoked: the inventory folder named instead of one of its files stops with one line."""

import subprocess

from dev.operator import PYINFRA, ROOT


def test_naming_the_inventory_folder_says_which_files_to_name():
    done = subprocess.run([PYINFRA, "-y", "inventory", "deploy.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    said = ("inventory is a folder: name one inventory file in it"
            " (inventory/production.py, inventory/sandbox.py, inventory/sandbox_cluster.py)")
    assert done.stderr.strip().splitlines() == ["--> Loading config...", said]
    assert "Traceback" not in done.stdout + done.stderr
