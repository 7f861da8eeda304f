"""Every page renders on its defaults, follows a widget change and the URL, and shows what the core computes.

Most tests run on a zoo folder holding one untrained ResNet-20 (variant
``untrained``), so that they behave the same whether or not the trained
checkpoints exist; ``fallback`` runs them on an empty zoo, where the pages fall
back to EfficientNet-Lite0; the Variants, Triptych and Robustness tests use
the shipped zoo. Numbers on the pages are checked against the core functions
computed here independently.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from shiftlab.app import calibration, cases, ood, sweeps
from shiftlab.app.experiment import compare
from shiftlab.app.explain import DRIFT_TOP_K, explain_pair, image_pair, method_options
from shiftlab.app.text import OUTCOME_WORDS, SCORE_LABELS
from shiftlab.app.triptych import search
from shiftlab.app.view import ImageRef, View, model_choices
from shiftlab.attribution import WCAM, attribute
from shiftlab.data import load_dataset
from shiftlab.inference import predict_logits
from shiftlab.metrics import accuracy, drift_report, ece, fit_temperature, ood_report
from shiftlab.models import ModelCard, list_variants, load_model, save_checkpoint
from shiftlab.shifts import apply
from shiftlab.sweep.lookup import SHIPPED_WEIGHTS, Request, StoredSweep
from shiftlab.sweep.ship import shipped_store
from shiftlab.zoo.tables import zoo_targets

PAGES = Path(__file__).resolve().parents[1] / "app_pages"
COMPARE, VARIANTS, TRIPTYCH, CALIBRATION, SPECTRAL, CASES, OOD, ROBUSTNESS = (
    str(PAGES / f"{name}.py")
    for name in ("compare", "variants", "triptych", "calibration", "spectral", "cases", "ood", "robustness")
)
SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "cifar10" / "resnet20"
UNTRAINED = "untrained"
TIMEOUT = 300


@pytest.fixture(scope="session")
def untrained_root(tmp_path_factory) -> Path:
    """A zoo folder with one randomly initialised (seeded) ResNet-20."""
    root = tmp_path_factory.mktemp("zoo")
    save_checkpoint(load_model("resnet20", None).model.net, ModelCard("resnet20", UNTRAINED),
                    root / "cifar10" / "resnet20" / UNTRAINED)
    return root


@pytest.fixture()
def zoo(untrained_root, monkeypatch) -> Path:
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(untrained_root))
    return untrained_root


@pytest.fixture()
def baseline_only(tmp_path, monkeypatch) -> Path:
    """A zoo holding only the shipped resnet20/baseline (one variant keeps the every-variant curves cheap)."""
    folder = tmp_path / "cifar10" / "resnet20"
    folder.mkdir(parents=True)
    for suffix in (".safetensors", ".json"):
        shutil.copy(SHIPPED / f"baseline{suffix}", folder / f"baseline{suffix}")
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(tmp_path))
    return tmp_path


@pytest.fixture()
def shipped(monkeypatch):
    monkeypatch.delenv("SHIFTLAB_CHECKPOINTS", raising=False)


@pytest.fixture()
def fallback(tmp_path, monkeypatch) -> Path:
    """An empty zoo: no CIFAR-10 weights, only the packaged EfficientNet-Lite0."""
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def sample():
    return load_dataset("cifar10-sample")


@pytest.fixture(scope="module")
def untrained(untrained_root):
    return load_model("resnet20", UNTRAINED,
                      checkpoint=untrained_root / "cifar10" / "resnet20" / f"{UNTRAINED}.safetensors")


def run(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(page, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return check(at.run())


def check(at: AppTest) -> AppTest:
    """Fail on any exception or error message shown by the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def widget_key(page: str, name: str) -> str:
    """The session key of the sidebar widget editing view field ``name`` on ``page`` (keys are per page)."""
    return f"view.{Path(page).stem}.{name}"


def png(size: tuple[int, int]) -> bytes:
    picture = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)).save(picture, "PNG")
    return picture.getvalue()


def test_model_choices_put_cifar_models_first(zoo):
    choices = model_choices()
    assert choices[0] == ("resnet20", UNTRAINED) and ("efficientnet_lite0", "baseline") in choices


def test_compare_shows_what_the_core_computes(zoo, sample, untrained):
    at = run(COMPARE)
    pair = image_pair(sample.images[0], "gaussian_noise", 3, 0, 32)
    for method in ("saliency", "gradcam", "integrated_gradients"):
        result = explain_pair(untrained, pair, method, True, **method_options(method))
        assert f"Spearman: **{result.drift['spearman']:.3f}**" in markdown(at), method
    expected = cases.outcome(int(result.logits[0].argmax()), int(result.logits[1].argmax()), int(sample.labels[0]))
    assert sum(f"[**{OUTCOME_WORDS[expected]}**]" in m for m in markdown(at)) == 1
    assert len([m for m in markdown(at) if m.startswith("**`")]) == 3  # one row per method


def test_compare_follows_the_url_and_writes_it_back(zoo, sample):
    at = run(COMPARE, image="cifar10-sample:5", shift="fog", severity="2", seed="4", methods="gradcam", target="own")
    assert len([m for m in markdown(at) if m.startswith("**`")]) == 1
    assert any("cifar10-sample:5" in m for m in markdown(at)) and any("**fog**" in m for m in markdown(at))
    expected = View("resnet20", UNTRAINED, ImageRef("cifar10-sample", "5"), "fog", 2, 4, ("gradcam",), "own")
    assert {key: query_value(at, key) for key in expected.to_query()} == expected.to_query()


def query_value(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def test_bad_url_values_fall_back_with_a_note(zoo):
    at = run(COMPARE, arch="nope", severity="9", image="cifar10-sample:900", methods="lime")
    notes = " ".join(w.value for w in at.warning)
    for key in ("arch", "severity", "image", "methods"):
        assert f"URL parameter {key}=" in notes
    assert query_value(at, "severity") == "3"


def test_compare_widgets_change_the_view(zoo):
    at = run(COMPARE)
    at.multiselect(key=widget_key(COMPARE, "methods")).set_value(["saliency"])
    at.selectbox(key=widget_key(COMPARE, "shift")).set_value("rotate")
    at.toggle(key="shared_scale").set_value(False)
    check(at.run())
    assert len([m for m in markdown(at) if m.startswith("**`")]) == 1
    assert query_value(at, "shift") == "rotate" and any("**rotate**" in m for m in markdown(at))


def test_uploads_are_used_or_refused_in_plain_words(zoo):
    at = run(COMPARE, methods="gradcam")
    at.sidebar.file_uploader(key="upload").set_value(("photo.png", png((40, 50)), "image/png"))
    check(at.run())
    assert any("upload: photo.png" in m for m in markdown(at))
    at.sidebar.file_uploader(key="upload").set_value(("broken.png", b"not an image", "image/png"))
    at.run()
    assert not at.exception and "not an image file" in at.error[0].value
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "blue", "green")]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:])
    at.sidebar.file_uploader(key="upload").set_value(("moving.gif", animated.getvalue(), "image/gif"))
    check(at.run())
    assert "3 frames" in at.info[0].value
    at.sidebar.file_uploader(key="upload").set_value(("tiny.png", png((4, 4)), "image/png"))
    at.run()
    assert not at.exception and "4×4" in at.error[0].value


def test_variants_words_each_variants_outcome(shipped, sample):
    at = run(VARIANTS, image="cifar10-sample:3", shift="fog", severity="5")
    pair = image_pair(sample.images[3], "fog", 5, 0, 32, offset=3)
    variants = list_variants("resnet20")
    flags = [m for m in markdown(at) if m.startswith((":green", ":red"))]
    names = [m for m in markdown(at) if m.startswith("**`")]
    for variant in variants:
        logits = predict_logits(load_model("resnet20", variant).model, pair)
        word = OUTCOME_WORDS[cases.outcome(int(logits[0].argmax()), int(logits[1].argmax()), int(sample.labels[3]))]
        flag = flags[names.index(f"**`{variant}`**")]
        assert f"[**{word}**]" in flag, (variant, flag)


def test_triptych_panels_are_the_search_result(shipped, sample):
    at = run(TRIPTYCH, image="cifar10-sample:3", shift="gaussian_noise")
    found = search(load_model("resnet20", "baseline"), sample.images[3], "gaussian_noise", offset=3)
    captions = [c.value for c in at.caption]
    for pick in (found.kept, found.flipped):
        if pick is not None:
            assert f"severity {pick.severity}, seed {pick.seed}" in captions
    assert any(f"Tried **{len(found.candidates)}**" in m for m in markdown(at))


def test_calibration_figures_and_temperature(zoo, sample, untrained):
    at = run(CALIBRATION, shift="fog", severity="4")
    parts = calibration.split(len(sample))
    labels = sample.labels[parts.evaluated]
    source = predict_logits(untrained.model, sample.images)
    shifted = predict_logits(untrained.model, apply("fog", sample.images, 4, 0))
    expected = f"{ece(labels, source[parts.evaluated]):.3f} → {ece(labels, shifted[parts.evaluated]):.3f}"
    assert metric(at, "ECE, source → shifted") == expected
    assert len(charts(at)) == 5  # two reliability diagrams, confidence histogram, accuracy and ECE curves
    at.toggle(key="temperature").set_value(True)
    at.run()
    assert not at.exception and "not identifiable" in at.error[0].value  # an untrained model: said, not crashed


def test_temperature_is_fitted_on_held_out_images_only(baseline_only, sample):
    at = run(CALIBRATION, shift="fog", severity="4")
    at.toggle(key="temperature").set_value(True)
    check(at.run())
    model = load_model("resnet20", "baseline").model
    source = predict_logits(model, sample.images)
    shifted = predict_logits(model, apply("fog", sample.images, 4, 0))
    parts = calibration.split(len(sample))
    labels = sample.labels[parts.evaluated]
    t = fit_temperature(sample.labels[parts.held_out], source[parts.held_out]).temperature
    assert any(f"T = {t:.3f}" in m for m in markdown(at))
    assert metric(at, "ECE, source → shifted") == (
        f"{ece(labels, source[parts.evaluated] / t):.3f} → {ece(labels, shifted[parts.evaluated] / t):.3f}")


def test_cases_outcomes_sorts_and_links(zoo, sample, untrained):
    at = run(CASES, shift="gaussian_noise", severity="5")
    comparison = compare(sample.labels, True, predict_logits(untrained.model, sample.images),
                         predict_logits(untrained.model, apply("gaussian_noise", sample.images, 5, 0)))
    at.segmented_control(key="outcome").set_value("confidently_wrong")
    check(at.run())
    wrong = cases.select_cases(comparison, "confidently_wrong", cases.confidence_drop(comparison))
    assert any(m.startswith(f"**{len(wrong):,}** of 500 images") for m in markdown(at))
    first = int(wrong[0])
    assert any(f"#{first} ·" in m for m in markdown(at))
    assert any(f"image=cifar10-sample%3A{first}&" in m for m in markdown(at) if m.startswith("[Open in Compare"))
    at.radio(key="case_sort").set_value("attribution_drift")
    check(at.run())
    assert any(c.value.startswith("drift (1 − IoU)") for c in at.caption)


def test_spectral_profile_says_what_it_costs_and_how_far_to_trust_it(zoo, monkeypatch):
    # 8 designs instead of the converging 32 -> 256: the page is under test here, not WCAM (tests/test_wcam.py)
    monkeypatch.setattr(WCAM, "interactive_options", {"nb_design": 8, "max_design": 8})
    at = run(SPECTRAL, severity="1")
    assert any(c.value.startswith("WCAM runs the model 1,056 times for this pair, up to 1,056")
               for c in at.caption)  # 8 · 66 · 2
    assert not charts(at) and sum(m.startswith("Prediction:") for m in markdown(at)) == 2  # nothing runs unasked
    at.button(key="wcam_run").click()
    check(at.run())
    lines = [m for m in markdown(at) if m.startswith("Convergence:")]
    assert len(lines) == 2 and all(("stable" in m) or ("noisy" in m) for m in lines)
    assert len(charts(at)) == 2 and at.button(key="wcam_refine").label.startswith("Refine:")


def test_ood_tables_match_the_metrics(zoo, sample, untrained):
    at = run(OOD, methods="gradcam")
    table = at.dataframe[0].value
    assert table.index.tolist() == list(SCORE_LABELS.values())
    logits_in = predict_logits(untrained.model, sample.images)
    logits_out = predict_logits(untrained.model, apply("ood_cifar100_sample", sample.images, 5, 0))
    assert table["auroc"].iloc[2] == pytest.approx(ood_report(logits_in, logits_out, "energy")["auroc"])
    summary = at.dataframe[2].value
    assert summary["ID accuracy"].iloc[0] == pytest.approx(accuracy(sample.labels, logits_in))
    assert summary["MSP AUROC"].iloc[0] == pytest.approx(ood_report(logits_in, logits_out, "msp")["auroc"])
    assert at.dataframe[1].value["method"].tolist() == ["gradcam"]


@pytest.mark.parametrize("page", [COMPARE, CASES])
def test_pages_fall_back_to_efficientnet_without_colouring_answers(fallback, page):
    at = run(page, methods="gradcam", image="cifar10-sample:0")
    assert query_value(at, "arch") == "efficientnet_lite0"
    assert not any(":green[" in m or ":red[" in m for m in markdown(at))
    assert any("never colours" in i.value for i in at.info) or page == COMPARE


@pytest.fixture()
def full_cifar10(tmp_path, monkeypatch):
    """A stand-in for the full CIFAR-10 test set (20 sample images) in $SHIFTLAB_DATA; caches cleared before and
    after."""
    data = load_dataset("cifar10-sample").subset(np.r_[0:20])
    np.savez(tmp_path / "cifar10_test.npz", images=data.images, labels=data.labels, classes=np.array(data.classes))
    monkeypatch.setenv("SHIFTLAB_DATA", str(tmp_path))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield data
    st.cache_resource.clear()
    st.cache_data.clear()


def test_full_cifar10_is_offered_when_found(zoo, full_cifar10):
    at = run(CALIBRATION, image="cifar10:3")
    box = at.selectbox(key=widget_key(CALIBRATION, "dataset"))
    assert box.options == ["CIFAR-10 sample · 500", f"CIFAR-10 test set · {len(full_cifar10)}"]
    assert box.value == "cifar10"
    assert any(f"same {len(full_cifar10)} images" in c.value for c in at.caption)


def test_robustness_compares_the_shipped_zoo(shipped):
    at = run(ROBUSTNESS)
    assert len(charts(at)) == 4
    at.selectbox(key="robustness_corruption").select("fog").run()
    check(at)
    assert any("**fog**" in m for m in markdown(at))


def test_robustness_lists_the_targets_of_the_chosen_architecture(shipped):
    at = run(ROBUSTNESS)
    at.selectbox(key="robustness_model").select("vit_tiny").run()
    check(at)
    shown = at.dataframe[0].value
    expected = [r for r in zoo_targets() if r.model == "vit_tiny"]
    assert list(shown["variant"]) == [r.variant for r in expected]
    assert list(shown["measured"]) == pytest.approx([r.measured for r in expected])
    assert list(shown["met"]) == [{True: "yes", False: "no"}[r.met] for r in expected]


def test_robustness_explains_an_unmeasured_zoo(zoo):
    at = run(ROBUSTNESS)
    assert not charts(at) and "corruption suite" in at.info[0].value



def test_shipped_sweep_gives_the_curves_computed_live(sample):
    store = sweeps.shipped()
    variants = ["baseline", "pgd_adv"]
    live = {(v, s): predict_logits(load_model("resnet20", v).model, sample.images if s == 0 else
                                   apply("contrast", sample.images, s, 0)) for v in variants for s in range(6)}
    expected = calibration.curves_frame(sample.labels, live, True)
    read = sweeps.curves_from(store, "resnet20", variants, "contrast")
    keys = ["variant", "severity", "measure"]
    pd.testing.assert_frame_equal(read.sort_values(keys).reset_index(drop=True),
                                  expected.sort_values(keys).reset_index(drop=True), check_exact=False, atol=1e-6)


@pytest.mark.parametrize("page", [CALIBRATION, CASES, ROBUSTNESS])
def test_pages_read_a_sweep_folder(shipped, page):
    at = run(page, shift="fog", severity="3")
    at.sidebar.radio(key="results_from").set_value("a sweep folder")
    check(at.run())
    assert any("sweep" in c.value for c in at.caption) or any("records of" in m for m in markdown(at))
    if page == CALIBRATION:
        expected = sweeps.figures_from(sweeps.shipped(), "resnet20", "baseline", "fog", 3)
        assert metric(at, "ECE, source → shifted") == f"{expected.loc[0, 'ece']:.3f} → {expected.loc[1, 'ece']:.3f}"


def test_a_broken_sweep_folder_is_a_message(shipped, tmp_path, monkeypatch):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "sweep.json").write_text("{")
    monkeypatch.setenv("SHIFTLAB_SWEEPS", str(tmp_path))
    at = run(CALIBRATION)
    at.sidebar.radio(key="results_from").set_value("a sweep folder")
    check(at.run())
    at.sidebar.selectbox(key="sweep_name").set_value("broken")
    at.run()
    assert not at.exception and not at.error and any("cannot be read" in w.value for w in at.sidebar.warning)


def test_shipped_ood_stores_give_the_figures_computed_live(sample):
    """The OOD page's default figures read from the shipped stores equal the live computation's."""
    loaded = load_model("resnet20", "augmix")
    shifted = apply("ood_cifar100_sample", sample.images, 5, 0)
    logits_in, logits_out = predict_logits(loaded.model, sample.images), predict_logits(loaded.model, shifted)
    store = sweeps.open_store(shipped_store("ood"))
    held = Request.of("resnet20", ["augmix"], "cifar10-sample", 0, (("ood_cifar100_sample", 5),))
    assert StoredSweep(lambda: store, SHIPPED_WEIGHTS).holds(held)
    read = ood.detection_table(*sweeps.ood_scores_from(store, "resnet20", "augmix", "ood_cifar100_sample"))
    live = ood.detection_table(ood.scores(logits_in), ood.scores(logits_out))
    pd.testing.assert_frame_equal(read, live, check_exact=False, atol=1e-4)
    assert sweeps.id_figures_from(store, "resnet20", "augmix") == pytest.approx(
        ood.id_figures(sample.labels, logits_in), abs=1e-4)
    drift = sweeps.open_store(shipped_store("ood_drift"))
    target = logits_in[:ood.DRIFT_IMAGES].argmax(1)
    for method in ("saliency", "gradcam", "integrated_gradients"):
        options = method_options(method)
        held = Request.of("resnet20", ["augmix"], "cifar10-sample", 0, (("ood_cifar100_sample", 5),),
                          first=ood.DRIFT_IMAGES, method=method, options=options)
        assert StoredSweep(lambda: drift, SHIPPED_WEIGHTS).holds(held)
        maps = [attribute(loaded, images[:ood.DRIFT_IMAGES], method, target=target, **options).maps
                for images in (sample.images, shifted)]
        expected = drift_report(*maps, k=DRIFT_TOP_K)
        stored = sweeps.drift_from(drift, "resnet20", "augmix", "ood_cifar100_sample", method)
        for name in ("top_k_iou", "spearman"):
            np.testing.assert_allclose(stored[name], expected[name], atol=0.02, err_msg=f"{method} {name}")
