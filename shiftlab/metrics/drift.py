"""How much an attribution map moved between two conditions (e.g. a clean and a shifted image).

Each pairwise function takes two H×W maps of the same shape; ``drift_report``
takes two N×H×W batches and returns one value per pair for every measure.
Correlations with a constant map are undefined and returned as NaN (never a
made-up 0 or 1); NaN or infinite pixels raise ``MetricInputError``.
"""

from __future__ import annotations

import math

import numpy as np

from shiftlab.argcheck import real
from shiftlab.metrics._checks import MetricInputError, as_map_pair, numeric

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


def top_k_iou(map_a: np.ndarray, map_b: np.ndarray, k: float = 10.0) -> float:
    """Intersection over union of the top-``k`` % pixels of the two maps (1 = same most-important region)."""
    a, b = as_map_pair(map_a, map_b)
    top_a, top_b = top_k_mask(a, k), top_k_mask(b, k)
    return float(np.sum(top_a & top_b) / np.sum(top_a | top_b))


def _is_constant(values: np.ndarray) -> bool:
    return bool(np.all(values == values.flat[0]))


def pearson(map_a: np.ndarray, map_b: np.ndarray) -> float:
    """Pearson correlation of the pixel values (NaN if either map is constant)."""
    a, b = as_map_pair(map_a, map_b)
    from scipy.stats import pearsonr  # lazy: scipy.stats costs ~0.6 s to import

    if _is_constant(a) or _is_constant(b):
        return math.nan
    return float(pearsonr(a.ravel(), b.ravel()).statistic)


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
    """Every drift measure for each pair of maps in two N×H×W batches: top-k IoU, Pearson, Spearman, SSIM."""
    maps_a, maps_b = numeric(maps_a, "maps_a"), numeric(maps_b, "maps_b")
    if maps_a.ndim != 3 or maps_a.shape != maps_b.shape:
        raise MetricInputError(f"expected two N×H×W batches of the same shape, got {maps_a.shape} and {maps_b.shape}")
    real("k (a percentage)", k, 0, 100, low_open=True, error=MetricInputError)
    pairs = list(zip(maps_a, maps_b))
    return {
        "top_k_iou": np.array([top_k_iou(a, b, k) for a, b in pairs]),
        "pearson": np.array([pearson(a, b) for a, b in pairs]),
        "spearman": np.array([spearman(a, b) for a, b in pairs]),
        "ssim": np.array([ssim(a, b) for a, b in pairs]),
    }
