"""Comparing a (source, shifted) pair: the two predictions, what the shift did to them, maps on one scale.

The Compare, Variants and Triptych pages show the same things — an image's
top classes, the outcome of the shift (``cases.outcome``: by correctness
where a label applies), attribution maps coloured on a scale shared by the
maps that are compared (diverging, centred at 0, for a signed method) — so
they are computed here once, without Streamlit, and tested on hand-made
logits and maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shiftlab.app.cases import outcome
from shiftlab.app.heatmaps import map_limits, overlay
from shiftlab.app.thumbnails import enlarge, side_by_side
from shiftlab.attribution import get_method
from shiftlab.metrics import probabilities


@dataclass(frozen=True)
class PairPrediction:
    """The model's answers on a source image (row 0) and its shifted copy (row 1)."""

    logits: np.ndarray
    classes: list[str]

    @property
    def probabilities(self) -> np.ndarray:
        return probabilities(self.logits)

    def top(self, row: int, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable classes of one row with their probabilities, most probable first."""
        probs = self.probabilities[row]
        order = np.argsort(-probs, kind="stable")[:k]
        return [(self.classes[i], float(probs[i])) for i in order]

    @property
    def predicted(self) -> tuple[str, str]:
        """Top-1 class name on the source and on the shifted image."""
        first, second = self.logits.argmax(1)
        return self.classes[first], self.classes[second]

    @property
    def flipped(self) -> bool:
        """Whether the shift changed the top-1 class."""
        return bool(self.logits[0].argmax() != self.logits[1].argmax())

    @property
    def source_class_after(self) -> float:
        """Probability of the source's top-1 class on the shifted image."""
        return float(self.probabilities[1, self.logits[0].argmax()])

    @property
    def confidence_change(self) -> float:
        """Probability of the source's top-1 class on the shifted image minus on the source (negative: less sure)."""
        return self.source_class_after - float(self.probabilities[0].max())

    def outcome(self, label: int | None) -> str:
        """What the shift did to the prediction (``cases.outcome``), judged against ``label`` (None: no label)."""
        first, second = self.logits.argmax(1)
        return outcome(int(first), int(second), label)

    def tracked(self, label: int | None) -> tuple[str, float, float]:
        """The class the big number follows — the label, or without one the source's top-1 class — with its
        probability on the shifted image and the change from the source (positive: more probable)."""
        index = int(self.logits[0].argmax()) if label is None else label
        before, after = self.probabilities[:, index]
        return self.classes[index], float(after), float(after - before)


def is_signed(method: str) -> bool:
    """Whether ``method``'s maps are signed (evidence for and against the class): drawn on the diverging scale."""
    return get_method(method).signed


def shown_maps(maps: np.ndarray, method: str, absolute: bool) -> tuple[np.ndarray, bool]:
    """The maps as drawn and whether on the diverging scale: a signed method's maps signed, or their magnitude
    (sequential scale) when ``absolute``; an unsigned method's as they are."""
    if not is_signed(method):
        return maps, False
    return (np.abs(maps), False) if absolute else (maps, True)


def row_limits(maps: np.ndarray, shared: bool, signed: bool = False) -> list[tuple[float, float]]:
    """Colour limits of each map of a row: one pair for all (``shared``), or each map's own; symmetric about 0
    for ``signed`` maps."""
    if shared:
        return [map_limits(maps, signed=signed)] * len(maps)
    return [map_limits(m, signed=signed) for m in maps]


def overlays(images: np.ndarray, maps: np.ndarray, limits: list[tuple[float, float]], factor: int,
             signed: bool = False) -> list[np.ndarray]:
    """Each image with its map overlaid (colours by its limits, diverging when ``signed``), enlarged ``factor``
    times for display."""
    return [enlarge(overlay(image, m, lim, signed=signed), factor) for image, m, lim in zip(images, maps, limits)]


def grid_picture(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    """One uint8 picture of a grid of equal-sized pictures (rows of columns), white gaps between: for a PNG download."""
    lines = []
    for row in rows:
        line = row[0]
        for picture in row[1:]:
            line = side_by_side(line, picture, gap)
        lines.append(line)
    width = max(line.shape[1] for line in lines)
    padded = [np.pad(line, ((0, gap), (0, width - line.shape[1]), (0, 0)), constant_values=255) for line in lines]
    return np.concatenate(padded)[:-gap]
