"""The columns of a sweep's records, and how they are computed from logits and attribution maps.

The scores are shiftlab.metrics' own (every score of ``OOD_SCORES``:
higher = more out-of-distribution), and the drift is
``shiftlab.metrics.drift_report``, so a sweep gives the numbers the rest of
shiftlab gives. Those columns, their names, types and order, are read from
the two registries (``OOD_SCORES``, ``DRIFT_MEASURES``) each time a schema is
asked for: a new score or measure is a new column with no change here. Model,
variant, shift (and method) are not columns of the files: they are the
partition folders' names (hive layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from safetensors.numpy import load, save
from scipy.special import softmax

from shiftlab.metrics import DRIFT_MEASURES, OOD_SCORES, DriftMeasure, drift_report

if TYPE_CHECKING:  # importing shiftlab.attribution costs captum's import; records only read its results
    from collections.abc import Sequence

    from shiftlab.attribution.base import Attribution
    from shiftlab.metrics.faithfulness import DeletionInsertion, ROADResult

#: the columns every record file starts with: which condition and which image
KEYS = [("severity", pa.int8()), ("seed", pa.int32()), ("image", pa.int32())]


def drift_measures() -> list[DriftMeasure]:
    """The registered drift measures in the order of their columns in the attribution records."""
    return sorted(DRIFT_MEASURES.values(), key=lambda measure: measure.column_position)


def prediction_schema() -> pa.Schema:
    """The prediction records' columns: keys, the prediction, then one column per registered OOD score."""
    scores = [(name, pa.from_numpy_dtype(score.dtype)) for name, score in OOD_SCORES.items()]
    return pa.schema(KEYS + [
        ("label", pa.int16()),
        ("prediction", pa.int16()),
        ("confidence", pa.float32()),  # top-1 softmax probability
        ("true_prob", pa.float32()),  # softmax probability of the label
        ("correct", pa.bool_()),
        *scores,
    ])


def attribution_schema() -> pa.Schema:
    """The attribution records' columns: keys, the class explained, one column per registered drift measure
    (top-10 % where a measure takes a k, against the clean image's map), then the stored map and figures."""
    drift = [(measure.column, pa.from_numpy_dtype(measure.dtype)) for measure in drift_measures()]
    return pa.schema(KEYS + [
        ("target", pa.int16()),  # the class explained: the model's prediction on the clean image
        *drift,
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
        **{name: score(logits).astype(score.dtype) for name, score in OOD_SCORES.items()},
    }
    return pa.table(columns, schema=prediction_schema())


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
        **{measure.column: drift[measure.name].astype(measure.dtype) for measure in drift_measures()},
        "map": pa.array(stored, pa.binary()),
        "map_size": np.full(n, size if store_maps else 0, np.int16),
        "details": pa.array(details, pa.binary()),
    }
    return pa.table(columns, schema=attribution_schema())


#: the faithfulness records' areas, in column order: ``DeletionInsertion``'s per-image areas under the curves of
#: the map's order and of the random order (``shiftlab.metrics.faithfulness``)
FAITHFULNESS_AREAS = ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc")


def road_columns() -> list[str]:
    """The faithfulness records' ROAD columns: ``road_morf_P`` for each of ROAD's default percentages P, then
    ``road_lerf_P``: the explained class's probability with the most (least) important P % of pixels imputed."""
    # imported here: the metrics load torchvision, which opening a store does not otherwise need
    from shiftlab.metrics.faithfulness import ROAD_PERCENTAGES

    return [f"road_{side}_{share}" for side in ("morf", "lerf") for share in ROAD_PERCENTAGES]


def faithfulness_schema() -> pa.Schema:
    """The faithfulness records' columns: keys, the class explained, the four deletion/insertion areas, then ROAD's
    probabilities (``road_columns``)."""
    return pa.schema(KEYS + [
        ("target", pa.int16()),  # the class explained: the model's prediction on the clean image
        *[(name, pa.float32()) for name in FAITHFULNESS_AREAS],
        *[(name, pa.float32()) for name in road_columns()],
    ])


def faithfulness_table(severity: int, seed: int, images: np.ndarray, targets: np.ndarray,
                       curves: Sequence[DeletionInsertion], removal: Sequence[ROADResult]) -> pa.Table:
    """The faithfulness records of images ``images`` (dataset indices): ``curves`` and ``removal`` hold each
    image's deletion/insertion and ROAD results, in the images' order (one image each, or any split of them)."""
    areas = {name: np.concatenate([getattr(c, name) for c in curves]) for name in FAITHFULNESS_AREAS}
    road = np.concatenate([np.concatenate([r.morf, r.lerf], axis=1) for r in removal])
    columns = {
        **_keys(severity, seed, images),
        "target": np.asarray(targets).astype(np.int16),
        **{name: values.astype(np.float32) for name, values in areas.items()},
        **{name: road[:, i].astype(np.float32) for i, name in enumerate(road_columns())},
    }
    return pa.table(columns, schema=faithfulness_schema())


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
