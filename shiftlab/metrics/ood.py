"""Out-of-distribution detection from a classifier's logits.

Every score here is oriented so that **higher means more out-of-distribution**:

* ``msp``: minus the maximum softmax probability (Hendrycks & Gimpel 2017);
* ``max_logit``: minus the maximum logit (Hendrycks et al. 2022);
* ``energy``: the free energy ``-T · logsumexp(logits / T)`` (Liu et al. 2020).

``detection_metrics`` compares the scores of in- and out-of-distribution
examples with AUROC, AUPR-in (in-distribution is the positive class), AUPR-out
(OOD is the positive class) and the FPR at 95 % TPR (the fraction of OOD
examples still accepted when 95 % of in-distribution examples are accepted).

Every score registers itself in ``OOD_SCORES`` where it is defined
(``@register_ood_score``), with the label the app shows and the type of its
column in a sweep's prediction records (the column is named after the
score): the record schema and the app's text iterate the registry, so a new
score is one decorated function here (and its test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy.special import logsumexp

from shiftlab.argcheck import real
from shiftlab.metrics._checks import MetricInputError, as_scalars, as_scores, probabilities
from shiftlab.metrics.registry import Registry

TPR_LEVEL = 0.95

Score = TypeVar("Score", bound=Callable[[np.ndarray], np.ndarray])


@dataclass(frozen=True)
class OodScore:
    """A registered OOD score: its ``function`` (N×K logits -> N scores, higher = more OOD), the ``label`` the app
    shows, and the ``dtype`` of its column (named ``name``) in a sweep's prediction records."""

    name: str
    function: Callable[[np.ndarray], np.ndarray]
    label: str
    dtype: np.dtype = np.dtype(np.float32)

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        return self.function(logits)


#: every OOD score by name, in the order the records' columns and the app list them
OOD_SCORES: Registry[OodScore] = Registry("OOD score")


def register_ood_score(name: str, *, label: str, dtype: type[np.floating] = np.float32) -> Callable[[Score], Score]:
    """Register the decorated function as the OOD score ``name`` (see ``OodScore``).

    The function is returned unchanged; a name already registered is a
    ``DuplicateNameError``.
    """

    def register(function: Score) -> Score:
        OOD_SCORES.register(OodScore(name, function, label, np.dtype(dtype)))
        return function

    return register


@register_ood_score("msp", label="MSP: −max softmax probability")
def msp_score(logits: np.ndarray) -> np.ndarray:
    """Minus the maximum softmax probability, per example."""
    return -probabilities(logits).max(1)


@register_ood_score("max_logit", label="max-logit: −max logit")
def max_logit_score(logits: np.ndarray) -> np.ndarray:
    """Minus the maximum logit, per example."""
    return -as_scores(logits).max(1)


@register_ood_score("energy", label="energy: −logsumexp(logits)")
def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Free energy ``-T · logsumexp(logits / T)``, per example."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) \
            or not 0 < temperature < np.inf:
        raise MetricInputError(f"temperature must be a positive finite number (1.0 is the usual choice), "
                               f"got {temperature!r}")
    return -temperature * logsumexp(as_scores(logits) / temperature, axis=1)


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
