"""Case selection on hand-built comparisons: which images, in which order, and how they are described."""

from __future__ import annotations

import numpy as np
import pytest

from shiftlab.app.cases import case_caption, page_count, page_of, ranked, select_cases
from shiftlab.app.experiment import compare
from shiftlab.app.text import CASE_KINDS

CLASSES = ["cat", "dog"]
LABELS = np.array([0, 0, 1, 1, 0])
#: source predictions 0, 1, 1, 0, 0 -> right, wrong, right, wrong, right
SOURCE = np.log(np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]]))
#: shifted predictions 1, 0, 0, 0, 0 -> wrong, right, wrong, wrong, right
SHIFTED = np.log(np.array([[0.3, 0.7], [0.8, 0.2], [0.95, 0.05], [0.6, 0.4], [0.55, 0.45]]))


@pytest.fixture()
def comparison():
    return compare(LABELS, True, SOURCE, SHIFTED)


def test_ranked_orders_by_key_and_keeps_ties_in_index_order():
    mask = np.array([True, False, True, True])
    np.testing.assert_array_equal(ranked(mask, np.array([0.5, 9.0, 0.7, 0.5])), [2, 0, 3])


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("correct_to_wrong", [2, 0]),  # both broke; image 2 is wrong with 95 % confidence, image 0 with 70 %
        ("wrong_to_correct", [1]),
        ("confident_errors", [2, 0, 3]),  # wrong after the shift, by confidence 0.95, 0.7, 0.6
        ("confidence_drop", [2, 0, 4]),  # p(label) fell by 0.75, 0.6, 0.05; images 1 and 3 rose
    ],
)
def test_select_cases(comparison, kind, expected):
    np.testing.assert_array_equal(select_cases(comparison, kind), expected)


def test_every_kind_is_selectable(comparison):
    for kind in CASE_KINDS:
        select_cases(comparison, kind)
    with pytest.raises(ValueError, match="unknown case kind"):
        select_cases(comparison, "nonsense")


def test_paging():
    assert page_count(0, 20) == 1 and page_count(20, 20) == 1 and page_count(41, 20) == 3
    indices = np.arange(45)
    np.testing.assert_array_equal(page_of(indices, 3, 20), np.arange(40, 45))


def test_caption_colours_right_and_wrong(comparison):
    text = case_caption(comparison, 0, CLASSES, "cat")
    assert text == "label **cat**  \n:green[cat 90%] → :red[dog 70%]"
    assert case_caption(comparison, 1, CLASSES, None) == ":red[dog 60%] → :green[cat 80%]"
