"""The OOD page's figures: detection per score, attribution drift from ID to OOD images, one row per variant.

The OOD images come from a dataset shift at severity 5, which replaces every
image of the in-distribution set by one of the OOD set, so image ``i`` of
each set is a pair: the drift of a method is measured between the map of
in-distribution image ``i`` and the map of the OOD image that replaced it.
An image folder of the models file is an OOD set too (``ood_folder_<name>``,
``shiftlab.shifts.ood``), labelled or not, against the sample or a folder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shiftlab import metrics
from shiftlab.app.experiment import N_BINS
from shiftlab.shifts import get_shift
from shiftlab.shifts.ood import FOLDER_FAMILY

#: the dataset shift's severity: 5 replaces every image
SEVERITY = 5
#: images whose maps are compared (attribution on every image would be slow on a CPU)
DRIFT_IMAGES = 50


Scores = dict[str, np.ndarray]


def scores(logits: np.ndarray) -> Scores:
    """Every OOD score (``metrics.OOD_SCORES``, higher = more OOD) of each image's logits."""
    return {score: metrics.ood_score(logits, score) for score in metrics.OOD_SCORES}


def detection_table(scores_in: Scores, scores_out: Scores) -> pd.DataFrame:
    """AUROC, AUPR-in, AUPR-out and FPR at 95 % TPR of every OOD score (rows), in-distribution vs OOD images."""
    rows = [{"score": score, **metrics.detection_metrics(scores_in[score], scores_out[score])}
            for score in metrics.OOD_SCORES]
    return pd.DataFrame(rows).set_index("score")


def describe(ood_set: str, dataset: str, n: int, seed: int) -> str:
    """What is in- and what is out-of-distribution (a sentence), and a warning when an image folder is compared with
    itself. The names are a registry's (dataset and folder names are letters, digits, '_' and '-')."""
    shift = get_shift(ood_set)
    params = shift.params[SEVERITY]
    folder = shift.family == FOLDER_FAMILY
    source = f"images of your folder `{params['source']}`" if folder else f"`{params['source']}` images"
    text = (f"In-distribution: {n:,} images of `{dataset}`. Out-of-distribution: `{ood_set}` at severity {SEVERITY}, "
            f"where {params['fraction']:.0%} of the images are replaced by {source} (seed {seed}).")
    if folder and params["source"] == dataset:
        text += (" The OOD set is the in-distribution folder itself, so no score can tell the two apart (an AUROC "
                 "near 0.5): choose another set.")
    return text


def drift_table(drift: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Per method: mean and median top-10 % IoU and mean Spearman between ID and OOD maps (NaN-free means)."""
    return pd.DataFrame([{"method": method, "mean IoU": float(np.nanmean(d["top_k_iou"])),
                          "median IoU": float(np.nanmedian(d["top_k_iou"])),
                          "mean Spearman": float(np.nanmean(d["spearman"])), "images": len(d["top_k_iou"])}
                         for method, d in drift.items()])


def id_figures(labels: np.ndarray, logits: np.ndarray) -> tuple[float, float]:
    """Accuracy and ECE (``N_BINS`` bins) of the in-distribution logits."""
    return metrics.accuracy(labels, logits), metrics.ece(labels, logits, N_BINS)


def summary_row(variant: str, figures: tuple[float, float] | None, scores_in: Scores, scores_out: Scores,
                gradcam: dict[str, np.ndarray]) -> dict[str, float | str | None]:
    """The reference project's columns for one variant: ID accuracy and ECE, Grad-CAM IoU ID vs OOD, MSP and energy
    AUROC.

    ``figures`` (ID accuracy, ECE) is None when the dataset's labels do not score the model.
    """
    auroc = {score: metrics.detection_metrics(scores_in[score], scores_out[score])["auroc"]
             for score in ("msp", "energy")}
    return {
        "variant": variant,
        "ID accuracy": figures[0] if figures else None,
        "ID ECE": figures[1] if figures else None,
        "Grad-CAM IoU ID vs OOD": float(np.nanmean(gradcam["top_k_iou"])),
        "MSP AUROC": auroc["msp"],
        "energy AUROC": auroc["energy"],
    }
