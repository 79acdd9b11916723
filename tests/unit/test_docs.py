"""The documentation names the tests that prove its claims: every test it names exists, in the file it
names when it names one (`test_file.py::test_name`)."""

import re

from core import ROOT

DOCS = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]


def _defined() -> dict[str, set[str]]:
    """Test file name -> the tests it defines."""
    return {path.name: set(re.findall(r"^def (test_\w+)\(", path.read_text(), re.M))
            for path in (ROOT / "tests").rglob("test_*.py")}


def test_every_test_the_docs_name_exists():
    defined = set().union(*_defined().values())
    named = {(doc.name, name) for doc in DOCS for name in re.findall(r"\b(test_\w+)\b(?!\.py)", doc.read_text())}
    assert len(named) >= 20
    assert sorted((doc, name) for doc, name in named if name not in defined) == []


def test_every_test_the_docs_name_with_its_file_is_in_that_file():
    defined = _defined()
    named = {(doc.name, file, name) for doc in DOCS
             for file, name in re.findall(r"\b(test_\w+\.py)::(test_\w+)", doc.read_text())}
    assert len(named) >= 20
    assert sorted(found for found in named if found[2] not in defined.get(found[1], set())) == []
