"""The columns of a sweep's records, and how they are computed from logits and attribution maps.

The scores are shiftlab.metrics' own (``msp_score``, ``max_logit_score``,
``energy_score``: higher = more out-of-distribution), and the drift is
``shiftlab.metrics.drift_report``, so a sweep gives the numbers the rest of
shiftlab gives. Model, variant, shift (and method) are not columns of the
files: they are the partition folders' names (hive layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from safetensors.numpy import load, save
from scipy.special import softmax

from shiftlab.metrics import drift_report, energy_score, max_logit_score, msp_score

if TYPE_CHECKING:  # importing shiftlab.attribution costs captum's import; records only read its results
    from shiftlab.attribution.base import Attribution

#: the attribution records' drift columns and the ``drift_report`` measure each holds
DRIFT_COLUMNS = {"iou": "top_k_iou", "spearman": "spearman", "pearson": "pearson", "ssim": "ssim"}

#: the columns every record file starts with: which condition and which image
KEYS = [("severity", pa.int8()), ("seed", pa.int32()), ("image", pa.int32())]

PREDICTIONS = pa.schema(KEYS + [
    ("label", pa.int16()),
    ("prediction", pa.int16()),
    ("confidence", pa.float32()),  # top-1 softmax probability
    ("true_prob", pa.float32()),  # softmax probability of the label
    ("correct", pa.bool_()),
    ("msp", pa.float32()),  # minus the top-1 probability
    ("max_logit", pa.float32()),  # minus the top logit
    ("energy", pa.float32()),  # -logsumexp(logits)
])

ATTRIBUTIONS = pa.schema(KEYS + [
    ("target", pa.int16()),  # the class explained: the model's prediction on the clean image
    ("iou", pa.float32()),  # top-10 % IoU with the clean image's map
    ("spearman", pa.float32()),
    ("pearson", pa.float32()),
    ("ssim", pa.float32()),
    ("map", pa.binary()),  # float16 H×W map, row-major (null unless maps are stored)
    ("map_size", pa.int16()),  # H (= W) of the stored map
    ("details", pa.binary()),  # safetensors of the method's per-image figures (null unless maps are stored)
])


def _keys(severity: int, seed: int, images: np.ndarray) -> dict[str, np.ndarray]:
    n = len(images)
    return {"severity": np.full(n, severity, np.int8), "seed": np.full(n, seed, np.int32),
            "image": np.asarray(images, np.int32)}


def prediction_table(severity: int, seed: int, images: np.ndarray, labels: np.ndarray, logits: np.ndarray) -> pa.Table:
    """The prediction records of images ``images`` (dataset indices) with ``labels`` from their N×K ``logits``."""
    probs = softmax(logits.astype(np.float64), axis=1)
    prediction = probs.argmax(1)
    rows = np.arange(len(labels))
    columns = {
        **_keys(severity, seed, images),
        "label": labels.astype(np.int16),
        "prediction": prediction.astype(np.int16),
        "confidence": probs[rows, prediction].astype(np.float32),
        "true_prob": probs[rows, labels].astype(np.float32),
        "correct": prediction == labels,
        "msp": msp_score(logits).astype(np.float32),
        "max_logit": max_logit_score(logits).astype(np.float32),
        "energy": energy_score(logits).astype(np.float32),
    }
    return pa.table(columns, schema=PREDICTIONS)


def attribution_table(severity: int, seed: int, images: np.ndarray, targets: np.ndarray, clean_maps: np.ndarray,
                      attribution: Attribution, store_maps: bool) -> pa.Table:
    """The attribution records: drift of the ``attribution``'s maps against ``clean_maps`` (N×H×W each), and,
    with ``store_maps``, the maps as float16 and the method's per-image figures (``encode_details``)."""
    maps = attribution.maps
    drift = drift_report(clean_maps, maps, k=10.0)
    n, size = len(maps), maps.shape[-1]
    stored = [m.astype(np.float16).tobytes() for m in maps] if store_maps else [None] * n
    details = encode_details(attribution.extras, n) if store_maps else [None] * n
    columns = {
        **_keys(severity, seed, images),
        "target": targets.astype(np.int16),
        **{column: drift[measure].astype(np.float32) for column, measure in DRIFT_COLUMNS.items()},
        "map": pa.array(stored, pa.binary()),
        "map_size": np.full(n, size if store_maps else 0, np.int16),
        "details": pa.array(details, pa.binary()),
    }
    return pa.table(columns, schema=ATTRIBUTIONS)


def encode_details(extras: dict[str, Any], n: int) -> list[bytes]:
    """Each image's numeric figures from an attribution's ``extras``, as one safetensors blob per image.

    Kept: every array with one row per image (WCAM's wavelet map, spectral
    profile and its error bars, convergence figure, designs run), so a page can
    show a stored result whole. Lists (WCAM's raw design outputs, what a
    refinement reuses) and strings are left out: they are large or derived.
    """
    kept = {k: v for k, v in extras.items() if isinstance(v, np.ndarray) and v.dtype != object and v.shape[:1] == (n,)}
    return [save({k: np.array(v[i]) for k, v in kept.items()}) for i in range(n)]


def decode_details(blob: bytes) -> dict[str, np.ndarray]:
    """One image's stored figures (``encode_details``)."""
    return load(bytes(blob))


def decode_map(blob: bytes, size: int) -> np.ndarray:
    """A stored map back as a float32 size×size array."""
    return np.frombuffer(blob, np.float16).reshape(size, size).astype(np.float32)
