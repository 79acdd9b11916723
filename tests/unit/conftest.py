import pytest

from dev.operator import Data, group_defaults


@pytest.fixture
def defaults(tmp_path):
    """group_data/all.py, the defaults every inventory starts from, with secrets made in a temporary directory."""
    return Data(group_defaults(), registry_secrets_dir=str(tmp_path / "secrets"))
