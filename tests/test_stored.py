"""The shipped attribution store serves a page's pair exactly as the live computation would (shiftlab.sweep.lookup)."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors import safe_open

from shiftlab.app.explain import PairExplanation, explain_pair, image_pair, method_options
from shiftlab.attribution import attribute
from shiftlab.data import load_dataset
from shiftlab.inference import predict_logits
from shiftlab.metrics.randomisation import randomisation_check
from shiftlab.models import list_variants, load_model
from shiftlab.shifts import apply, get_shift, list_shifts
from shiftlab.shifts.ood import FOLDER_FAMILY
from shiftlab.sweep import results
from shiftlab.sweep.lookup import (
    SHIPPED_WEIGHTS,
    Request,
    StoredCascades,
    StoredSweep,
    stored_pair,
    weights_sha256,
)
from shiftlab.sweep.plan import Partition, Unit
from shiftlab.sweep.ship import (
    ATTRIBUTION_METHODS,
    CASCADES,
    OOD_DRIFT_IMAGES,
    OOD_METHODS,
    OOD_SETS,
    OOD_SEVERITY,
    SAMPLE,
    TRUST_METHODS,
    cascade_request,
    shipped_store,
    trust_images,
)
from shiftlab.sweep.swept import reload
from shiftlab.sweep.worker import SweepWorker
from shiftlab.trust import SANITY_IMAGES, TrustSettings, measure, random_references

SHIFT, SEVERITY, VARIANT = "fog", 3, "augmix"
#: extras holding model outputs of a batch: their float32 last bits follow the batch the sweep ran the image in
BATCH_ROUNDED = {"convergence_delta"}


@pytest.fixture(scope="module")
def store():
    with results.open(shipped_store("attributions")) as opened:
        yield opened


@pytest.fixture(scope="module")
def image(store) -> int:
    return store.plan.data.indices[5]


@pytest.fixture(scope="module")
def pair(image) -> np.ndarray:
    pixels = load_dataset("cifar10-sample").images[image]
    return image_pair(pixels, SHIFT, SEVERITY, 0, 32, offset=image)


@pytest.fixture(scope="module")
def loaded():
    return load_model("resnet20", VARIANT)


def lookup(store, loaded, image, pair, method, variant=VARIANT, weights=None, **changes):
    """The pair's explanation as a page gets it from the store (``shiftlab.app.sweep_panel``), or None."""
    view = {"data": "cifar10-sample", "index": image, "shift": SHIFT, "severity": SEVERITY, "seed": 0,
            "options": method_options(method, 32), **changes}
    request = Request("resnet20", ((variant, weights or weights_sha256("resnet20", variant)),), view["data"],
                      view["seed"], (("source", 0), (view["shift"], view["severity"])), image=view["index"],
                      method=method, options=view["options"])
    stored = StoredSweep(lambda: store, SHIPPED_WEIGHTS)
    if not stored.holds(request):
        return None
    logits = predict_logits(loaded.model, pair)
    found = stored_pair(stored, request, logits)
    return None if found is None else PairExplanation(logits, *found)


def test_the_store_holds_its_methods(store):
    assert set(store.methods()) == set(ATTRIBUTION_METHODS) and not store.problems


def cheapest_view(store, method: str) -> tuple[str, int]:
    """The stored (variant, image) whose (source, shifted) pair is cheapest to recompute live: fewest model runs
    for a method that records them (WCAM refines noisy images up to 256 designs), VARIANT and the sixth curated
    image otherwise."""
    runs: dict[tuple[str, int], int] = {}
    for variant in list_variants("resnet20"):
        for shift, severity in (("source", 0), (SHIFT, SEVERITY)):
            frame = store.maps("resnet20", variant, shift, severity, method)
            for i, details in zip(frame["image"], frame["details"]):
                if "forward_passes" not in details:
                    return VARIANT, store.plan.data.indices[5]
                runs[variant, int(i)] = runs.get((variant, int(i)), 0) + int(details["forward_passes"])
    return min(runs, key=runs.get)


@pytest.mark.parametrize("method", ATTRIBUTION_METHODS)
def test_a_stored_pair_is_the_live_result(store, method):
    variant, image = cheapest_view(store, method)
    loaded = load_model("resnet20", variant)
    pair = image_pair(load_dataset("cifar10-sample").images[image], SHIFT, SEVERITY, 0, 32, offset=image)
    stored = lookup(store, loaded, image, pair, method, variant)
    live = explain_pair(loaded, pair, method, True, **method_options(method, 32))
    assert stored is not None
    np.testing.assert_array_equal(stored.logits, live.logits)
    assert stored.attribution.target.tolist() == live.attribution.target.tolist()
    np.testing.assert_allclose(stored.attribution.maps, live.attribution.maps.astype(np.float16), atol=1e-6)
    assert stored.drift == pytest.approx(live.drift, abs=1e-6)
    computed = dict(live.attribution.extras.items())
    for name, value in stored.attribution.extras.items():
        if value is None:  # what a stored WCAM lacks: its design outputs, image digests and settings
            assert name in ("design_outputs", "image_digest", "settings")
        elif name in BATCH_ROUNDED:
            np.testing.assert_allclose(value, computed[name], rtol=0, atol=1e-5, err_msg=name)
        else:
            np.testing.assert_array_equal(value, computed[name], err_msg=name)
    if method == "wcam":
        assert stored.attribution.extras.verdict == live.attribution.extras.verdict


def test_the_store_answers_only_for_what_it_holds(store, loaded, image, pair):
    assert lookup(store, loaded, image, pair, "gradcam", seed=1) is None
    assert lookup(store, loaded, image, pair, "gradcam", severity=2) is None
    assert lookup(store, loaded, image, pair, "gradcam", index=image + 1) is None
    assert lookup(store, loaded, image, pair, "gradcam", data="cifar10") is None
    assert lookup(store, loaded, image, pair, "gradcam", options={"layer": "net.layer2"}) is None
    assert lookup(store, loaded, image, pair, "wam") is None


def test_other_weights_than_the_sweeps_are_computed_live(store, loaded, image, pair):
    """By content: weights of another digest are not the sweep's, whatever their name; and a model whose
    predictions of the pair are not the sweep's is not served either."""
    assert lookup(store, loaded, image, pair, "gradcam", weights="0" * 64) is None
    untrained = load_model("resnet20", None, seed=0)
    assert lookup(store, untrained, image, pair, "gradcam") is None


def test_the_shipped_stores_were_made_with_the_checkouts_weights(monkeypatch):
    """SHIPPED_WEIGHTS, what a shipped store is matched against, is the SHA-256 of the checkout's zoo files."""
    monkeypatch.delenv("SHIFTLAB_CHECKPOINTS", raising=False)
    assert {key: weights_sha256(*key) for key in SHIPPED_WEIGHTS} == SHIPPED_WEIGHTS


def test_the_ood_stores_hold_every_set_the_page_offers_everywhere_for_every_model(monkeypatch):
    """The OOD page's every set on every machine (no $SHIFTLAB_DATA) × every CIFAR-10 model and variant is read from
    the shipped stores: scores of the 500 images, and each method's drift on the first 50 (#24 item 5)."""
    monkeypatch.delenv("SHIFTLAB_DATA", raising=False)
    offered = [name for name in list_shifts(kind="dataset", available_only=True)
               if get_shift(name).family != FOLDER_FAMILY]
    assert tuple(offered) == OOD_SETS
    scores, drift = (StoredSweep(lambda name=name: results.open(shipped_store(name)), SHIPPED_WEIGHTS)
                     for name in ("ood", "ood_drift"))
    for (arch, variant), ood_set in ((model, ood_set) for model in SHIPPED_WEIGHTS for ood_set in OOD_SETS):
        conditions = ((ood_set, int(OOD_SEVERITY)),)
        assert scores.holds(Request.of(arch, [variant], SAMPLE, 0, conditions)), (arch, variant, ood_set)
        for method in OOD_METHODS:
            assert drift.holds(Request.of(arch, [variant], SAMPLE, 0, conditions, first=OOD_DRIFT_IMAGES, method=method,
                                          options=method_options(method))), (arch, variant, ood_set, method)


@pytest.mark.parametrize("store_name, partition, position", [
    ("ood", Partition("predictions", "resnet20", "pgd_adv", "ood_blobs"), 321),
    ("ood", Partition("predictions", "resnet20", "augmix", "ood_gaussian"), 17),
    ("ood_drift", Partition("attributions", "resnet20", "baseline", "ood_uniform", "integrated_gradients"), 41),
], ids=["blobs", "gaussian", "uniform drift"])
def test_a_new_ood_record_is_what_the_code_computes_now(store_name, partition, position):
    """One record of each set the store gained, recomputed alone (the bytes of a set's images, the model's scores
    and a method's drift are the code's now)."""
    severity = int(OOD_SEVERITY)
    with results.open(shipped_store(store_name)) as opened:
        swept = reload(opened.plan.data)
        worker = SweepWorker(opened.plan, swept.images, swept.labels, swept.index, device="cpu")
        now = worker.compute(Unit(partition, severity, 0, position, position + 1)).to_pandas()
        stored = opened.records(partition.model, partition.variant, partition.shift, severity, partition.method)
    stored = stored[stored["image"] == position]
    if partition.method is None:
        assert now["prediction"].tolist() == stored["prediction"].tolist()
    columns = ("confidence", "max_logit", "energy") if partition.method is None else ("target", "iou", "spearman")
    for column in columns:
        np.testing.assert_allclose(now[column], stored[column], atol=1e-4, err_msg=column)


# --- the faithfulness store: what the Trust page opens on ------------------------------------------------------------


@pytest.fixture(scope="module")
def faithfulness_store():
    with results.open(shipped_store("faithfulness")) as opened:
        yield opened


def test_the_faithfulness_store_holds_the_trust_pages_default_view(faithfulness_store):
    plan = faithfulness_store.plan
    assert not faithfulness_store.problems and plan.products == ("faithfulness",)
    assert plan.data.indices == trust_images() and plan.methods == tuple(TRUST_METHODS)
    assert {variant for _, variant in plan.models} == set(list_variants("resnet20"))
    cascades = sorted(p.name for p in (shipped_store("faithfulness") / CASCADES).iterdir())
    assert cascades == sorted(f"resnet20-{v}-{m}.safetensors" for v in list_variants("resnet20") for m in TRUST_METHODS)
    size = sum(f.stat().st_size for f in shipped_store("faithfulness").rglob("*") if f.is_file())
    assert size < 1.5e6


def test_stored_faithfulness_records_are_recomputed_to_the_bit(faithfulness_store):
    """Two images' records of two methods recomputed: each method's maps of the whole set in one batch (as the
    sweep's), then each of the two images measured alone (``shiftlab.trust.measure``, what the page and the sweep
    both run)."""
    loaded, picks, settings = load_model("resnet20", VARIANT), [0, 5], TrustSettings()
    data, indices = load_dataset("cifar10-sample"), np.array(trust_images())
    pixels = np.concatenate([apply(SHIFT, data.images[i : i + 1], SEVERITY, 0, offset=int(i)) for i in indices])
    target = predict_logits(loaded.model, data.images[indices]).argmax(1)
    references = random_references(loaded, pixels[picks], target[picks], settings)
    for method in ("gradcam", "integrated_gradients"):
        maps = attribute(loaded, pixels, method, target, **method_options(method, 32)).maps
        now = measure(loaded, pixels[picks], maps[picks], target[picks], settings, references)
        stored = faithfulness_store.faithfulness("resnet20", VARIANT, SHIFT, SEVERITY, method)
        stored = stored[stored["shift"] == SHIFT].set_index("image").loc[indices[picks]]
        assert stored["target"].tolist() == target[picks].tolist()
        for column, values in now.items():
            np.testing.assert_array_equal(stored[column].to_numpy(), values.astype(np.float32), err_msg=column)


def test_a_stored_cascade_is_recomputed(faithfulness_store):
    """The first stage of Grad-CAM's stored cascade recomputed (each stage is seeded by its number, so the first
    stage of a full cascade is a one-stage cascade): the similarities to the bit, the maps to float16."""
    loaded, images = load_model("resnet20", VARIANT), trust_images()[:SANITY_IMAGES]
    pixels = load_dataset("cifar10-sample").images[trust_images()]
    target = predict_logits(loaded.model, pixels).argmax(1)[:SANITY_IMAGES]
    request = cascade_request(VARIANT, "gradcam", images)
    stored = StoredCascades(shipped_store("faithfulness") / CASCADES, SHIPPED_WEIGHTS).read(request, target)
    check = randomisation_check(loaded, pixels[:SANITY_IMAGES], "gradcam", target, max_stages=1,
                                **method_options("gradcam", 32))
    assert stored is not None and stored.stages[0] == 0 and stored.layers[0] == check.layers[0]
    np.testing.assert_array_equal(stored.spearman[:, 0], check.spearman[:, 0])
    np.testing.assert_array_equal(stored.ssim[:, 0], check.ssim[:, 0])
    np.testing.assert_array_equal(stored.maps[:2], np.stack([check.original[0], check.maps[0][0]]).astype(np.float16))
    assert StoredCascades(shipped_store("faithfulness") / CASCADES, SHIPPED_WEIGHTS).read(request, target + 1) is None


def test_a_stored_cascade_written_again_has_its_bytes(tmp_path):
    """The cascades' writer gives the same bytes for the same cascade (its metadata is one entry, keys sorted):
    a shipped cascade read and written again is its file."""
    shipped = StoredCascades(shipped_store("faithfulness") / CASCADES, SHIPPED_WEIGHTS)
    request = cascade_request(VARIANT, "saliency", trust_images()[:SANITY_IMAGES])
    with safe_open(str(shipped.path(request)), "np") as file:
        target = file.get_tensor("target")
    again = StoredCascades(tmp_path, SHIPPED_WEIGHTS)
    again.write(request, shipped.read(request, target), target)
    assert again.path(request).read_bytes() == shipped.path(request).read_bytes()
