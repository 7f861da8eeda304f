"""Calibration metrics on logits: NLL, Brier, reliability bins, ECE, MCE, and temperature scaling.

``reliability_bins`` follows Guo et al. 2017 ("On calibration of modern neural
networks"): the top-class confidence is binned and compared to the accuracy in
each bin; ECE is the count-weighted mean gap, MCE the largest gap. Temperature
scaling (same paper) divides the logits by one scalar T fitted on held-out data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from shiftlab.argcheck import choice, real
from shiftlab.metrics._checks import MetricInputError, as_scores, check_bins, labelled_scores, probabilities

BIN_STRATEGIES = ("uniform", "quantile")


def nll(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels (cross-entropy), in nats."""
    labels, logits = labelled_scores(labels, logits)
    return float(-np.mean(log_softmax(logits, axis=1)[np.arange(len(labels)), labels]))


def brier(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean over examples of the squared distance between probabilities and the one-hot label (in [0, 2])."""
    labels, logits = labelled_scores(labels, logits)
    distance = probabilities(logits)
    distance[np.arange(len(labels)), labels] -= 1.0  # minus the one-hot label, without a K×K identity
    return float(np.mean(np.sum(distance**2, axis=1)))


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


def reliability_bins(
    labels: np.ndarray, logits: np.ndarray, n_bins: int = 15, strategy: str = "uniform"
) -> ReliabilityBins:
    """Bin the top-class confidence and compare it to accuracy in each bin.

    ``strategy="uniform"`` uses equal-width bins on [0, 1] (right-closed, as in
    Guo et al. 2017); ``"quantile"`` uses equal-mass bins whose edges are
    quantiles of the confidences. ``n_bins`` is an integer from 1 to ``MAX_BINS`` ({MAX_BINS}).
    """
    n_bins = check_bins(n_bins)
    choice("strategy", strategy, BIN_STRATEGIES, MetricInputError)
    labels, logits = labelled_scores(labels, logits)
    probs = probabilities(logits)
    confidence = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.quantile(confidence, np.linspace(0.0, 1.0, n_bins + 1))
        edges[0], edges[-1] = 0.0, 1.0
    # bin b holds confidences in (edges[b], edges[b+1]]; confidence 0 cannot occur for a softmax
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=n_bins) / count
        mean_acc = np.bincount(which, weights=correct, minlength=n_bins) / count
    return ReliabilityBins(edges, count, mean_conf, mean_acc)


def ece(labels: np.ndarray, logits: np.ndarray, n_bins: int = 15, strategy: str = "uniform") -> float:
    """Expected calibration error: count-weighted mean of |accuracy - confidence| over bins.

    ``strategy="uniform"`` is the usual equal-width ECE, ``"quantile"`` the equal-mass one; ``n_bins`` is an
    integer from 1 to ``MAX_BINS`` (1000).
    """
    bins = reliability_bins(labels, logits, n_bins, strategy)
    filled = bins.count > 0
    return float(np.sum(bins.count[filled] * bins.gap[filled]) / bins.count.sum())


def mce(labels: np.ndarray, logits: np.ndarray, n_bins: int = 15, strategy: str = "uniform") -> float:
    """Maximum calibration error: the largest |accuracy - confidence| over non-empty bins."""
    bins = reliability_bins(labels, logits, n_bins, strategy)
    return float(np.max(bins.gap[bins.count > 0]))


@dataclass(frozen=True)
class TemperatureScaling:
    """A fitted temperature: calibrated logits are ``logits / temperature``, T a finite number > 0 (T <= 0
    would flip or erase the ranking of the classes)."""

    temperature: float

    def __post_init__(self) -> None:
        real("temperature", self.temperature, 0, float("inf"), low_open=True, high_open=True, error=MetricInputError)

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """The rescaled logits (same arg-max, so accuracy is unchanged)."""
        return as_scores(logits) / self.temperature


def fit_temperature(
    labels: np.ndarray, logits: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)
) -> TemperatureScaling:
    """Fit the temperature that minimises the NLL of held-out ``labels`` given ``logits``.

    The NLL is convex in 1/T, hence unimodal in log T, so a bounded scalar
    search (scipy's ``minimize_scalar``) finds the optimum. A bound doing at
    least as well as the search's optimum means the data do not determine T (e.g. every held-out example is
    already correct and more confidence always helps): that raises
    ``MetricInputError`` rather than returning the bound.
    """
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise MetricInputError(f"bounds must be a pair (low, high) of temperatures, got {bounds!r}")
    low, high = (real(f"bounds[{i}]", b, 0, float("inf"), low_open=True, high_open=True, error=MetricInputError)
                 for i, b in enumerate(bounds))
    if not low < high:
        raise MetricInputError(f"bounds must satisfy 0 < low < high, got {bounds}")
    labels, logits = labelled_scores(labels, logits)
    from scipy.optimize import minimize_scalar  # lazy: scipy.optimize costs ~0.3 s to import

    rows = np.arange(len(labels))

    def objective(log_t: float) -> float:
        return float(-np.mean(log_softmax(logits / np.exp(log_t), axis=1)[rows, labels]))

    log_bounds = (np.log(low), np.log(high))
    result = minimize_scalar(objective, bounds=log_bounds, method="bounded", options={"xatol": 1e-6})
    if min(objective(b) for b in log_bounds) <= result.fun + 1e-12:
        raise MetricInputError(
            f"the NLL is minimised on a bound of {bounds}: the temperature is not identifiable from these "
            "held-out logits (are all examples correct, or all wrong?)"
        )
    return TemperatureScaling(float(np.exp(result.x)))
