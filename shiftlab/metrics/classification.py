"""Classification metrics on logits: accuracy, macro-F1, per-class accuracy, and the model-card report.

Conventions: ``labels`` are int class indices (N,), ``logits`` are raw model
outputs (N, K).
"""

from __future__ import annotations

import numpy as np

from shiftlab.metrics._checks import labelled_scores
from shiftlab.metrics.calibration import ece, nll


def accuracy(labels: np.ndarray, logits: np.ndarray) -> float:
    """Fraction of examples whose arg-max class is the label."""
    labels, logits = labelled_scores(labels, logits)
    return float(np.mean(logits.argmax(1) == labels))


def macro_f1(labels: np.ndarray, logits: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores over all K classes (absent classes score 0)."""
    labels, logits = labelled_scores(labels, logits)
    from sklearn.metrics import f1_score  # lazy: scikit-learn costs ~0.5 s to import

    classes = np.arange(logits.shape[1])
    return float(f1_score(labels, logits.argmax(1), labels=classes, average="macro", zero_division=0))


def per_class_accuracy(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Recall of each class (NaN for a class with no example)."""
    labels, logits = labelled_scores(labels, logits)
    correct = logits.argmax(1) == labels
    k = logits.shape[1]
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    hits = np.bincount(labels, weights=correct, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / counts, np.nan)


def classification_report(labels: np.ndarray, logits: np.ndarray, n_bins: int = 15) -> dict[str, float]:
    """The headline figures stored in model cards: accuracy, macro-F1, ECE (15 bins), NLL."""
    return {
        "accuracy": accuracy(labels, logits),
        "macro_f1": macro_f1(labels, logits),
        "ece": ece(labels, logits, n_bins),
        "nll": nll(labels, logits),
        "n": int(len(labels)),
    }
