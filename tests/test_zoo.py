"""The README's model table is the one the model cards produce."""

from __future__ import annotations

import pytest

from shiftlab.zoo import README, markdown_table, readme_with_table, zoo_rows


def test_readme_table_matches_the_cards():
    text = README.read_text()
    assert readme_with_table(text, markdown_table(zoo_rows())) == text, "run: python -m shiftlab.zoo --write-readme"


def test_every_shipped_cifar_model_has_a_row_with_figures():
    rows = [r for r in zoo_rows() if r["dataset"] == "cifar10"]
    assert rows and all(r["accuracy"] is not None for r in rows)


def test_missing_markers_are_an_error():
    with pytest.raises(ValueError, match="zoo-table"):
        readme_with_table("no table here", "| x |")
