"""Out-of-distribution detection from a classifier's logits.

Every score here is oriented so that **higher means more out-of-distribution**:

* ``msp``: minus the maximum softmax probability (Hendrycks & Gimpel 2017);
* ``max_logit``: minus the maximum logit (Hendrycks et al. 2022);
* ``energy``: the free energy ``-T · logsumexp(logits / T)`` (Liu et al. 2020).

``detection_metrics`` compares the scores of in- and out-of-distribution
examples with AUROC, AUPR-in (in-distribution is the positive class), AUPR-out
(OOD is the positive class) and the FPR at 95 % TPR (the fraction of OOD
examples still accepted when 95 % of in-distribution examples are accepted).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from shiftlab.argcheck import real
from shiftlab.metrics._checks import MetricInputError, as_scalars, as_scores, probabilities

TPR_LEVEL = 0.95


def msp_score(logits: np.ndarray) -> np.ndarray:
    """Minus the maximum softmax probability, per example."""
    return -probabilities(logits).max(1)


def max_logit_score(logits: np.ndarray) -> np.ndarray:
    """Minus the maximum logit, per example."""
    return -as_scores(logits).max(1)


def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Free energy ``-T · logsumexp(logits / T)``, per example."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) or not 0 < temperature < np.inf:
        raise MetricInputError(f"temperature must be a positive finite number (1.0 is the usual choice), got {temperature!r}")
    return -temperature * logsumexp(as_scores(logits) / temperature, axis=1)


OOD_SCORES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "msp": msp_score,
    "max_logit": max_logit_score,
    "energy": energy_score,
}


def ood_score(logits: np.ndarray, score: str = "energy") -> np.ndarray:
    """The named OOD score (``msp``, ``max_logit`` or ``energy``) of each example; higher = more OOD."""
    if not isinstance(score, str) or score not in OOD_SCORES:
        raise MetricInputError(f"unknown OOD score {score!r}; known: {', '.join(OOD_SCORES)}")
    return OOD_SCORES[score](logits)


def fpr_at_tpr(scores_in: np.ndarray, scores_out: np.ndarray, tpr_level: float = TPR_LEVEL) -> float:
    """Fraction of OOD examples accepted at the strictest threshold accepting ``tpr_level`` of the in-distribution ones
    (``tpr_level`` in (0, 1])."""
    real("tpr_level", tpr_level, 0, 1, low_open=True, error=MetricInputError)
    scores_in, scores_out = as_scalars(scores_in, "scores_in"), as_scalars(scores_out, "scores_out")
    from sklearn.metrics import roc_curve  # lazy: scikit-learn costs ~0.5 s to import

    is_in = np.r_[np.ones(len(scores_in)), np.zeros(len(scores_out))]
    # in-distribution is the positive class and is accepted when its score is low, hence the minus sign
    fpr, tpr, _ = roc_curve(is_in, -np.r_[scores_in, scores_out], drop_intermediate=False)
    return float(fpr[np.searchsorted(tpr, tpr_level, side="left")])


def detection_metrics(scores_in: np.ndarray, scores_out: np.ndarray) -> dict[str, float]:
    """AUROC, AUPR-in, AUPR-out and FPR at 95 % TPR of separating OOD (high scores) from in-distribution."""
    scores_in, scores_out = as_scalars(scores_in, "scores_in"), as_scalars(scores_out, "scores_out")
    from sklearn.metrics import average_precision_score, roc_auc_score  # lazy, as in fpr_at_tpr

    is_out = np.r_[np.zeros(len(scores_in)), np.ones(len(scores_out))]
    scores = np.r_[scores_in, scores_out]
    return {
        "auroc": float(roc_auc_score(is_out, scores)),
        "aupr_in": float(average_precision_score(1 - is_out, -scores)),
        "aupr_out": float(average_precision_score(is_out, scores)),
        "fpr_at_95_tpr": fpr_at_tpr(scores_in, scores_out),
    }


def ood_report(logits_in: np.ndarray, logits_out: np.ndarray, score: str = "energy") -> dict[str, float]:
    """``detection_metrics`` of the named score computed on in- and out-of-distribution logits."""
    return detection_metrics(ood_score(logits_in, score), ood_score(logits_out, score))
