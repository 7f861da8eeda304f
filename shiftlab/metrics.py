"""Classification and calibration metrics on logits or probabilities.

Conventions: ``labels`` are int class indices (N,), ``logits`` are raw model
outputs (N, K); probabilities are their softmax. Every function validates its
input and raises ``ValueError`` on NaN/inf or mismatched shapes rather than
returning a silently wrong number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.metrics import f1_score


def _as_labels(labels: np.ndarray, n: int | None = None) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if n is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} predictions")
    if len(labels) == 0:
        raise ValueError("metrics need at least one example")
    return labels.astype(np.int64)


def _as_scores(scores: np.ndarray, name: str = "logits") -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"{name} must be N×K, got shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return scores


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over the class axis."""
    return softmax(_as_scores(logits), axis=1)


def accuracy(labels: np.ndarray, logits: np.ndarray) -> float:
    """Fraction of examples whose arg-max class is the label."""
    logits = _as_scores(logits)
    labels = _as_labels(labels, len(logits))
    return float(np.mean(logits.argmax(1) == labels))


def macro_f1(labels: np.ndarray, logits: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores over all K classes (absent classes score 0)."""
    logits = _as_scores(logits)
    labels = _as_labels(labels, len(logits))
    classes = np.arange(logits.shape[1])
    return float(f1_score(labels, logits.argmax(1), labels=classes, average="macro", zero_division=0))


def per_class_accuracy(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Recall of each class (NaN for a class with no example)."""
    logits = _as_scores(logits)
    labels = _as_labels(labels, len(logits))
    correct = logits.argmax(1) == labels
    k = logits.shape[1]
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    hits = np.bincount(labels, weights=correct, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / counts, np.nan)


def nll(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels (cross-entropy), in nats."""
    logits = _as_scores(logits)
    labels = _as_labels(labels, len(logits))
    return float(-np.mean(log_softmax(logits, axis=1)[np.arange(len(labels)), labels]))


def brier(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean over examples of the squared distance between probabilities and the one-hot label."""
    probs = probabilities(logits)
    labels = _as_labels(labels, len(probs))
    onehot = np.eye(probs.shape[1])[labels]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin statistics of a reliability diagram.

    ``edges`` has n_bins + 1 entries; a bin with no example has count 0 and
    NaN confidence and accuracy.
    """

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """|accuracy - confidence| per bin (NaN for empty bins)."""
        return np.abs(self.accuracy - self.confidence)


def reliability_bins(labels: np.ndarray, logits: np.ndarray, n_bins: int = 15, strategy: str = "uniform") -> ReliabilityBins:
    """Bin the top-class confidence and compare it to accuracy in each bin.

    ``strategy="uniform"`` uses equal-width bins on [0, 1] (right-closed, as in
    Guo et al. 2017); ``"quantile"`` uses equal-mass bins whose edges are
    quantiles of the confidences.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    probs = probabilities(logits)
    labels = _as_labels(labels, len(probs))
    confidence = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.quantile(confidence, np.linspace(0.0, 1.0, n_bins + 1))
        edges[0], edges[-1] = 0.0, 1.0
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    # bin b holds confidences in (edges[b], edges[b+1]]; confidence 0 cannot occur for a softmax
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=n_bins) / count
        mean_acc = np.bincount(which, weights=correct, minlength=n_bins) / count
    return ReliabilityBins(edges, count, mean_conf, mean_acc)


def ece(labels: np.ndarray, logits: np.ndarray, n_bins: int = 15, strategy: str = "uniform") -> float:
    """Expected calibration error: count-weighted mean of |accuracy - confidence| over bins."""
    bins = reliability_bins(labels, logits, n_bins, strategy)
    filled = bins.count > 0
    return float(np.sum(bins.count[filled] * bins.gap[filled]) / bins.count.sum())


def mce(labels: np.ndarray, logits: np.ndarray, n_bins: int = 15, strategy: str = "uniform") -> float:
    """Maximum calibration error: the largest |accuracy - confidence| over non-empty bins."""
    bins = reliability_bins(labels, logits, n_bins, strategy)
    return float(np.max(bins.gap[bins.count > 0]))


def classification_report(labels: np.ndarray, logits: np.ndarray, n_bins: int = 15) -> dict[str, float]:
    """The headline figures stored in model cards: accuracy, macro-F1, ECE (15 bins), NLL."""
    return {
        "accuracy": accuracy(labels, logits),
        "macro_f1": macro_f1(labels, logits),
        "ece": ece(labels, logits, n_bins),
        "nll": nll(labels, logits),
        "n": int(len(labels)),
    }
