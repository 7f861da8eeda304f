"""What each robust-training variant is meant to deliver, checked against the measured model cards.

A robustness claim is only worth what its numbers say. Each variant carries
targets of two kinds: augmentation methods (AugMix, PixMix) must raise
corruption accuracy over their own architecture's baseline while keeping
clean accuracy close to it; adversarial methods (PGD-AT, Free-AT, Fast-AT)
must reach a floor of PGD-20 accuracy while staying useful on clean images.
The thresholds are the project's acceptance targets (see README, Model zoo);
the figures are read from the cards that ``python -m shiftlab.zoo.evaluate``
writes, so a table built here never holds a typed number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shiftlab.models import ModelCard, known_variants
from shiftlab.models.measurements import Figures


@dataclass(frozen=True)
class Target:
    """One promise of a variant: a figure in points (measured against the baseline where needed) and its bound."""

    label: str
    measure: Callable[[Figures, Figures], float]  # (variant figures, baseline figures) -> points
    bound: float
    at_least: bool  # True: figure ≥ bound passes; False: figure ≤ bound passes

    def condition(self) -> str:
        return f"{'≥' if self.at_least else '≤'} {self.bound:g}"

    def check(self, metrics: Figures, baseline: Figures) -> tuple[float | None, bool | None]:
        """(figure, met); both None when a metric the figure needs is not measured."""
        try:
            figure = self.measure(metrics, baseline)
        except TypeError:  # a figure the target needs is None: not measured
            return None, None
        return figure, figure >= self.bound if self.at_least else figure <= self.bound


def _corruption_gain(metrics: Figures, baseline: Figures) -> float:
    return 100 * (metrics.corruption_accuracy - baseline.corruption_accuracy)


def _clean_drop(metrics: Figures, baseline: Figures) -> float:
    return 100 * (baseline.accuracy - metrics.accuracy)


def _pgd20(metrics: Figures, _baseline: Figures) -> float:
    return 100 * metrics.pgd20_accuracy


def _clean(metrics: Figures, _baseline: Figures) -> float:
    return 100 * metrics.accuracy


AUGMENTATION_TARGETS = (
    Target("corruption accuracy gain over the baseline (points)", _corruption_gain, 5.0, at_least=True),
    Target("clean accuracy lost against the baseline (points)", _clean_drop, 2.0, at_least=False),
)
ADVERSARIAL_TARGETS = (
    Target("PGD-20 accuracy, ε 8/255 (%)", _pgd20, 35.0, at_least=True),
    Target("clean accuracy (%)", _clean, 70.0, at_least=True),
)
#: the targets of each kind of variant (``shiftlab.models.variants.KINDS``); standard training promises nothing
TARGETS_BY_KIND: dict[str, tuple[Target, ...]] = {
    "augmentation": AUGMENTATION_TARGETS,
    "adversarial": ADVERSARIAL_TARGETS,
}
#: the targets of each variant of the vocabulary, by its kind
TARGETS: dict[str, tuple[Target, ...]] = {
    v.name: TARGETS_BY_KIND[v.kind] for v in known_variants() if v.kind in TARGETS_BY_KIND
}


@dataclass(frozen=True)
class TargetRow:
    """One target of one model's variant: what it promises (``condition``), the figure measured and whether it
    is met (both None when not measured)."""

    model: str
    variant: str
    target: str
    condition: str
    measured: float | None
    met: bool | None


#: the columns of a target row, in order
TARGET_COLUMNS = tuple(f.name for f in dataclasses.fields(TargetRow))


def target_rows(cards: Iterable[ModelCard]) -> list[TargetRow]:
    """One row per (model, variant, target) for the variants that have targets, from their model cards.

    Each variant is judged against the ``baseline`` card of its own
    architecture; rows whose figures are not measured have ``measured`` and
    ``met`` set to None.
    """
    cards = list(cards)
    baselines = {card.arch: card.figures() for card in cards if card.variant == "baseline"}
    rows = []
    for card in cards:
        for target in TARGETS.get(card.variant, ()):
            figure, met = target.check(card.figures(), baselines.get(card.arch, Figures()))
            rows.append(TargetRow(card.arch, card.variant, target.label, target.condition(), figure, met))
    return rows


def verdict(met: bool | None) -> str:
    """A row's ``met`` in words: yes, no, or not measured."""
    return {True: "yes", False: "no", None: "not measured"}[met]


def markdown_targets(rows: list[TargetRow]) -> str:
    """The target rows as a Markdown table, figures to two decimals, misses in bold."""
    lines = ["| model | variant | target | condition | measured | met |", "|---|---|---|---|---|---|"]
    for r in rows:
        measured = "not measured" if r.measured is None else f"{r.measured:.2f}"
        met = {True: "yes", False: "**no**", None: "–"}[r.met]
        lines.append(f"| {r.model} | {r.variant} | {r.target} | {r.condition} | {measured} | {met} |")
    return "\n".join(lines)
