"""Sweep folders as the pages read them: the shipped store that makes the default views instant, any other sweep.

A page asks whether a store covers what it shows (the same images, seed,
models and shifts); when it does, its figures come from the store's
records, otherwise they are computed live — the same numbers either way
(tested). Any sweep folder a user made with ``shiftlab sweep`` opens the same
way on the Calibration, Cases and Robustness pages.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from shiftlab.metrics import ReliabilityBins
from shiftlab.sweep import results
from shiftlab.sweep.plan import SOURCE
from shiftlab.sweep.results import SweepResults
from shiftlab.sweep.ship import shipped_store

#: the dataset of the shipped store's records
SHIPPED_DATA = "cifar10-sample"


def open_store(path: str | os.PathLike) -> SweepResults:
    """A sweep folder opened for queries (``SweepStoreError`` names what is missing or broken)."""
    return results.open(Path(path).expanduser())


def shipped() -> SweepResults:
    """The sweep of the embedded sample shipped with the app."""
    return open_store(shipped_store("sample"))


def store_data(store: SweepResults) -> str:
    """The dataset name the store's images come from (``cifar10-sample``, ``cifar10``...)."""
    return store.plan.data["name"]


def covers_curves(store: SweepResults, dataset: str, arch: str, variants: list[str], shift: str, seed: int) -> bool:
    """Whether ``store`` holds every variant's records for ``shift`` at every severity, on these images and seed."""
    return (store_data(store) == dataset and store.plan.seeds == (seed,) and store.plan.data.get("limit") is None
            and all(store.covers(arch, v, shift, s) and store.covers(arch, v, SOURCE, 0)
                    for v in variants for s in range(1, 6)))


def curves_from(store: SweepResults, arch: str, variants: list[str], shift: str) -> pd.DataFrame:
    """Accuracy and ECE per (variant, severity) from the store, in ``calibration.curves_frame``'s long form."""
    figures = store.accuracy(model=arch, variant=variants, shift=shift)
    return pd.DataFrame([{"variant": r.variant, "severity": int(r.severity), "measure": measure, "value": float(value)}
                         for r in figures.itertuples() for measure, value in (("accuracy", r.accuracy), ("ECE", r.ece))])


def corruption_frame_from(store: SweepResults) -> pd.DataFrame:
    """Accuracy per (model, variant, corruption, severity) of a sweep, severity 0 the clean images, long form."""
    figures = store.accuracy()
    clean = figures[figures["shift"] == SOURCE]
    shifted = figures[figures["shift"] != SOURCE]
    frames = [shifted[["model", "variant", "shift", "severity", "accuracy"]]]
    for shift in shifted["shift"].unique():
        frames.append(clean[["model", "variant", "severity", "accuracy"]].assign(shift=shift))
    frame = pd.concat(frames, ignore_index=True).rename(columns={"shift": "corruption"})
    return frame.sort_values(["model", "variant", "corruption", "severity"]).reset_index(drop=True)


def zoo_rows_from(store: SweepResults) -> pd.DataFrame:
    """Per (model, variant): clean accuracy and the mean accuracy over the sweep's shifts and severities."""
    frame = corruption_frame_from(store)
    clean = frame[frame["severity"] == 0].groupby(["model", "variant"])["accuracy"].first()
    shifted = frame[frame["severity"] > 0].groupby(["model", "variant"])["accuracy"].mean()
    rows = pd.DataFrame({"accuracy": clean, "corruption_accuracy": shifted}).reset_index()
    return rows.assign(pgd20_accuracy=np.nan)


def figures_from(store: SweepResults, arch: str, variant: str, shift: str, severity: int) -> pd.DataFrame:
    """Accuracy, ECE, MCE and NLL of the clean ("source") and shifted records of one view, one row each."""
    figures = store.accuracy(model=arch, variant=variant, shift=shift, severity=severity)
    figures = figures[(figures["shift"] == SOURCE) | (figures["severity"] == severity)]
    rows = []
    for condition, part in (("source", figures[figures["shift"] == SOURCE]), ("shifted", figures[figures["shift"] == shift])):
        bins = reliability_from(store, arch, variant, SOURCE if condition == "source" else shift, severity)
        filled = bins.count > 0
        mce = float(np.max(np.abs(bins.accuracy[filled] - bins.confidence[filled])))
        rows.append({"condition": condition, "accuracy": float(part["accuracy"].iloc[0]),
                     "ece": float(part["ece"].iloc[0]), "mce": mce, "nll": float(part["nll"].iloc[0])})
    return pd.DataFrame(rows)


def reliability_from(store: SweepResults, arch: str, variant: str, shift: str, severity: int,
                     n_bins: int = 15) -> ReliabilityBins:
    """The reliability bins of one (model, variant, shift, severity) of the store, as ``metrics.reliability_bins``."""
    rows = store.reliability(model=arch, variant=variant, shift=shift, severity=severity, n_bins=n_bins)
    rows = rows[(rows["shift"] == shift) & (rows["severity"] == (0 if shift == SOURCE else severity))]
    count = np.zeros(n_bins, np.int64)
    confidence, accuracy = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
    bins = rows["bin"].to_numpy(int)
    count[bins], confidence[bins], accuracy[bins] = rows["count"], rows["confidence"], rows["accuracy"]
    return ReliabilityBins(np.linspace(0, 1, n_bins + 1), count, confidence, accuracy)
