"""One rule words what a shift did to a prediction on every page: by correctness where a label applies, kept or
changed where none does, each coloured by whether the prediction is right after the shift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from shiftlab.app.cases import OUTCOME_COLOURS, outcome, outcome_flag
from shiftlab.app.compare import PairPrediction
from shiftlab.app.text import OUTCOME_WORDS
from shiftlab.app.tour import TOUR_SEVERITY, TOUR_SHIFTS
from shiftlab.data import load_dataset
from shiftlab.inference import predict_logits
from shiftlab.models import load_model
from shiftlab.shifts import apply
from shiftlab.sweep.ship import TOUR_IMAGE

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


def page_flag(image: str, shift: str) -> list[str]:
    """The outcome flags Compare shows on resnet20/baseline for ``image`` under ``shift`` at severity 3."""
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app_pages" / "compare.py"), default_timeout=300)
    at.query_params.update({"arch": "resnet20", "variant": "baseline", "image": image, "shift": shift,
                            "severity": "3", "seed": "0", "methods": "gradcam"})
    at.run()
    assert not at.exception and not at.error
    return [m.value for m in at.markdown if "-background[**" in m.value]


def test_compare_words_readmes_example_and_the_tours_failure(monkeypatch):
    monkeypatch.delenv("SHIFTLAB_CHECKPOINTS", raising=False)
    assert page_flag("cifar10-sample:37", "fog") == [":green-background[**now correct**]"]
    sample = load_dataset("cifar10-sample")
    model = load_model("resnet20", "baseline").model
    image = sample.images[TOUR_IMAGE:TOUR_IMAGE + 1]
    shift = next(s for s in TOUR_SHIFTS if predict_logits(model, apply(s, image, TOUR_SEVERITY, 0, offset=TOUR_IMAGE))
                 [0].argmax() != sample.labels[TOUR_IMAGE])  # the tour's image: right before, wrong after
    assert page_flag(f"cifar10-sample:{TOUR_IMAGE}", shift) == [":red-background[**now wrong**]"]
