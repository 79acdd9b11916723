import runpy

import pytest

from sandbox.config import ROOT


class Data(dict):
    """Deploy data as tasks read it (attributes) and as validation reads it (.get)."""

    __getattr__ = dict.__getitem__


@pytest.fixture
def defaults():
    """group_data/all.py, the defaults every inventory starts from."""
    return Data({k: v for k, v in runpy.run_path(str(ROOT / "group_data/all.py")).items()
                 if not k.startswith("__")})
