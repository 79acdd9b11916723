"""docs/variables.md's table of variables is group_data/all.py's, and every variable there says what it is for."""

import pytest

from dev.variables import DOC, SOURCE, START, UndocumentedVariable, table, variables, with_table


def test_the_document_lists_every_variable_as_group_data_defines_it():
    doc = DOC.read_text()
    assert START in doc, "docs/variables.md has lost its table's markers"
    assert with_table(doc, SOURCE.read_text()) == doc, "run: python -m dev.variables --write"


def test_every_variable_is_in_the_table_with_its_default():
    rendered = table(SOURCE.read_text())
    for _, name, default, _ in variables(SOURCE.read_text()):
        assert f"| `{name}` | `{default}` |" in rendered


def test_a_variable_without_a_comment_is_refused():
    with pytest.raises(UndocumentedVariable, match="new_knob has no comment"):
        variables("# --- Section ---\n# Documented.\nold_knob = 1\nnew_knob = 2\n")
