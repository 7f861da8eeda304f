"""How much an attribution map moved between two conditions (e.g. a clean and a shifted image).

Each pairwise function takes two H×W maps of the same shape; ``drift_report``
takes two N×H×W batches and returns one value per pair for every measure.
Correlations with a constant map are undefined and returned as NaN (never a
made-up 0 or 1); NaN or infinite pixels raise ``MetricInputError``.

Every measure registers itself in ``DRIFT_MEASURES`` where it is defined
(``@register_drift_measure``), declaring what the rest of shiftlab needs to
know of it: the column a sweep's attribution records keep it in, where that
column sits, its type, and the words the app shows. The report, the record
schema, the SQL that reads the records and the app's text all iterate the
registry, so a new measure is one decorated function here (and its test).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from shiftlab.argcheck import real
from shiftlab.metrics._checks import MetricInputError, as_map_pair, numeric
from shiftlab.metrics.registry import Registry

Pairwise = TypeVar("Pairwise", bound=Callable[..., float])


@dataclass(frozen=True)
class DriftMeasure:
    """A registered drift measure: its pairwise ``function`` and what consumers of its figures need.

    ``column`` is its column in a sweep's attribution records, of type
    ``dtype``, at ``column_position`` among the drift columns (stored sweeps
    fix the order). ``label`` is the name the app shows, ``meaning`` what
    1 means beside a figure and ``column_help`` the tooltip of a table column
    of it; in all three ``{k:g}`` stands for the top-k percentage.
    """

    name: str
    function: Callable[..., float]
    column: str
    column_position: int
    label: str
    meaning: str
    column_help: str
    dtype: np.dtype = np.dtype(np.float32)
    #: whether ``function`` takes the top-k percentage ``k`` (read from its signature)
    takes_k: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "takes_k", "k" in inspect.signature(self.function).parameters)

    def between(self, map_a: np.ndarray, map_b: np.ndarray, k: float) -> float:
        """The measure of two H×W maps (``k``: the top-k percentage, for a measure that takes one)."""
        return self.function(map_a, map_b, k=k) if self.takes_k else self.function(map_a, map_b)


#: every drift measure by name, in the order ``drift_report`` gives them
DRIFT_MEASURES: Registry[DriftMeasure] = Registry("drift measure", unique=("column", "column_position"))


def register_drift_measure(*, column: str, column_position: int, label: str, meaning: str, column_help: str,
                           dtype: type[np.floating] = np.float32) -> Callable[[Pairwise], Pairwise]:
    """Register the decorated pairwise function, under its own name, as a drift measure (see ``DriftMeasure``).

    The function is returned unchanged; a name, column or column position
    already registered is a ``DuplicateNameError``.
    """

    def register(function: Pairwise) -> Pairwise:
        DRIFT_MEASURES.register(DriftMeasure(function.__name__, function, column, column_position, label, meaning,
                                             column_help, np.dtype(dtype)))
        return function

    return register


SSIM_WINDOW = 7  # skimage's default window; the maps must be at least this large


def top_k_mask(attribution_map: np.ndarray, k: float = 10.0) -> np.ndarray:
    """Boolean mask of the top ``k`` % pixels: every pixel >= the ceil(k% · n)-th largest value.

    Ties at the threshold are all kept (so a constant map selects every pixel),
    which makes the mask deterministic and independent of pixel order.
    """
    real("k (a percentage)", k, 0, 100, low_open=True, error=MetricInputError)
    flat = np.asarray(attribution_map, dtype=np.float64).ravel()
    count = max(1, math.ceil(flat.size * k / 100))
    threshold = np.partition(flat, flat.size - count)[flat.size - count]
    return np.asarray(attribution_map) >= threshold


@register_drift_measure(
    column="iou", column_position=0, label="top-{k:g} % IoU",
    meaning="overlap of the most important pixels; 1 = the same region",
    column_help="Overlap of the {k:g} % most important pixels of the two maps (intersection over union); "
    "1 = same region.",
)
def top_k_iou(map_a: np.ndarray, map_b: np.ndarray, k: float = 10.0) -> float:
    """Intersection over union of the top-``k`` % pixels of the two maps (1 = same most-important region)."""
    a, b = as_map_pair(map_a, map_b)
    top_a, top_b = top_k_mask(a, k), top_k_mask(b, k)
    return float(np.sum(top_a & top_b) / np.sum(top_a | top_b))


def _is_constant(values: np.ndarray) -> bool:
    return bool(np.all(values == values.flat[0]))


@register_drift_measure(
    column="pearson", column_position=2, label="Pearson",
    meaning="linear correlation of the two maps; 1 = the same up to scale",
    column_help="linear correlation of the two maps; 1 = same up to scale",
)
def pearson(map_a: np.ndarray, map_b: np.ndarray) -> float:
    """Pearson correlation of the pixel values (NaN if either map is constant)."""
    a, b = as_map_pair(map_a, map_b)
    from scipy.stats import pearsonr  # lazy: scipy.stats costs ~0.6 s to import

    if _is_constant(a) or _is_constant(b):
        return math.nan
    return float(pearsonr(a.ravel(), b.ravel()).statistic)


@register_drift_measure(
    column="spearman", column_position=1, label="Spearman",
    meaning="rank correlation; 1 = the same ordering of pixels",
    column_help="rank correlation of the two maps; 1 = same ordering",
)
def spearman(map_a: np.ndarray, map_b: np.ndarray) -> float:
    """Spearman rank correlation of the pixel values (NaN if either map is constant)."""
    a, b = as_map_pair(map_a, map_b)
    from scipy.stats import spearmanr  # lazy, as in pearson

    if _is_constant(a) or _is_constant(b):
        return math.nan
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


def _min_max(values: np.ndarray) -> np.ndarray:
    """Rescale to [0, 1]; a constant map becomes all zeros."""
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


@register_drift_measure(
    column="ssim", column_position=3, label="SSIM",
    meaning="structural similarity of the rescaled maps; 1 = identical",
    column_help="structural similarity of the two rescaled maps; 1 = identical",
)
def ssim(map_a: np.ndarray, map_b: np.ndarray) -> float:
    """Structural similarity (skimage, 7×7 window) of the two maps, each min-max rescaled to [0, 1] first.

    Attribution maps have arbitrary units, so each is rescaled to [0, 1] and
    compared with ``data_range=1``: SSIM then measures shape, not scale.
    """
    a, b = as_map_pair(map_a, map_b)
    if min(a.shape) < SSIM_WINDOW:
        raise MetricInputError(f"SSIM needs maps of at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels, got {a.shape}")
    from skimage.metrics import structural_similarity  # lazy: it imports scipy.stats (~0.6 s)

    return float(structural_similarity(_min_max(a), _min_max(b), data_range=1.0, win_size=SSIM_WINDOW))


def drift_report(maps_a: np.ndarray, maps_b: np.ndarray, k: float = 10.0) -> dict[str, np.ndarray]:
    """Every registered drift measure (``DRIFT_MEASURES``, in its order) for each pair of maps in two N×H×W batches.

    Keyed by measure name (today top_k_iou, pearson, spearman, ssim), one
    float64 value per pair; ``k`` is the top-k percentage of the measures
    that take one.
    """
    maps_a, maps_b = numeric(maps_a, "maps_a"), numeric(maps_b, "maps_b")
    if maps_a.ndim != 3 or maps_a.shape != maps_b.shape:
        raise MetricInputError(f"expected two N×H×W batches of the same shape, got {maps_a.shape} and {maps_b.shape}")
    real("k (a percentage)", k, 0, 100, low_open=True, error=MetricInputError)
    pairs = list(zip(maps_a, maps_b))
    return {name: np.array([measure.between(a, b, k) for a, b in pairs]) for name, measure in DRIFT_MEASURES.items()}
