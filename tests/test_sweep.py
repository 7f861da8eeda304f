"""Sweeps: records equal direct evaluation, resume after a kill, every results query equals pandas/numpy,
the Ray engine equals the local one, broken files are named, and the shipped store matches the code."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from shiftlab.attribution import attribute
from shiftlab.data import load_dataset
from shiftlab.errors import ParameterError, SweepStoreError
from shiftlab.inference import predict_logits
from shiftlab.metrics import accuracy
from shiftlab.models import forget_models_file, load_model, use_models_file
from shiftlab.models.user import models_file_in_use
from shiftlab.shifts import apply
from shiftlab.sweep import results, worker
from shiftlab.sweep import swept as swept_images
from shiftlab.sweep.plan import Partition, SweepPlan, Unit
from shiftlab.sweep.records import decode_map
from shiftlab.sweep.run import sweep
from shiftlab.sweep.ship import shipped_store
from shiftlab.sweep.swept import SweptData
from shiftlab.sweep.worker import SweepWorker

N = 32
SHIFTS = ["gaussian_noise", "contrast"]
SEVERITIES = "1,3"
KEYS = ["model", "variant", "shift", "severity", "seed", "image"]
#: the sweep's own work-unit size, before small_chunks_one_thread shrinks it
DEFAULT_CHUNK_PIXELS = worker.CHUNK_PIXELS
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shiftlab-models.toml"


@pytest.fixture(autouse=True, scope="module")
def small_chunks_one_thread():
    """Work units of 16 images, so that the sweep has two chunks per condition (offsets exercised), and one torch
    thread: on a shared 2-core machine a second thread waits for a busy core (4× slower); results do not change."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(worker, "CHUNK_PIXELS", 16 * 32 * 32)
        yield
    torch.set_num_threads(threads)


def run_sweep(out, **options):
    options = {"methods": ["gradcam"], "store_maps": True, **options}
    return sweep(out, ["resnet20/baseline"], SHIFTS, SEVERITIES, "cifar10-sample", limit=N, device="cpu",
                 progress=False, **options)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "run"
    run_sweep(out)
    return out


@pytest.fixture(scope="module")
def direct():
    """What the rest of shiftlab computes on the same images, without the sweep."""
    data = load_dataset("cifar10-sample", limit=N)
    loaded = load_model("resnet20", "baseline", device="cpu")
    logits = {("source", 0): predict_logits(loaded.model, data.images)}
    for name in SHIFTS:
        for severity in (1, 3):
            logits[name, severity] = predict_logits(loaded.model, apply(name, data.images, severity, 0, device="cpu"))
    return data, loaded, logits


def all_records(path, method=None) -> pd.DataFrame:
    with results.open(path) as opened:
        return opened.records(method=method)


def test_apply_offset_gives_the_bytes_of_the_whole_batch():
    images = load_dataset("cifar10-sample", limit=24).images
    for name in ("gaussian_noise", "impulse_noise", "glass_blur", "occlusion"):
        whole = apply(name, images, 3, 7, device="cpu")
        assert np.array_equal(apply(name, images[10:20], 3, 7, device="cpu", offset=10), whole[10:20]), name


def test_a_sweep_gives_the_accuracy_of_direct_evaluation(store, direct):
    data, _, logits = direct
    with results.open(store) as opened:
        table = opened.accuracy()
    for row in table.itertuples():
        expected = accuracy(data.labels, logits[row.shift, row.severity])
        assert row.accuracy == expected, (row.shift, row.severity)
        assert row.n == N
    records = all_records(store)
    shifted = records[(records["shift"] == "gaussian_noise") & (records["severity"] == 3)]
    assert np.array_equal(shifted["prediction"], logits["gaussian_noise", 3].argmax(1))


def test_a_killed_sweep_resumes_to_the_same_records(tmp_path, store, monkeypatch):
    calls = {"n": 0}
    compute = SweepWorker.compute

    def dies_once_midway(self, unit):
        calls["n"] += 1
        if calls["n"] == 5:  # source (2 units) done, gaussian_noise (4 units) half done
            raise KeyboardInterrupt
        return compute(self, unit)

    monkeypatch.setattr(SweepWorker, "compute", dies_once_midway)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(tmp_path / "run", methods=[])
    assert len(list((tmp_path / "run" / "predictions").rglob("*.parquet"))) == 1  # whole partitions only
    run_sweep(tmp_path / "run", methods=[])
    assert calls["n"] == 5 + 8  # the finished partition was not redone
    assert not (tmp_path / "run" / ".staging").exists()
    pd.testing.assert_frame_equal(all_records(tmp_path / "run"), all_records(store))


def reference_ece(frame: pd.DataFrame, n_bins: int = 15) -> float:
    edges = np.linspace(0, 1, n_bins + 1)
    conf = frame["confidence"].to_numpy(np.float64)
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    gaps = [abs(frame["correct"][which == b].mean() - conf[which == b].mean()) * np.sum(which == b)
            for b in range(n_bins) if np.any(which == b)]
    return float(np.sum(gaps) / len(conf))


def test_accuracy_and_calibration_queries_equal_pandas(store):
    records = all_records(store)
    with results.open(store) as opened:
        table = opened.accuracy()
        bins = opened.reliability(shift="contrast", severity=3, n_bins=10)
    for row in table.itertuples():
        group = records[(records["shift"] == row.shift) & (records["severity"] == row.severity)]
        assert row.accuracy == pytest.approx(group["correct"].mean(), abs=1e-12)
        assert row.confidence == pytest.approx(group["confidence"].astype(np.float64).mean(), abs=1e-9)
        assert row.nll == pytest.approx(-np.log(group["true_prob"].astype(np.float64)).mean(), abs=1e-9)
        assert row.ece == pytest.approx(reference_ece(group.reset_index(drop=True)), abs=1e-9)
    group = records[(records["shift"] == "contrast") & (records["severity"] == 3)]
    which = np.clip(np.searchsorted(np.linspace(0, 1, 11), group["confidence"].to_numpy(np.float64)) - 1, 0, 9)
    contrast = bins[bins["shift"] == "contrast"]
    assert contrast["bin"].tolist() == sorted(set(which.tolist()))
    assert contrast["count"].tolist() == [int(np.sum(which == b)) for b in contrast["bin"]]
    assert set(bins["shift"]) == {"contrast", "source"}


def test_case_queries_equal_pandas(store):
    records = all_records(store, "gradcam")
    clean = records[records["shift"] == "source"].set_index("image")
    shifted = records[records["shift"] != "source"].copy()
    shifted["clean_correct"] = clean.loc[shifted["image"], "correct"].to_numpy()
    shifted["confidence_drop"] = (clean.loc[shifted["image"], "true_prob"].to_numpy(np.float64)
                                  - shifted["true_prob"].to_numpy(np.float64))
    with results.open(store) as opened:
        flips = opened.cases("flips", limit=None)
        wrong = opened.cases("confidently_wrong", order_by="drift", threshold=0.6, limit=5)
    expected = shifted[shifted["clean_correct"] & ~shifted["correct"]].sort_values(
        ["confidence_drop", "shift", "severity", "image"], ascending=[False, True, True, True])
    assert flips["image"].tolist() == expected["image"].tolist()
    assert np.allclose(flips["confidence_drop"], expected["confidence_drop"])
    expected = shifted[~shifted["correct"] & (shifted["confidence"] >= 0.6)].sort_values(
        ["iou", "confidence_drop", "shift", "severity", "image"], ascending=[True, False, True, True, True]).head(5)
    assert wrong["image"].tolist() == expected["image"].tolist()
    assert np.array_equal(wrong["iou"], expected["iou"])


def test_ood_auroc_equals_sklearn(store):
    records = all_records(store)
    with results.open(store) as opened:
        table = opened.ood_auroc("max_logit")
    clean = records[records["shift"] == "source"]["max_logit"]
    for row in table.itertuples():
        out = records[(records["shift"] == row.shift) & (records["severity"] == row.severity)]["max_logit"]
        labels = np.r_[np.zeros(len(clean)), np.ones(len(out))]
        assert row.auroc == pytest.approx(roc_auc_score(labels, np.r_[clean, out]), abs=1e-12)
        assert (row.n_in, row.n_out) == (N, N)


def test_stored_maps_are_the_attribution_maps(store, direct):
    data, loaded, logits = direct
    with results.open(store) as opened:
        frame = opened.maps("resnet20", "baseline", "gaussian_noise", 3, images=[3, 17, 29])
        assert opened.sql("SELECT count(*) AS n FROM attributions WHERE shift = 'contrast'")["n"][0] == 2 * N
    shifted = apply("gaussian_noise", data.images, 3, 0, device="cpu")[[3, 17, 29]]
    targets = logits["source", 0].argmax(1)[[3, 17, 29]]
    maps = attribute(loaded, shifted, "gradcam", target=targets).maps
    assert frame["image"].tolist() == [3, 17, 29]
    assert np.allclose(results.stack_maps(frame), maps.astype(np.float16), atol=1e-6)


def test_stored_details_are_the_methods_per_image_figures(tmp_path):
    """A WCAM sweep with --store-maps keeps what the Spectral page shows (wavelet map, spectral profile and its
    error bars, convergence figure), equal to WCAM's own extras for the same images."""
    options = {"nb_design": 4, "max_design": 4, "grid_size": 4}
    sweep(tmp_path / "run", ["resnet20/baseline"], ["fog"], "2", "cifar10-sample", indices=[5, 9], device="cpu",
          methods=["wcam"], method_options={"wcam": options}, store_maps=True, progress=False)
    data = load_dataset("cifar10-sample")
    loaded = load_model("resnet20", "baseline", device="cpu")
    source = data.images[[5, 9]]
    targets = predict_logits(loaded.model, source).argmax(1)
    direct = attribute(loaded, apply("fog", data.images, 2, 0, device="cpu")[[5, 9]], "wcam", target=targets, **options)
    with results.open(tmp_path / "run") as opened:
        frame = opened.maps("resnet20", "baseline", "fog", 2, method="wcam")
    assert frame["image"].tolist() == [5, 9]
    for i, details in enumerate(frame["details"]):
        assert sorted(details) == sorted(k for k, v in direct.extras.items()
                                         if isinstance(v, np.ndarray) and v.dtype != object)
        for name in ("wavelet_map", "spectral_levels", "spectral_levels_std", "map_agreement", "nb_design", "stable"):
            assert np.array_equal(details[name], getattr(direct.extras, name)[i]), name


def test_a_corrupt_or_missing_file_is_named_and_the_rest_keeps_working(tmp_path, store):
    broken = tmp_path / "run"
    shutil.copytree(store, broken)
    (victim,) = (broken / "predictions" / "model=resnet20" / "variant=baseline" / "shift=contrast").glob("*.parquet")
    victim.write_bytes(b"not a parquet file")
    shutil.rmtree(broken / "attributions" / "method=gradcam" / "model=resnet20" / "variant=baseline" / "shift=contrast")
    with results.open(broken) as opened:
        with pytest.raises(SweepStoreError, match=str(victim)):
            opened.accuracy(shift="contrast")
        with pytest.raises(SweepStoreError, match="shift=contrast: missing"):
            opened.maps("resnet20", "baseline", "contrast", 1)
        assert len(opened.accuracy(shift="gaussian_noise")) == 3
        assert len(opened.problems) == 2


def run_example_sweep(out, engine: str = "local"):
    """The example models file's model on its image folder, shifted by contrast and replaced by the folder's own
    images (``--ood-folder``), at two severities: a user's model, dataset and OOD set, which a Ray worker knows only
    from the models file the sweep passes it."""
    return sweep(out, ["pets/baseline"], ["contrast", "ood_folder_pets-photos"], "3,5", "pets-photos", limit=8,
                 device="cpu", progress=False, engine=engine)


def test_the_ray_engine_writes_the_local_records(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    # one work unit per condition: each unit is a parquet file that Ray writes in a worker process of its own; a
    # shift's two severities are still two files of one partition. One Ray pipeline (each starts its actors, which
    # import torch and load the model: about as long as the sweep itself here)
    monkeypatch.setattr(worker, "CHUNK_PIXELS", DEFAULT_CHUNK_PIXELS)
    # the workers must learn the models file from the sweep: neither their environment nor their folder names it
    monkeypatch.delenv("SHIFTLAB_MODELS", raising=False)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             logging_level="ERROR")
    before = models_file_in_use()
    use_models_file(EXAMPLE)
    try:
        run_example_sweep(tmp_path / "ray", engine="ray")
        run_example_sweep(tmp_path / "local")
    finally:
        ray.shutdown()
        use_models_file(before) if before else forget_models_file()
    records = all_records(tmp_path / "ray")
    pd.testing.assert_frame_equal(records, all_records(tmp_path / "local"))
    assert sorted(set(records["shift"])) == ["contrast", "ood_folder_pets-photos", "source"] and len(records) == 40


#: (model, variant, shift, severity, images) re-computed from the shipped sample store (not motion_blur: its
#: bytes depend on the torch thread count)
SHIPPED_CHECKS = [
    ("resnet20", "baseline", "source", 0, [0, 499]),
    ("resnet20", "pgd_adv", "fog", 5, [3, 250]),
    ("vit_tiny", "augmix", "gaussian_noise", 2, [7, 301]),
    ("resnet20", "augmix", "jpeg_compression", 4, [42]),
]


def recompute(opened, partition, severity: int, positions: list[int]) -> pd.DataFrame:
    """The records of the swept images at ``positions``, computed now, one image at a time."""
    swept = swept_images.reload(opened.plan.data)
    work = SweepWorker(opened.plan, swept.images, swept.labels, swept.index, device="cpu")
    tables = [work.compute(Unit(partition, severity, 0, p, p + 1)).to_pandas() for p in positions]
    return pd.concat(tables, ignore_index=True)


def test_a_growing_plan_lists_the_methods_options_in_the_methods_order():
    """Recomputing one method (a sweep asking for it alone) leaves the folder's plan, sweep.json, as it was."""
    base = dict(models=(("resnet20", "baseline"),), shifts=("fog",), severities=(3,), seeds=(0,),
                data=SweptData("x", "test", None, None, "0" * 64, 1))
    stored = SweepPlan(**base, methods=("gradcam", "wcam"), method_options={"gradcam": {}, "wcam": {"nb_design": 4}})
    again = stored.merged(SweepPlan(**base, methods=("wcam",), method_options={"wcam": {"nb_design": 4}}))
    assert again == stored and list(again.method_options) == ["gradcam", "wcam"]
    grown = stored.merged(SweepPlan(**base, methods=("saliency",), method_options={"saliency": {"abs": True}}))
    assert list(grown.method_options) == ["gradcam", "wcam", "saliency"]
    assert grown.methods == ("gradcam", "wcam", "saliency")
    with pytest.raises(ParameterError, match="wcam attributions with options"):
        stored.merged(SweepPlan(**base, methods=("wcam",), method_options={"wcam": {"nb_design": 8}}))


def test_the_shipped_stores_are_up_to_date_with_the_code():
    sizes = sum(f.stat().st_size for f in shipped_store("sample").parent.rglob("*") if f.is_file())
    assert sizes < 30e6
    with results.open(shipped_store("sample")) as opened:
        assert not opened.problems
        for model, variant, shift, severity, images in SHIPPED_CHECKS:
            stored = opened.records(model, variant, shift, severity).query("severity == @severity and image in @images")
            now = recompute(opened, Partition("predictions", model, variant, shift), severity, images)
            assert now["prediction"].tolist() == stored["prediction"].tolist(), (model, variant, shift)
            for column in ("confidence", "true_prob", "max_logit", "energy"):
                assert np.allclose(now[column], stored[column], atol=1e-4), (model, variant, shift, column)
    with results.open(shipped_store("attributions")) as opened:
        assert not opened.problems
        position = 5
        image = opened.plan.data.indices[position]
        stored = opened.maps("resnet20", "augmix", "fog", 3, images=[image])
        now = recompute(opened, Partition("attributions", "resnet20", "augmix", "fog", "gradcam"), 3, [position])
        assert now["target"].tolist() == stored["target"].tolist()
        assert np.allclose(decode_map(now["map"][0], 32), stored["map"][0], atol=2e-3)
        assert now["iou"][0] == pytest.approx(stored["iou"][0], abs=0.02)
