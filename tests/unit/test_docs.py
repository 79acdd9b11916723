"""The documentation names the tests that prove its claims: every test it names exists."""

import re

from core import ROOT


def test_every_test_the_docs_name_exists():
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)\(", path.read_text(), re.M))
    named = {(doc.name, name) for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
             for name in re.findall(r"\b(test_\w+)\b(?!\.py)", doc.read_text())}
    assert len(named) >= 20
    assert sorted((doc, name) for doc, name in named if name not in defined) == []
