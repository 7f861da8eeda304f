"""The drift-measure and OOD-score registries: duplicates refused, and the report, the sweep records' schemas, the
SQL that reads them and the app's text all derived from them, with the columns, order and words of before."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from shiftlab.app import text
from shiftlab.errors import DuplicateNameError
from shiftlab.metrics import (
    DRIFT_MEASURES,
    OOD_SCORES,
    drift_report,
    ood_score,
    register_drift_measure,
    register_ood_score,
)
from shiftlab.sweep import records, results
from shiftlab.sweep.plan import Partition, SweepPlan, write_plan
from shiftlab.sweep.ship import shipped_store
from shiftlab.sweep.store import write_partition
from shiftlab.sweep.swept import SweptData

F32 = pa.float32()


def _gap(map_a: np.ndarray, map_b: np.ndarray) -> float:
    return float(np.abs(np.asarray(map_a) - np.asarray(map_b)).mean())


@pytest.fixture
def scratch(monkeypatch):
    """Registries that a test may add to: their entries are restored after it."""
    for registry in (DRIFT_MEASURES, OOD_SCORES):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))


def _measure(**declared):
    facts = {"column": "gap", "column_position": 4, "label": "gap", "meaning": "0 = same", "column_help": "gap"}
    return register_drift_measure(**{**facts, **declared})


def test_the_drift_registry_refuses_a_taken_name_column_or_position(scratch):
    def pearson(map_a, map_b):
        return 0.0

    for declared, field in (({}, "name 'pearson'"), ({"column": "iou"}, "column 'iou'"),
                            ({"column_position": 1}, "column_position 1")):
        with pytest.raises(DuplicateNameError, match=f"drift measure {field} is already registered"):
            _measure(**declared)(_gap if declared else pearson)
    assert list(DRIFT_MEASURES) == ["top_k_iou", "pearson", "spearman", "ssim"]


def test_the_ood_registry_refuses_a_taken_name(scratch):
    with pytest.raises(DuplicateNameError, match="OOD score name 'energy' is already registered"):
        register_ood_score("energy", label="again")(lambda logits: -logits.max(1))
    assert list(OOD_SCORES) == ["msp", "max_logit", "energy"]


def test_records_sql_and_report_keep_their_columns_and_order():
    assert [(f.name, f.type) for f in records.prediction_schema()] == [
        ("severity", pa.int8()), ("seed", pa.int32()), ("image", pa.int32()), ("label", pa.int16()),
        ("prediction", pa.int16()), ("confidence", F32), ("true_prob", F32), ("correct", pa.bool_()),
        ("msp", F32), ("max_logit", F32), ("energy", F32)]
    assert [(f.name, f.type) for f in records.attribution_schema()] == [
        ("severity", pa.int8()), ("seed", pa.int32()), ("image", pa.int32()), ("target", pa.int16()),
        ("iou", F32), ("spearman", F32), ("pearson", F32), ("ssim", F32), ("map", pa.binary()),
        ("map_size", pa.int16()), ("details", pa.binary())]
    assert [(m.column, m.name) for m in records.drift_measures()] == [
        ("iou", "top_k_iou"), ("spearman", "spearman"), ("pearson", "pearson"), ("ssim", "ssim")]
    assert results.CASE_DRIFT == ("iou", "spearman")
    with results.open(shipped_store("attributions")) as store:
        assert list(store.records(method="gradcam").columns)[-5:] == ["target", "iou", "spearman", "pearson", "ssim"]
    maps = np.random.default_rng(0).random((2, 8, 8))
    assert list(drift_report(maps, maps)) == ["top_k_iou", "pearson", "spearman", "ssim"]


def test_the_app_text_is_the_registries_words():
    assert text.DRIFT_MEASURES == {
        "top_k_iou": ("top-10 % IoU", "overlap of the most important pixels; 1 = the same region"),
        "pearson": ("Pearson", "linear correlation of the two maps; 1 = the same up to scale"),
        "spearman": ("Spearman", "rank correlation; 1 = the same ordering of pixels"),
        "ssim": ("SSIM", "structural similarity of the rescaled maps; 1 = identical"),
    }
    assert text.SCORE_LABELS == {"msp": "MSP: −max softmax probability", "max_logit": "max-logit: −max logit",
                                 "energy": "energy: −logsumexp(logits)"}
    assert text.METRIC_HELP["iou"] == ("Overlap of the 10 % most important pixels of the two maps (intersection over "
                                       "union); 1 = same region.")
    assert text.METRIC_HELP["spearman"] == "rank correlation of the two maps; 1 = same ordering"
    assert [text.DRIFT_MEASURES[name][0] for name in DRIFT_MEASURES] == ["top-10 % IoU", "Pearson", "Spearman", "SSIM"]


def test_a_new_measure_and_score_reach_the_report_and_the_schemas(scratch):
    _measure(column="gap", column_position=-1)(_gap)
    register_ood_score("top_logit", label="top logit", dtype=np.float64)(lambda logits: logits.max(1))
    a, b = np.zeros((2, 8, 8)), np.ones((2, 8, 8))
    assert list(drift_report(a, b)) == ["top_k_iou", "pearson", "spearman", "ssim", "_gap"]
    np.testing.assert_array_equal(drift_report(a, b)["_gap"], [1.0, 1.0])
    assert records.attribution_schema().names[3:9] == ["target", "gap", "iou", "spearman", "pearson", "ssim"]
    assert records.prediction_schema().field("top_logit").type == pa.float64()
    np.testing.assert_array_equal(ood_score(np.eye(3), "top_logit"), [1, 1, 1])


def _store(root: Path, clean: np.ndarray, shifted: np.ndarray) -> None:
    """A sweep folder made from the records' own tables: one model, the clean and fogged images, saliency maps."""
    data = SweptData("cifar10-sample", "test", 2, None, "0" * 64, 2)
    write_plan(root, SweepPlan((("m", "v"),), ("fog",), (1,), (0,), data, ("saliency",), store_maps=True))
    logits = np.random.default_rng(1).normal(size=(2, 3))
    for shift, severity, maps in (("source", 0, clean), ("fog", 1, shifted)):
        write_partition(root, Partition("predictions", "m", "v", shift),
                        records.prediction_table(severity, 0, np.arange(2), np.zeros(2, int), logits * (1 + severity)))
        write_partition(root, Partition("attributions", "m", "v", shift, "saliency"), records.attribution_table(
            severity, 0, np.arange(2), np.zeros(2, int), clean, SimpleNamespace(maps=maps, extras={}), True))


def test_a_new_measure_and_score_are_stored_and_queried(scratch, tmp_path):
    """Declared as shiftlab.metrics declares its own, a measure and a score become columns of the records and of
    the queries' answers with no other change; the store is made from the records' tables, not by a sweep."""
    _measure(column="gap", column_position=4)(_gap)
    register_ood_score("top_logit", label="top logit")(lambda logits: logits.max(1))
    rng = np.random.default_rng(0)
    clean = rng.random((2, 8, 8)).astype(np.float32)
    shifted = clean + rng.random((2, 8, 8), np.float32)
    _store(tmp_path, clean, shifted)
    with results.open(tmp_path) as store:
        drift = store.records(method="saliency")
        maps = store.maps("m", "v", "fog", 1, "saliency")
        auroc = store.ood_auroc("top_logit")
        columns = store.sql("SELECT * FROM attributions").columns
    assert list(drift.columns)[-7:] == ["top_logit", "target", "iou", "spearman", "pearson", "ssim", "gap"]
    assert list(maps.columns)[2:7] == ["iou", "spearman", "pearson", "ssim", "gap"] and "gap" in columns
    np.testing.assert_allclose(maps["gap"], [_gap(a, b) for a, b in zip(clean, shifted)], rtol=1e-6)
    np.testing.assert_array_equal(drift["gap"], [*maps["gap"], 0, 0])  # fog sorts before source
    assert auroc["auroc"].tolist() == [1.0]  # the fogged logits are twice the clean ones
