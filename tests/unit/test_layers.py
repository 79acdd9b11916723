"""core/ is pure logic: importing all of it loads nothing of pyinfra (so it runs, and is tested, anywhere)."""

import subprocess
import sys

from sandbox.settings import ROOT

CORE = sorted(path.stem for path in (ROOT / "core").glob("*.py") if path.stem != "__init__")


def test_core_imports_nothing_of_pyinfra():
    script = (f"import sys; import {', '.join(f'core.{name}' for name in CORE)};"
              " print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('pyinfra')}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert len(CORE) >= 7 and done.stdout.strip() == "[]"
