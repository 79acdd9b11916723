import pytest

from tests.support import Data, group_defaults


@pytest.fixture
def defaults():
    """group_data/all.py, the defaults every inventory starts from."""
    return Data(group_defaults())
