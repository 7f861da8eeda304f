"""Can the map be trusted under this shift? Every method's faithfulness on source and shifted images, side by side.

``trust_report`` explains the same images before and after a shift with each method, always for the source
image's class (so a drop on the shifted image means the method stopped finding the evidence for that class,
not that it explains another class), and measures each map with deletion/insertion against the random order
and with ROAD (``shiftlab.metrics.faithfulness``). Each image is measured alone, as the sweep's ``faithfulness``
product measures it: its random reference (shared by every method), its ties and its ROAD noise are drawn as if
it were the only image, so its record does not depend on the images measured with it, and a view the shipped
store holds reads the very records this module computes. ``TrustSettings()`` are the settings that product
measures with (the metrics' defaults).

The summary a user reads is the *gap to random*: how much earlier than a random order the map's pixels take the
class's probability down (deletion) and bring it back (insertion), ``gap = (random deletion area − deletion area)
+ (insertion area − random insertion area)``. 0 means the map is no better than chance at pointing at what the
model uses; the ranking orders methods by their mean gap on the shifted images.

``Cascade`` is the model-randomisation check as the Trust page shows it (and the shipped store keeps it): every
image's similarity to the trained maps at every stage, and the first image's maps at a few stages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from shiftlab.attribution import attribute
from shiftlab.errors import ParameterError
from shiftlab.inference import predict_logits
from shiftlab.metrics.randomisation import PASS_THRESHOLD, RandomisationCheck
from shiftlab.models import LoadedModel

if TYPE_CHECKING:  # the metrics import torchvision (about a second): a page reading stored records does not need it
    from shiftlab.metrics.faithfulness import RandomReference

CONDITIONS = ("source", "shifted")
#: what removed pixels become (the metrics' ``BASELINES``, written here as ``TrustSettings``' defaults are)
BASELINES = ("blur", "mean", "black")
#: each record's deletion/insertion areas (the sweep's faithfulness records name them alike)
AREAS = ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc")
#: the image counts the Trust page offers (taken round the classes) and the one it opens on (the one stored)
IMAGE_COUNTS = (4, 8, 16, 32, 64)
DEFAULT_COUNT = 16
#: the images the randomisation check runs on (the first of the set: each stage recomputes every map) and how many
#: maps of the first image its strip shows (the trained map, then evenly spaced stages, the last included)
SANITY_IMAGES = 2
STRIP_STAGES = 6


@dataclass(frozen=True)
class TrustSettings:
    """How the maps are measured: deletion/insertion steps, baseline, importance order, random draws, seed and
    ROAD's percentages. The defaults are the metrics' own (``shiftlab.metrics.faithfulness``), the settings of the
    sweep's ``faithfulness`` product; they are written here so that reading stored records does not import the
    metrics, and tests/test_trust.py checks they agree."""

    steps: int = 20
    baseline: str = "blur"
    order: str = "abs"
    draws: int = 3
    seed: int = 0
    road_percentages: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90)


def road_columns(percentages: Sequence[int]) -> list[str]:
    """ROAD's columns of a record: ``road_morf_P`` for each percentage P, then ``road_lerf_P``."""
    return [f"road_{side}_{share}" for side in ("morf", "lerf") for share in percentages]


@dataclass(frozen=True)
class TrustReport:
    """Every method's records for one model, shift and image set: one row per image × method × condition with
    ``image`` (the image's position in the set), ``method``, ``condition``, ``target`` (the class explained), the
    ``AREAS`` and ROAD's probabilities (``road_columns``); ``target`` per image; the ``settings`` measured with."""

    records: pd.DataFrame
    target: np.ndarray
    settings: TrustSettings


def measure(loaded: LoadedModel, pixels: np.ndarray, maps: np.ndarray, target: np.ndarray, settings: TrustSettings,
            references: list[RandomReference]) -> dict[str, np.ndarray]:
    """Each image's deletion/insertion areas against its random reference (``random_references``) and ROAD
    probabilities, one image at a time (as ``shiftlab.sweep.worker`` measures them): a column per ``AREAS`` and
    ``road_columns``, a value per image."""
    from shiftlab.metrics.faithfulness import deletion_insertion, road

    rows = []
    for i, reference in enumerate(references):
        one = slice(i, i + 1)
        curves = deletion_insertion(loaded, pixels[one], maps[one], target[one], steps=settings.steps,
                                    baseline=settings.baseline, order=settings.order, seed=settings.seed,
                                    reference=reference)
        removal = road(loaded, pixels[one], maps[one], target[one], percentages=settings.road_percentages,
                       order=settings.order, seed=settings.seed)
        rows.append([*(getattr(curves, name)[0] for name in AREAS), *removal.morf[0], *removal.lerf[0]])
    return dict(zip([*AREAS, *road_columns(settings.road_percentages)], np.array(rows, dtype=np.float64).T))


def random_references(loaded: LoadedModel, pixels: np.ndarray, target: np.ndarray,
                      settings: TrustSettings) -> list[RandomReference]:
    """Each image's random-order reference, drawn as if it were the only image."""
    from shiftlab.metrics.faithfulness import random_reference

    return [random_reference(loaded, pixels[i : i + 1], target[i : i + 1], steps=settings.steps,
                             baseline=settings.baseline, draws=settings.draws, seed=settings.seed)
            for i in range(len(pixels))]


def trust_report(loaded: LoadedModel, source: np.ndarray, shifted: np.ndarray, methods: Sequence[str],
                 settings: TrustSettings = TrustSettings(), options: dict[str, dict] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> TrustReport:
    """Faithfulness of each of ``methods`` on uint8 ``source`` images and their ``shifted`` versions (same shape,
    the model's input size), explaining the source images' predicted classes. ``options`` holds each method's
    options by name; ``progress(done, total)`` is called after each method and condition."""
    if source.shape != shifted.shape:
        raise ParameterError(f"source and shifted images must have the same shape, got {source.shape} and "
                             f"{shifted.shape}")
    if not methods:
        raise ParameterError("trust_report needs at least one attribution method")
    target = predict_logits(loaded.model, source).argmax(axis=1)
    images = {"source": source, "shifted": shifted}
    references = {name: random_references(loaded, pixels, target, settings) for name, pixels in images.items()}
    frames, total = [], len(methods) * len(CONDITIONS)
    for method in methods:
        for condition, pixels in images.items():
            maps = attribute(loaded, pixels, method, target, **(options or {}).get(method, {})).maps
            measured = measure(loaded, pixels, maps, target, settings, references[condition])
            frames.append(pd.DataFrame({"image": np.arange(len(target)), "method": method, "condition": condition,
                                        "target": target, **measured}))
            if progress:
                progress(len(frames), total)
    return TrustReport(pd.concat(frames, ignore_index=True), target, settings)


def gap(records: pd.DataFrame) -> pd.Series:
    """Per record: how much better than a random order the map's deletion and insertion areas are."""
    return ((records["random_deletion_auc"] - records["deletion_auc"])
            + (records["insertion_auc"] - records["random_insertion_auc"])).astype(np.float64)


def ranking(records: pd.DataFrame) -> pd.DataFrame:
    """Methods ordered by their mean gap on the shifted images (best first), with the source's: rank, method,
    gap_source, gap_shifted."""
    gaps = records.assign(gap=gap(records)).pivot_table(index="method", columns="condition", values="gap",
                                                        aggfunc="mean", sort=False)
    frame = pd.DataFrame({"method": gaps.index, "gap_source": gaps["source"].to_numpy(),
                          "gap_shifted": gaps["shifted"].to_numpy()})
    frame = frame.sort_values("gap_shifted", ascending=False, kind="stable", ignore_index=True)
    return frame.assign(rank=np.arange(1, len(frame) + 1))[["rank", "method", "gap_source", "gap_shifted"]]


def trust_indices(labels: np.ndarray, count: int) -> np.ndarray:
    """``count`` image indices taken round the classes: the first image of each class, then the second of each…"""
    classes = np.unique(labels)
    per_class = -(-count // max(1, len(classes)))
    columns = [np.flatnonzero(labels == c)[:per_class] for c in classes]
    return np.array([column[r] for r in range(per_class) for column in columns if r < len(column)][:count], np.int64)


def strip_stages(stages: int, shown: int = STRIP_STAGES) -> tuple[int, ...]:
    """Which of a cascade's ``stages`` the strip shows after the trained map: evenly spaced, the last included."""
    return tuple(sorted({int(round(x)) for x in np.linspace(0, stages - 1, min(shown - 1, stages))}))


@dataclass(frozen=True)
class Cascade:
    """The randomisation check of ``method`` as the Trust page shows it: ``layers`` re-initialised stage by stage
    (top first), each image's ``spearman`` and ``ssim`` to the trained map (N×stages), and the first image's maps
    (``maps``: its trained map, then its map at each of ``stages``, 0-based stage indices)."""

    method: str
    layers: tuple[str, ...]
    spearman: np.ndarray
    ssim: np.ndarray
    stages: tuple[int, ...]
    maps: np.ndarray
    threshold: float = PASS_THRESHOLD

    @classmethod
    def of(cls, check: RandomisationCheck) -> Cascade:
        """What the page shows of ``check``."""
        stages = strip_stages(len(check.layers))
        maps = np.stack([check.original[0], *(check.maps[stage][0] for stage in stages)])
        return cls(check.method, check.layers, check.spearman, check.ssim, stages, maps, check.threshold)

    @property
    def final_spearman(self) -> float:
        """The check's ``RandomisationCheck.final_spearman``: mean Spearman once every layer is random."""
        return self._check().final_spearman

    @property
    def passed(self) -> bool:
        return self._check().passed

    def _check(self) -> RandomisationCheck:
        """A check of these similarities without maps: its verdict is computed where the check defines it."""
        none = np.zeros((0, 0, 0))
        return RandomisationCheck(self.method, self.layers, none, none[None], self.spearman, self.ssim, self.threshold)
