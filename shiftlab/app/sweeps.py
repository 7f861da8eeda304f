"""Sweep folders as the pages read them: the shipped store that makes the default views instant, any other sweep.

Whether a store holds what a page shows is ``shiftlab.sweep.lookup``'s test
(the same weights, images, seed, shifts and method options); when it does,
the figures are read from the store's records here, otherwise they are
computed live — the same numbers either way (tested). Any sweep folder a
user made with ``shiftlab sweep`` opens the same way on the Calibration,
Cases and Robustness pages: the app offers the
shipped stores and the sweep folders found directly under the sweeps root
(``$SHIFTLAB_SWEEPS``, else the checkout's ``sweeps/``), by name. It never
opens a path typed in the app, so no one can make it look at the server's disk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from shiftlab.app.ood import SEVERITY as OOD_SEVERITY
from shiftlab.errors import ParameterError
from shiftlab.metrics import OOD_SCORES, ReliabilityBins
from shiftlab.sweep import results
from shiftlab.sweep.plan import MANIFEST, SOURCE
from shiftlab.sweep.records import drift_measures
from shiftlab.sweep.results import SweepResults
from shiftlab.sweep.ship import shipped_store

#: the dataset of the shipped store's records
SHIPPED_DATA = "cifar10-sample"
#: the environment variable naming the folder whose sweep folders the app offers
SWEEPS_ENV_VAR = "SHIFTLAB_SWEEPS"
#: the shipped stores the app offers, by the name it shows (the first is the default)
SHIPPED_CHOICES = {f"shipped: {name}": name for name in ("sample", "ood", "ood_drift", "attributions")}
#: the most sweep folders offered, and the most entries of the sweeps root looked at to find them
MAX_CHOICES, MAX_SCANNED = 200, 10_000


def sweeps_root() -> Path:
    """The folder whose sweep folders the app offers: ``$SHIFTLAB_SWEEPS``, else ``sweeps/`` in the checkout."""
    return Path(os.environ.get(SWEEPS_ENV_VAR) or Path(__file__).resolve().parents[2] / "sweeps")


def sweep_choices() -> list[str]:
    """The names the app's sweep-folder box offers: the shipped stores, then the folders directly under
    ``sweeps_root()`` that hold a ``sweep.json``, sorted (names with control characters, hidden ones and names
    like a shipped store's left out; at most ``MAX_CHOICES``)."""
    found = []
    try:
        with os.scandir(sweeps_root()) as entries:
            for _, entry in zip(range(MAX_SCANNED), entries):
                name = entry.name
                if (name.isprintable() and not name.startswith(".") and name not in SHIPPED_CHOICES
                        and entry.is_dir() and (Path(entry.path) / MANIFEST).is_file()):
                    found.append(name)
    except OSError:  # no sweeps root (the default until a sweep is made there), or one this user cannot read
        pass
    return list(SHIPPED_CHOICES) + sorted(found)[:MAX_CHOICES]


def choice_path(name: str) -> Path:
    """The folder of the offered sweep ``name``; ``ParameterError`` for any name the box does not offer (a path,
    ``..``, a folder outside the sweeps root)."""
    if isinstance(name, str) and name in SHIPPED_CHOICES:
        return shipped_store(SHIPPED_CHOICES[name])
    if not isinstance(name, str) or name not in sweep_choices():
        raise ParameterError(f"no sweep folder named {name!r:.100} under the sweeps root (${SWEEPS_ENV_VAR})")
    return sweeps_root() / name


def store_label(store: SweepResults) -> str:
    """How the app names an opened sweep: its name in the sweep-folder box, never a path of the server's disk."""
    shipped_names = {shipped_store(key).resolve(): name for name, key in SHIPPED_CHOICES.items()}
    return shipped_names.get(store.root.resolve(), store.root.name)


def open_choice(name: str) -> SweepResults:
    """The offered sweep ``name`` opened for queries (``choice_path``, then ``open_store``)."""
    return open_store(choice_path(name))


def open_store(path: str | os.PathLike) -> SweepResults:
    """A sweep folder opened for queries (``SweepStoreError`` names what is missing or broken)."""
    return results.open(Path(path).expanduser())


def shipped() -> SweepResults:
    """The sweep of the embedded sample shipped with the app."""
    return open_store(shipped_store("sample"))


def store_data(store: SweepResults) -> str:
    """The dataset name the store's images come from (``cifar10-sample``, ``cifar10``...)."""
    return store.plan.data.name


def curves_from(store: SweepResults, arch: str, variants: list[str], shift: str) -> pd.DataFrame:
    """Accuracy and ECE per (variant, severity) from the store, in ``calibration.curves_frame``'s long form."""
    figures = store.accuracy(model=arch, variant=variants, shift=shift)
    return pd.DataFrame([{"variant": r.variant, "severity": int(r.severity), "measure": measure, "value": float(value)}
                         for r in figures.itertuples()
                         for measure, value in (("accuracy", r.accuracy), ("ECE", r.ece))])


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
    for condition, part in (("source", figures[figures["shift"] == SOURCE]),
                            ("shifted", figures[figures["shift"] == shift])):
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


def ood_scores_from(store: SweepResults, arch: str, variant: str, ood_set: str) -> tuple[dict, dict]:
    """The OOD scores (msp, max_logit, energy) of the clean and of the ``ood_set`` images, in image order."""
    records = store.records(arch, variant, [SOURCE, ood_set], [OOD_SEVERITY])
    inside, outside = records[records["shift"] == SOURCE], records[records["shift"] == ood_set]
    return ({score: inside[score].to_numpy(np.float64) for score in OOD_SCORES},
            {score: outside[score].to_numpy(np.float64) for score in OOD_SCORES})


def id_figures_from(store: SweepResults, arch: str, variant: str) -> tuple[float, float]:
    """Accuracy and ECE of the clean records, as ``shiftlab.app.ood.id_figures`` computes them from logits."""
    figures = store.accuracy(model=arch, variant=variant, shift=SOURCE)
    return float(figures["accuracy"].iloc[0]), float(figures["ece"].iloc[0])


def drift_from(store: SweepResults, arch: str, variant: str, ood_set: str, method: str) -> dict[str, np.ndarray]:
    """``method``'s top-10 % IoU and Spearman between each clean image's map and its OOD replacement's."""
    records = store.records(arch, variant, ood_set, OOD_SEVERITY, method=method)
    return {measure.name: records[measure.column].to_numpy(np.float64) for measure in drift_measures()
            if measure.column in ("iou", "spearman")}
