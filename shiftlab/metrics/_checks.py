"""Input validation shared by every metric, and the softmax they all start from.

Every metric validates its input and raises ``MetricInputError`` (a
``ValueError``) on NaN/inf, mismatched shapes or out-of-range labels rather
than returning a silently wrong number.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from shiftlab.errors import MetricInputError


def as_scores(scores: np.ndarray, name: str = "logits") -> np.ndarray:
    """An N×K float64 array of finite values with N >= 1."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise MetricInputError(f"{name} must be N×K, got shape {scores.shape}")
    if len(scores) == 0:
        raise MetricInputError("metrics need at least one example")
    if not np.isfinite(scores).all():
        raise MetricInputError(f"{name} contain NaN or infinite values")
    return scores


def as_labels(labels: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    """N integer class indices in [0, n_classes), as int64."""
    labels = np.asarray(labels)
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
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise MetricInputError(f"{name} must be a non-empty 1-D array, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise MetricInputError(f"{name} contain NaN or infinite values")
    return values


def as_map_pair(map_a: np.ndarray, map_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two finite 2-D maps of the same shape, as float64."""
    a, b = np.asarray(map_a, dtype=np.float64), np.asarray(map_b, dtype=np.float64)
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
