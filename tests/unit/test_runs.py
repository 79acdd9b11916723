"""What a pyinfra run says, as the tests read it: an aborted run never reads as "nothing changed"."""

import json

import pytest

from dev.operator import Run, RunFailed

NOTHING_CHANGED = json.dumps({"results": {"operations": [{"name": "op", "success": [], "error": []}]}})


def test_a_run_that_changed_nothing_says_so():
    assert Run(0, NOTHING_CHANGED, "").changes() == []


@pytest.mark.parametrize("returncode,stdout", [
    (1, ""),  # every host failed: pyinfra prints no JSON, and changed() alone would read []
    (1, NOTHING_CHANGED),  # one host failed
    (0, ""),  # no results at all
])
def test_a_failed_or_empty_run_is_never_nothing_changed(returncode, stdout):
    assert Run(returncode, stdout, "boom").changed() == []
    with pytest.raises(RunFailed, match=f"pyinfra exited {returncode}"):
        Run(returncode, stdout, "boom").changes()
