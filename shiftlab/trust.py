"""Can the map be trusted under this shift? Every method's faithfulness on source and shifted images, side by side.

``trust_report`` explains the same images before and after a shift with each method, always for the source
image's class (so a drop on the shifted image means the method stopped finding the evidence for that class,
not that it explains another class), and measures each map with deletion/insertion against the random order
and with ROAD (``shiftlab.metrics.faithfulness``). One random reference per condition is shared by every method:
it depends on the images, not on the maps.

The summary a user reads is the *gap to random*: how much earlier than a random order the map's pixels take the
class's probability down (deletion) and bring it back (insertion), ``gap = (random deletion area − deletion area)
+ (insertion area − random insertion area)``. 0 means the map is no better than chance at pointing at what the
model uses; the ranking orders methods by their mean gap on the shifted images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from shiftlab.attribution import attribute
from shiftlab.errors import ParameterError
from shiftlab.inference import predict_logits
from shiftlab.metrics.faithfulness import (
    DeletionInsertion,
    RandomReference,
    ROADResult,
    deletion_insertion,
    random_reference,
    road,
)
from shiftlab.models import LoadedModel

CONDITIONS = ("source", "shifted")
#: what each record holds besides its keys, in column order
MEASURES = ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc", "gap",
            "road_morf", "road_lerf")


@dataclass(frozen=True)
class TrustSettings:
    """How the maps are measured: deletion/insertion steps, baseline, importance order, random draws, seed,
    and ROAD's percentages (``None``: ROAD not run, it costs one sparse solve per image and percentage)."""

    steps: int = 20
    baseline: str = "blur"
    order: str = "abs"
    draws: int = 3
    seed: int = 0
    road_percentages: tuple[int, ...] | None = (10, 30, 50, 70, 90)


@dataclass(frozen=True)
class ConditionTrust:
    """One method on one condition's images: the maps, their deletion/insertion curves and ROAD (None: not run)."""

    maps: np.ndarray
    curves: DeletionInsertion
    road: ROADResult | None

    @property
    def gap(self) -> np.ndarray:
        """Per image: how much better than a random order the map's deletion and insertion areas are."""
        curves = self.curves
        return (curves.random_deletion_auc - curves.deletion_auc) + (curves.insertion_auc - curves.random_insertion_auc)

    def columns(self) -> dict[str, np.ndarray]:
        """Every measure of ``MEASURES``, one value per image (ROAD's as the mean probability over its percentages)."""
        curves, missing = self.curves, np.full(len(self.maps), np.nan)
        return {
            "deletion_auc": curves.deletion_auc, "insertion_auc": curves.insertion_auc,
            "random_deletion_auc": curves.random_deletion_auc, "random_insertion_auc": curves.random_insertion_auc,
            "gap": self.gap,
            "road_morf": self.road.morf.mean(axis=1) if self.road else missing,
            "road_lerf": self.road.lerf.mean(axis=1) if self.road else missing,
        }


@dataclass(frozen=True)
class MethodTrust:
    """One method on the source images and on their shifted versions."""

    method: str
    source: ConditionTrust
    shifted: ConditionTrust


@dataclass(frozen=True)
class TrustReport:
    """Every method's ``MethodTrust`` for one model, shift and image set; ``target`` the explained classes."""

    methods: tuple[MethodTrust, ...]
    target: np.ndarray
    settings: TrustSettings

    def records(self) -> list[dict[str, float | int | str]]:
        """One row per image × method × condition: ``image`` (position in the set), ``method``, ``condition``
        and every measure of ``MEASURES`` (ROAD's as the mean probability over its percentages, NaN if not run)."""
        rows = []
        for trust in self.methods:
            for condition in CONDITIONS:
                columns = getattr(trust, condition).columns()
                rows += [{"image": i, "method": trust.method, "condition": condition,
                          **{name: float(columns[name][i]) for name in MEASURES}} for i in range(len(self.target))]
        return rows

    def ranking(self) -> list[dict[str, float | int | str]]:
        """Methods ordered by their mean gap to random on the shifted images (best first), with the source's."""
        summary = [{"method": t.method, "gap_source": float(t.source.gap.mean()), "gap_shifted": float(t.shifted.gap.mean())}
                   for t in self.methods]
        summary.sort(key=lambda row: -row["gap_shifted"])
        return [{"rank": i + 1, **row} for i, row in enumerate(summary)]


def _measure(loaded: LoadedModel, pixels: np.ndarray, method: str, target: np.ndarray, settings: TrustSettings,
             reference: RandomReference, options: dict) -> ConditionTrust:
    """One method's maps of ``pixels`` for ``target`` and their faithfulness."""
    maps = attribute(loaded, pixels, method, target, **options).maps
    curves = deletion_insertion(loaded, pixels, maps, target, steps=settings.steps, baseline=settings.baseline,
                                order=settings.order, seed=settings.seed, reference=reference)
    removal = None if settings.road_percentages is None else road(
        loaded, pixels, maps, target, percentages=settings.road_percentages, order=settings.order, seed=settings.seed)
    return ConditionTrust(maps, curves, removal)


def trust_report(loaded: LoadedModel, source: np.ndarray, shifted: np.ndarray, methods: Sequence[str],
                 settings: TrustSettings = TrustSettings(), options: dict[str, dict] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> TrustReport:
    """Faithfulness of each of ``methods`` on uint8 ``source`` images and their ``shifted`` versions (same shape,
    the model's input size), explaining the source images' predicted classes. ``options`` holds each method's
    options by name; ``progress(done, total)`` is called after each method and condition."""
    if source.shape != shifted.shape:
        raise ParameterError(f"source and shifted images must have the same shape, got {source.shape} and {shifted.shape}")
    if not methods:
        raise ParameterError("trust_report needs at least one attribution method")
    target = predict_logits(loaded.model, source).argmax(axis=1)
    images = {"source": source, "shifted": shifted}
    references = {name: random_reference(loaded, pixels, target, steps=settings.steps, baseline=settings.baseline,
                                         draws=settings.draws, seed=settings.seed) for name, pixels in images.items()}
    results, total = [], len(methods) * len(CONDITIONS)
    for method in methods:
        measured = {}
        for condition, pixels in images.items():
            measured[condition] = _measure(loaded, pixels, method, target, settings, references[condition],
                                           (options or {}).get(method, {}))
            if progress:
                progress(len(results) * len(CONDITIONS) + len(measured), total)
        results.append(MethodTrust(method, **measured))
    return TrustReport(tuple(results), target, settings)
