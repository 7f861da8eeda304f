"""One rule words what a shift did to a prediction on every page: by correctness where a label applies, kept or
changed where none does, each coloured by whether the prediction is right after the shift."""

from __future__ import annotations

import numpy as np
import pytest

from shiftlab.app.cases import OUTCOME_COLOURS, outcome, outcome_flag
from shiftlab.app.compare import PairPrediction
from shiftlab.app.text import OUTCOME_WORDS

CLASSES = ["airplane", "automobile", "truck"]


@pytest.mark.parametrize(("before", "after", "label", "key", "words", "colour"), [
    (1, 1, 1, "stays_correct", "stays correct", "green"),
    (2, 2, 1, "stays_wrong", "stays wrong", "red"),
    (2, 1, 1, "now_correct", "now correct", "green"),
    (1, 2, 1, "now_wrong", "now wrong", "red"),
    (0, 2, 1, "changed_still_wrong", "changed, still wrong", "red"),
    (2, 2, None, "kept", "kept", "gray"),
    (2, 1, None, "changed", "changed", "gray"),
])
def test_every_outcome_is_worded_and_coloured_by_correctness(before, after, label, key, words, colour):
    assert outcome(before, after, label) == key
    assert (OUTCOME_WORDS[key], OUTCOME_COLOURS[key]) == (words, colour)
    assert outcome_flag(key) == f":{colour}-background[**{words}**]"


def test_readmes_example_turns_truck_into_the_correct_automobile():
    """resnet20/baseline, cifar10-sample:37, fog 3: truck 74 % → automobile 77 %, the label automobile."""
    prediction = PairPrediction(np.log([[0.01, 0.25, 0.74], [0.01, 0.77, 0.22]]), CLASSES)
    assert prediction.outcome(1) == "now_correct" and prediction.outcome(None) == "changed"
    name, after, change = prediction.tracked(1)  # the big number follows the label, not the source's top class
    assert (name, round(after, 2), round(change, 2)) == ("automobile", 0.77, 0.52)
    assert prediction.tracked(None)[0] == "truck"
