"""Which images to look at: the cases a shift changed, filtered by outcome and sorted by how much they moved.

A *case* is an image index of a ``ShiftComparison`` (``shiftlab.app.experiment``).
``select_cases`` keeps the images of one outcome (flipped, broken, fixed,
stayed correct, confidently wrong) ordered by a key — the confidence drop,
or the attribution drift the page computes — and ``case_caption``
describes one case in Streamlit markdown. Kept apart from the pages so that
the selection rules are plain functions with tests.

``outcome`` is the one rule every page words a single prediction's fate by:
with a label, by correctness after the shift (green when right, red when
wrong); without one, only whether the top-1 class changed (neutral grey).
"""

from __future__ import annotations

import math

import numpy as np

from shiftlab.app.experiment import ShiftComparison
from shiftlab.app.text import OUTCOME_FLAG, OUTCOME_WORDS, OUTCOMES, UNLABELLED_OUTCOMES, plain
from shiftlab.errors import UnknownOptionError

#: a wrong prediction at least this confident counts as "confidently wrong"
CONFIDENT = 0.8
#: outcome -> its colour (Streamlit's colour names): right after the shift green, wrong red, unlabelled grey
OUTCOME_COLOURS = {"stays_correct": "green", "now_correct": "green", "stays_wrong": "red", "now_wrong": "red",
                   "changed_still_wrong": "red", "kept": "gray", "changed": "gray"}


def outcome(before: int, after: int, label: int | None) -> str:
    """What the shift did to a prediction: a key of ``text.OUTCOME_WORDS`` from the top-1 class ``before`` and
    ``after`` it and the image's ``label`` (None where no label scores the model: then only kept or changed)."""
    if label is None:
        return "kept" if before == after else "changed"
    if after == label:
        return "stays_correct" if before == label else "now_correct"
    if before == label:
        return "now_wrong"
    return "stays_wrong" if before == after else "changed_still_wrong"


def outcome_flag(key: str) -> str:
    """The outcome's words in Markdown on its colour's background ("now correct" on green...)."""
    return OUTCOME_FLAG.format(colour=OUTCOME_COLOURS[key], words=OUTCOME_WORDS[key])


def ranked(mask: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Indices where ``mask`` holds, ordered by ``key`` from largest to smallest (ties: lower index first)."""
    indices = np.flatnonzero(mask)
    return indices[np.argsort(-key[indices], kind="stable")]


def outcomes_for(comparison: ShiftComparison) -> list[str]:
    """The outcomes a comparison can be filtered by: all of them with labels, flips and stays without."""
    return list(OUTCOMES) if comparison.labelled else list(UNLABELLED_OUTCOMES)


def outcome_mask(comparison: ShiftComparison, outcome: str) -> np.ndarray:
    """Which images had ``outcome`` (a key of ``OUTCOMES``) under the shift."""
    source, shifted = comparison.source, comparison.shifted
    masks = {
        "flips": source.predicted != shifted.predicted,
        "stays": source.predicted == shifted.predicted,
        "correct_to_wrong": comparison.correct_to_wrong,
        "wrong_to_correct": comparison.wrong_to_correct,
        "stays_correct": source.correct & shifted.correct,
        "confidently_wrong": ~shifted.correct & (shifted.confidence >= CONFIDENT),
    }
    if outcome not in masks:
        raise UnknownOptionError(f"unknown outcome {outcome!r}; known: {', '.join(masks)}")
    return masks[outcome]


def confidence_drop(comparison: ShiftComparison) -> np.ndarray:
    """How far each image's probability of its reference class fell under the shift (negative: it rose)."""
    return comparison.source.reference_probability - comparison.shifted.reference_probability


def select_cases(comparison: ShiftComparison, outcome: str, key: np.ndarray) -> np.ndarray:
    """Image indices with ``outcome``, largest ``key`` (confidence drop, attribution drift...) first."""
    return ranked(outcome_mask(comparison, outcome), key)


def page_count(n_items: int, per_page: int) -> int:
    """Pages needed to show ``n_items`` at ``per_page`` a page (at least 1, so a pager always has a page)."""
    return max(1, math.ceil(n_items / per_page))


def page_of(indices: np.ndarray, page: int, per_page: int) -> np.ndarray:
    """The ``per_page`` indices on 1-based ``page``."""
    start = (page - 1) * per_page
    return indices[start : start + per_page]


def _prediction(name: str, confidence: float, correct: bool | None) -> str:
    """A prediction with its confidence, green when right, red when wrong, plain when no label can say."""
    if correct is None:
        return f"{name} {confidence:.0%}"
    return f":{'green' if correct else 'red'}[{name} {confidence:.0%}]"


def case_caption(comparison: ShiftComparison, index: int, model_classes: list[str], label: str | None) -> str:
    """Markdown for one case: its image id and label, its outcome, then source → shifted prediction with confidence.

    Predictions are coloured right (green) or wrong (red) only when the
    dataset's labels score the model; an ImageNet model's answers on CIFAR
    images are never coloured.
    """
    source, shifted = comparison.source, comparison.shifted
    scored = comparison.labelled
    before = _prediction(model_classes[source.predicted[index]], source.confidence[index],
                         bool(source.correct[index]) if scored else None)
    after = _prediction(model_classes[shifted.predicted[index]], shifted.confidence[index],
                        bool(shifted.correct[index]) if scored else None)
    heading = f"#{index} · label **{plain(label)}**  \n" if label is not None else f"#{index}  \n"
    reference = int(source.reference[index]) if scored else None
    flag = outcome_flag(outcome(int(source.predicted[index]), int(shifted.predicted[index]), reference))
    return f"{heading}{flag}  \n{before} → {after}"
