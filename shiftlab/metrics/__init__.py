"""Metrics: classification, calibration, attribution drift and OOD detection.

Conventions: ``labels`` are int class indices (N,), ``logits`` raw model
outputs (N, K), attribution maps H×W arrays. Every function validates its
input and raises ``MetricInputError`` (a ``ValueError``) on NaN/inf,
mismatched shapes or out-of-range labels. The drift measures and OOD scores
are registries (``DRIFT_MEASURES``, ``OOD_SCORES``) that the sweep records and
the app's text are derived from.
"""

from shiftlab.metrics._checks import MetricInputError, probabilities
from shiftlab.metrics.calibration import (
    ReliabilityBins,
    TemperatureScaling,
    brier,
    ece,
    fit_temperature,
    mce,
    nll,
    reliability_bins,
)
from shiftlab.metrics.classification import accuracy, classification_report, macro_f1, per_class_accuracy
from shiftlab.metrics.drift import (
    DRIFT_MEASURES,
    DriftMeasure,
    drift_report,
    pearson,
    register_drift_measure,
    spearman,
    ssim,
    top_k_iou,
    top_k_mask,
)
from shiftlab.metrics.ood import (
    OOD_SCORES,
    OodScore,
    detection_metrics,
    energy_score,
    fpr_at_tpr,
    max_logit_score,
    msp_score,
    ood_report,
    ood_score,
    register_ood_score,
)

__all__ = [
    "DRIFT_MEASURES",
    "OOD_SCORES",
    "DriftMeasure",
    "MetricInputError",
    "OodScore",
    "ReliabilityBins",
    "TemperatureScaling",
    "accuracy",
    "brier",
    "classification_report",
    "detection_metrics",
    "drift_report",
    "ece",
    "energy_score",
    "fit_temperature",
    "fpr_at_tpr",
    "macro_f1",
    "max_logit_score",
    "mce",
    "msp_score",
    "nll",
    "ood_report",
    "ood_score",
    "pearson",
    "per_class_accuracy",
    "probabilities",
    "register_drift_measure",
    "register_ood_score",
    "reliability_bins",
    "spearman",
    "ssim",
    "top_k_iou",
    "top_k_mask",
]
