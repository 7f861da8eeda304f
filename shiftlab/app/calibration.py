"""Calibration under shift: the figures of a reliability diagram, temperature scaling on held-out images, curves.

Temperature scaling needs images it is fitted on and others it is judged
on. The first ``HELD_OUT_FRACTION`` of the images (by position) are held out
to fit the temperature on their *clean* logits and are never evaluated; every
figure of the page is computed on the rest, with or without the temperature,
so that switching it on changes only what the temperature changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shiftlab import metrics
from shiftlab.app.experiment import N_BINS

#: share of the images held out to fit the temperature (never evaluated)
HELD_OUT_FRACTION = 0.2
#: a bin with fewer images than this is marked as unreliable on the diagram
MIN_BIN_COUNT = 5


@dataclass(frozen=True)
class Split:
    """Which images fit the temperature and which are evaluated (positions into the image set)."""

    held_out: np.ndarray
    evaluated: np.ndarray

    def describe(self) -> str:
        return (f"images {self.held_out[0]}-{self.held_out[-1]} ({len(self.held_out):,}, clean) fit the temperature; "
                f"images {self.evaluated[0]}-{self.evaluated[-1]} ({len(self.evaluated):,}) are evaluated")


def split(n: int) -> Split:
    """The first ``HELD_OUT_FRACTION`` of ``n`` images (at least one) held out, the rest evaluated."""
    cut = max(1, int(round(n * HELD_OUT_FRACTION)))
    return Split(np.arange(cut), np.arange(cut, n))


def figures(labels: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Accuracy, ECE, MCE (``N_BINS`` equal-width bins) and NLL of ``logits`` against ``labels``."""
    return {"accuracy": metrics.accuracy(labels, logits), "ece": metrics.ece(labels, logits, N_BINS),
            "mce": metrics.mce(labels, logits, N_BINS), "nll": metrics.nll(labels, logits)}


def reliability(labels: np.ndarray, logits: np.ndarray) -> metrics.ReliabilityBins:
    """The ``N_BINS`` equal-width bins of a reliability diagram."""
    return metrics.reliability_bins(labels, logits, N_BINS)


def fit_temperature(labels: np.ndarray, logits: np.ndarray) -> metrics.TemperatureScaling:
    """The temperature minimising the NLL of the held-out images' clean ``logits``."""
    return metrics.fit_temperature(labels, logits)


def confidence_frame(logits_by_condition: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Top-1 confidence of every image, one row each, with its condition (for the confidence histograms)."""
    return pd.concat([pd.DataFrame({"confidence": metrics.probabilities(logits).max(1), "condition": condition})
                      for condition, logits in logits_by_condition.items()], ignore_index=True)


def curves_frame(labels: np.ndarray, logits: Mapping[tuple[str, int], np.ndarray], labelled: bool) -> pd.DataFrame:
    """Accuracy (and ECE when the labels score the model) per (variant, severity), long form.

    Without labels the reference is each variant's own prediction at severity 0,
    so "accuracy" is agreement and ECE is left out.
    """
    rows = []
    for (variant, severity), values in sorted(logits.items()):
        reference = labels if labelled else logits[variant, 0].argmax(1)
        rows.append({"variant": variant, "severity": severity, "measure": "accuracy" if labelled else "agreement",
                     "value": metrics.accuracy(reference, values)})
        if labelled:
            rows.append({"variant": variant, "severity": severity, "measure": "ECE",
                         "value": metrics.ece(labels, values, N_BINS)})
    return pd.DataFrame(rows)
