"""Input validation shared by every metric, and the softmax they all start from.

Every metric validates its input and raises ``MetricInputError`` (a
``ValueError``) on text, NaN/inf, mismatched shapes or out-of-range labels
rather than returning a silently wrong number.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from shiftlab.argcheck import whole
from shiftlab.errors import MetricInputError

#: the most bins a reliability diagram, ECE or MCE takes
MAX_BINS = 1000


def numeric(values: object, name: str) -> np.ndarray:
    """``values`` as a float64 array if they are numbers (not text, objects or ragged lists)."""
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise MetricInputError(f"{name} must be an array of numbers, got {type(values).__name__} ({exc})") from None
    if array.dtype.kind not in "biuf":
        raise MetricInputError(f"{name} must be numbers, got an array of dtype {array.dtype}")
    return array.astype(np.float64, copy=False)


def check_bins(n_bins: object) -> int:
    """A number of bins: an integer from 1 to ``MAX_BINS``."""
    return whole("n_bins", n_bins, 1, MAX_BINS, MetricInputError)


def as_scores(scores: np.ndarray, name: str = "logits") -> np.ndarray:
    """An N×K float64 array of finite values with N >= 1."""
    scores = numeric(scores, name)
    if scores.ndim != 2:
        raise MetricInputError(f"{name} must be N×K, got shape {scores.shape}")
    if len(scores) == 0:
        raise MetricInputError("metrics need at least one example")
    if not np.isfinite(scores).all():
        raise MetricInputError(f"{name} contain NaN or infinite values")
    return scores


def as_labels(labels: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    """N integer class indices in [0, n_classes), as int64."""
    try:
        labels = np.asarray(labels)
    except (ValueError, TypeError) as exc:
        raise MetricInputError(f"labels must be a 1-D array of class indices ({exc})") from None
    if labels.ndim != 1:
        raise MetricInputError(f"labels must be 1-D, got shape {labels.shape}")
    if len(labels) != n:
        raise MetricInputError(f"{len(labels)} labels for {n} predictions")
    if not np.issubdtype(labels.dtype, np.integer):
        raise MetricInputError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise MetricInputError(f"labels must lie in [0, {n_classes}), got values in [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64)


def labelled_scores(labels: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated (labels, logits) pair: the common preamble of the classification metrics."""
    logits = as_scores(logits)
    return as_labels(labels, len(logits), logits.shape[1]), logits


def as_scalars(values: np.ndarray, name: str) -> np.ndarray:
    """A non-empty 1-D float64 array of finite values."""
    values = numeric(values, name)
    if values.ndim != 1 or len(values) == 0:
        raise MetricInputError(f"{name} must be a non-empty 1-D array, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise MetricInputError(f"{name} contain NaN or infinite values")
    return values


def as_map_pair(map_a: np.ndarray, map_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two finite 2-D maps of the same shape, as float64."""
    a, b = numeric(map_a, "map_a"), numeric(map_b, "map_b")
    if a.ndim != 2 or a.shape != b.shape:
        raise MetricInputError(f"maps must be two H×W arrays of the same shape, got {a.shape} and {b.shape}")
    if a.size < 2:
        raise MetricInputError(f"maps need at least two pixels, got shape {a.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise MetricInputError("maps contain NaN or infinite values")
    return a, b


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over the class axis."""
    return softmax(as_scores(logits), axis=1)
