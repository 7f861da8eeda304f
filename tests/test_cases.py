"""Case selection on hand-built comparisons: which images, in which order, and how they are described."""

from __future__ import annotations

import numpy as np
import pytest

from shiftlab.app.cases import (
    case_caption,
    confidence_drop,
    outcome_mask,
    outcomes_for,
    page_count,
    page_of,
    ranked,
    select_cases,
)
from shiftlab.app.experiment import compare

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
    ("outcome", "expected"),
    [
        ("correct_to_wrong", [2, 0]),  # both broke; p(label) fell by 0.75 (image 2) and 0.6 (image 0)
        ("wrong_to_correct", [1]),
        ("flips", [2, 0, 1]),  # predictions changed on images 0, 1, 2; image 1's p(label) rose
        ("stays_correct", [4]),
        ("confidently_wrong", [2]),  # wrong after the shift with confidence 0.95 (image 0: 0.7, image 3: 0.6)
    ],
)
def test_select_cases_by_confidence_drop(comparison, outcome, expected):
    np.testing.assert_array_equal(select_cases(comparison, outcome, confidence_drop(comparison)), expected)


def test_confidence_drop_is_the_fall_of_the_labels_probability(comparison):
    np.testing.assert_allclose(confidence_drop(comparison), [0.6, -0.4, 0.75, -0.1, 0.05])


def test_cases_sort_by_any_key(comparison):
    drift = np.array([0.1, 0.9, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(select_cases(comparison, "flips", drift), [1, 2, 0])


def test_outcomes_without_labels_are_flips_and_stays():
    unlabelled = compare(LABELS, False, SOURCE, SHIFTED)
    assert outcomes_for(unlabelled) == ["flips", "stays"]
    np.testing.assert_array_equal(outcome_mask(unlabelled, "stays"), [False, False, False, True, True])
    with pytest.raises(ValueError, match="unknown outcome"):
        outcome_mask(unlabelled, "nonsense")


def test_paging():
    assert page_count(0, 20) == 1 and page_count(20, 20) == 1 and page_count(41, 20) == 3
    indices = np.arange(45)
    np.testing.assert_array_equal(page_of(indices, 3, 20), np.arange(40, 45))


def test_caption_colours_right_and_wrong(comparison):
    text = case_caption(comparison, 0, CLASSES, "cat")
    assert text == "#0 · label **cat**  \n:red-background[**now wrong**]  \n:green[cat 90%] → :red[dog 70%]"
    assert case_caption(comparison, 1, CLASSES, None) == (
        "#1  \n:green-background[**now correct**]  \n:red[dog 60%] → :green[cat 80%]")


def test_caption_never_colours_an_unlabelled_model():
    unlabelled = compare(LABELS, False, SOURCE, SHIFTED)
    assert case_caption(unlabelled, 0, CLASSES, "cat") == (
        "#0 · label **cat**  \n:gray-background[**changed**]  \ncat 90% → dog 70%")
