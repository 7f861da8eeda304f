"""The sweep's faithfulness product (issue 25 item 4): records equal the metrics called directly, one image at a
time; a run killed midway resumes to the bytes of an uninterrupted one; ``SweepResults.faithfulness`` and the
``faithfulness`` SQL view; products are chosen and checked, and a plan without them keeps its bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from shiftlab import cli
from shiftlab.attribution import attribute
from shiftlab.data import load_dataset
from shiftlab.errors import ParameterError, SweepStoreError, UnknownOptionError
from shiftlab.inference import predict_logits
from shiftlab.metrics.faithfulness import ROAD_PERCENTAGES, deletion_insertion, random_reference, road
from shiftlab.models import load_model
from shiftlab.shifts import apply
from shiftlab.sweep import results
from shiftlab.sweep.plan import MANIFEST, SweepPlan, read_plan
from shiftlab.sweep.records import FAITHFULNESS_AREAS, road_columns
from shiftlab.sweep.run import sweep
from shiftlab.sweep.ship import shipped_store
from shiftlab.sweep.worker import SweepWorker

N = 2
METHODS = ["saliency", "gradcam"]
TINY = dict(models=["resnet20/baseline"], shifts=["fog"], severities="3", data="cifar10-sample", limit=N,
            methods=METHODS, products=["faithfulness"], device="cpu", progress=False)
COLUMNS = ["model", "variant", "shift", "severity", "seed", "method", "image", "target", *FAITHFULNESS_AREAS,
           *[f"road_{side}_{p}" for side in ("morf", "lerf") for p in ROAD_PERCENTAGES]]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a shared 2-core machine a second thread waits for a busy core; results do not change."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("faithfulness") / "run"
    sweep(out, **TINY)
    return out


def measured_directly(shift: str) -> dict[str, dict[str, np.ndarray]]:
    """Each method's measures of the first images, clean or under fog at severity 3, computed without the sweep:
    the maps explain the clean prediction, and each image is measured alone."""
    loaded = load_model("resnet20", "baseline", device="cpu")
    images = load_dataset("cifar10-sample", limit=N).images
    targets = predict_logits(loaded.model, images).argmax(1)
    pixels = images if shift == "source" else apply(shift, images, 3, 0, device="cpu")
    references = [random_reference(loaded, pixels[i : i + 1], targets[i : i + 1]) for i in range(N)]
    found = {}
    for method in METHODS:
        maps = attribute(loaded, pixels, method, target=targets).maps
        curves = [deletion_insertion(loaded, pixels[i : i + 1], maps[i : i + 1], targets[i : i + 1],
                                     reference=references[i]) for i in range(N)]
        removal = [road(loaded, pixels[i : i + 1], maps[i : i + 1], targets[i : i + 1]) for i in range(N)]
        found[method] = {"target": targets,
                         **{name: np.concatenate([getattr(c, name) for c in curves]) for name in FAITHFULNESS_AREAS},
                         **{f"road_morf_{p}": np.array([r.morf[0, j] for r in removal])
                            for j, p in enumerate(ROAD_PERCENTAGES)},
                         **{f"road_lerf_{p}": np.array([r.lerf[0, j] for r in removal])
                            for j, p in enumerate(ROAD_PERCENTAGES)}}
    return found


@pytest.mark.parametrize("shift", ["source", "fog"])
def test_the_records_are_the_metrics_called_directly(store, shift):
    with results.open(store) as opened:
        frame = opened.faithfulness(shift=shift)
    frame = frame[frame["shift"] == shift]
    for method, expected in measured_directly(shift).items():
        rows = frame[frame["method"] == method]
        assert rows["image"].tolist() == list(range(N))
        for column, values in expected.items():
            dtype = np.int16 if column == "target" else np.float32
            np.testing.assert_array_equal(rows[column].to_numpy(), values.astype(dtype), err_msg=f"{method} {column}")


def parquet_bytes(root) -> dict[str, bytes]:
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*.parquet"))}


def test_a_killed_sweep_resumes_to_the_bytes_of_an_uninterrupted_one(tmp_path, store, monkeypatch):
    calls = {"n": 0}
    compute = SweepWorker.compute

    def dies_in_the_last_partition(self, unit):
        calls["n"] += 1
        if calls["n"] == 6:  # predictions (2), source saliency and gradcam, fog saliency done; fog gradcam not
            raise KeyboardInterrupt
        return compute(self, unit)

    monkeypatch.setattr(SweepWorker, "compute", dies_in_the_last_partition)
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path / "run", **TINY)
    assert len(parquet_bytes(tmp_path / "run")) == 5
    sweep(tmp_path / "run", **TINY)  # a new worker: fog's random reference is computed again, for gradcam alone
    assert calls["n"] == 6 + 1
    assert parquet_bytes(tmp_path / "run") == parquet_bytes(store)
    assert (tmp_path / "run" / MANIFEST).read_bytes() == (store / MANIFEST).read_bytes()


def test_the_faithfulness_query_and_view(store):
    with results.open(store) as opened:
        assert not opened.problems
        frame = opened.faithfulness()
        assert list(frame.columns) == COLUMNS == ["model", "variant", "shift", "severity", "seed", "method", "image",
                                                  "target", *FAITHFULNESS_AREAS, *road_columns()]
        assert len(frame) == N * len(METHODS) * 2
        one = opened.faithfulness(shift="fog", method="gradcam", severity=3)
        assert one[["shift", "method"]].drop_duplicates().values.tolist() == [["fog", "gradcam"], ["source", "gradcam"]]
        counts = opened.sql("SELECT method, count(*) AS n FROM faithfulness GROUP BY method ORDER BY method")
        assert counts.values.tolist() == [["gradcam", 2 * N], ["saliency", 2 * N]]
        same = opened.sql("SELECT avg(deletion_auc) AS a FROM faithfulness")["a"][0]
        assert same == pytest.approx(frame["deletion_auc"].astype(float).mean())
        with pytest.raises(ParameterError, match="not 'wcam'"):
            opened.faithfulness(method="wcam")
        with pytest.raises(SweepStoreError, match="not their attributions"):
            opened.records(method="gradcam")
        assert len(opened.cases(kind="all", limit=None)) == N  # no attributions: drift columns null, no error
    with results.open(shipped_store("attributions")) as shipped, pytest.raises(SweepStoreError, match="no faithful"):
        shipped.faithfulness()


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"products": ["nope"]}, UnknownOptionError, "unknown product 'nope'"),
    ({"products": ["faithfulness"], "methods": []}, ParameterError, "add --methods"),
    ({"products": ["predictions"]}, ParameterError, "no product records them"),
    ({"products": [b"faithfulness"]}, ParameterError, "products are names"),
])
def test_a_bad_product_is_refused_before_anything_is_written(tmp_path, options, error, match):
    with pytest.raises(error, match=match):
        sweep(tmp_path / "run", **{**TINY, **options})
    assert not (tmp_path / "run").exists()


def test_the_command_line_names_an_unknown_product_in_one_line(tmp_path, capsys):
    argv = ["sweep", "--models", "resnet20/baseline", "--shifts", "fog", "--data", "cifar10-sample", "--limit", "2",
            "--methods", "gradcam", "--products", "faithfulness,nope", "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("shiftlab sweep: ") and "unknown product 'nope'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_products_in_a_saved_plan(store, tmp_path):
    plan = read_plan(store)
    raw = json.loads((store / MANIFEST).read_bytes())
    assert plan.products == ("faithfulness",) and raw["products"] == ["faithfulness"]
    assert SweepPlan.from_json(raw) == plan
    default = SweepPlan.from_json({k: v for k, v in raw.items() if k != "products"})
    assert default.products == ("attributions",) and "products" not in default.to_json()
    assert [p.product for p in default.partitions()].count("faithfulness") == 0
    both = plan.merged(default)
    assert both.products == ("attributions", "faithfulness") == default.merged(plan).products
    assert plan.merged(SweepPlan(**{**vars(plan), "methods": (), "products": ("attributions",)})) == plan
    for bad in (["nope"], ["faithfulness", "attributions"], [], "faithfulness"):
        (tmp_path / MANIFEST).write_text(json.dumps({**raw, "products": bad}))
        with pytest.raises(SweepStoreError, match="products"):
            read_plan(tmp_path)
