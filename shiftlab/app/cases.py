"""Which images to look at: examples per class, and the cases a shift changed most.

A *case* is an image index of a ``ShiftComparison`` (``shiftlab.app.experiment``).
``select_cases`` returns the indices of one kind, most telling first, and
``case_caption`` describes one case in Streamlit markdown. Kept apart from
the pages so that the selection rules are plain functions with tests.
"""

from __future__ import annotations

import math

import numpy as np

from shiftlab.app.experiment import ShiftComparison
from shiftlab.app.text import CASE_KINDS
from shiftlab.errors import UnknownOptionError


def ranked(mask: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Indices where ``mask`` holds, ordered by ``key`` from largest to smallest (ties: lower index first)."""
    indices = np.flatnonzero(mask)
    return indices[np.argsort(-key[indices], kind="stable")]


def select_cases(comparison: ShiftComparison, kind: str) -> np.ndarray:
    """Image indices of case ``kind`` (a key of ``CASE_KINDS``), most telling first."""
    source, shifted = comparison.source, comparison.shifted
    if kind == "correct_to_wrong":
        return ranked(comparison.correct_to_wrong, shifted.confidence)
    if kind == "wrong_to_correct":
        return ranked(comparison.wrong_to_correct, shifted.confidence)
    if kind == "confident_errors":
        return ranked(~shifted.correct, shifted.confidence)
    if kind == "confidence_drop":
        drop = source.reference_probability - shifted.reference_probability
        return ranked(drop > 0, drop)
    raise UnknownOptionError(f"unknown case kind {kind!r}; known: {', '.join(CASE_KINDS)}")


def page_count(n_items: int, per_page: int) -> int:
    """Pages needed to show ``n_items`` at ``per_page`` a page (at least 1, so a pager always has a page)."""
    return max(1, math.ceil(n_items / per_page))


def page_of(indices: np.ndarray, page: int, per_page: int) -> np.ndarray:
    """The ``per_page`` indices on 1-based ``page``."""
    start = (page - 1) * per_page
    return indices[start : start + per_page]


def _prediction(name: str, confidence: float, correct: bool) -> str:
    colour = "green" if correct else "red"
    return f":{colour}[{name} {confidence:.0%}]"


def case_caption(comparison: ShiftComparison, index: int, model_classes: list[str], label: str | None) -> str:
    """Markdown for one case: the dataset label, then source → shifted prediction with confidence, green when right."""
    source, shifted = comparison.source, comparison.shifted
    before = _prediction(model_classes[source.predicted[index]], source.confidence[index], source.correct[index])
    after = _prediction(model_classes[shifted.predicted[index]], shifted.confidence[index], shifted.correct[index])
    heading = f"label **{label}**  \n" if label is not None else ""
    return f"{heading}{before} → {after}"
