"""Every page renders on its defaults and survives a few interactions, with no traceback.

Most tests run on a zoo folder holding one untrained ResNet-20 (variant
``untrained``), so that they behave the same whether or not the trained
checkpoints exist; ``fallback`` runs them on an empty zoo, where the pages fall
back to EfficientNet-Lite0. Numbers on the pages are checked against the core
functions computed here independently.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from shiftlab.app import ui
from shiftlab.app.cases import select_cases
from shiftlab.app.experiment import compare
from shiftlab.app.text import SCORE_LABELS
from shiftlab.data import CIFAR10_CLASSES, load_dataset
from shiftlab.inference import predict_logits
from shiftlab.metrics import accuracy, ood_report
from shiftlab.models import ModelCard, build_model, load_model, save_checkpoint
from shiftlab.shifts import apply
from shiftlab.zoo.tables import zoo_targets

PAGES = Path(__file__).resolve().parents[1] / "pages"
EXPLORER, EXPLAIN, CASES, SPECTRAL, OOD = (
    str(PAGES / name)
    for name in ("1_Shift_explorer.py", "2_Explain.py", "3_Cases.py", "4_Spectral_profile.py", "5_OOD_detection.py")
)
UNTRAINED = "untrained"
TIMEOUT = 300


@pytest.fixture(scope="session")
def untrained_root(tmp_path_factory) -> Path:
    """A zoo folder with one randomly initialised (seeded) ResNet-20."""
    root = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    save_checkpoint(build_model("resnet20").net, ModelCard("resnet20", UNTRAINED),
                    root / "cifar10" / "resnet20" / UNTRAINED)
    return root


@pytest.fixture()
def zoo(untrained_root, monkeypatch) -> Path:
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(untrained_root))
    return untrained_root


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
    return load_model("resnet20", UNTRAINED, checkpoint=untrained_root / "cifar10" / "resnet20" / f"{UNTRAINED}.safetensors")


def run(page: str) -> AppTest:
    return check(AppTest.from_file(page, default_timeout=TIMEOUT).run())


def check(at: AppTest) -> AppTest:
    """Fail on any exception or error message shown by the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def test_model_choices_put_cifar_models_first(zoo):
    choices = ui.model_choices()
    assert choices[0] == ("resnet20", UNTRAINED) and ("efficientnet_lite0", "baseline") in choices


def test_shift_explorer_defaults(zoo, sample, untrained):
    at = run(EXPLORER)
    shifted = predict_logits(untrained.model, apply("gaussian_noise", sample.images, 3, 0))
    assert metric(at, "accuracy, shifted") == f"{accuracy(sample.labels, shifted):.1%}"
    assert metric(at, "accuracy, source") == f"{accuracy(sample.labels, predict_logits(untrained.model, sample.images)):.1%}"
    assert len(charts(at)) == 3  # two reliability diagrams and the severity curve
    assert len(at.get("image")) == len(CIFAR10_CLASSES)  # one example per class
    assert at.dataframe[0].value.index.tolist() == [1, 2, 3, 4, 5]  # the severity parameter table


def test_shift_explorer_follows_shift_and_severity(zoo, sample, untrained):
    at = run(EXPLORER)
    at.selectbox(key="shift").set_value("fog")
    at.slider(key="severity").set_value(5)
    check(at.run())
    shifted = predict_logits(untrained.model, apply("fog", sample.images, 5, 0))
    assert metric(at, "accuracy, shifted") == f"{accuracy(sample.labels, shifted):.1%}"
    assert any("**fog**" in m.value for m in at.markdown)


def test_explain_offers_the_models_methods_and_switches(zoo):
    at = run(EXPLAIN)
    assert [m.label for m in at.metric] == ["top-10 % IoU", "Pearson", "Spearman", "SSIM"]
    method = at.selectbox(key="method")
    assert "attention_rollout" not in method.options and method.value == "gradcam"
    method.set_value("saliency")
    at.selectbox(key="shift").set_value("rotate")
    check(at.run())
    assert any("**saliency**" in m.value for m in at.markdown)


def test_explain_takes_uploads_and_reports_broken_files(zoo):
    at = run(EXPLAIN)
    at.radio(key="image_source").set_value("Upload")
    check(at.run())
    assert "Upload an image" in at.info[0].value
    picture = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(picture, "PNG")
    at.file_uploader(key="upload").set_value(("photo.png", picture.getvalue(), "image/png"))
    check(at.run())
    assert len(at.metric) == 4
    at.file_uploader(key="upload").set_value(("broken.png", b"not an image", "image/png"))
    at.run()
    assert not at.exception and "not an image file" in at.error[0].value


def test_cases_kinds_and_paging(zoo, sample, untrained):
    at = run(CASES)
    comparison = compare(
        sample.labels, True, predict_logits(untrained.model, sample.images),
        predict_logits(untrained.model, apply("gaussian_noise", sample.images, 5, 0)),
    )
    at.segmented_control(key="kind").set_value("confident_errors")
    check(at.run())
    errors = select_cases(comparison, "confident_errors")
    assert any(m.value.startswith(f"**{len(errors):,}** of 500 images") for m in at.markdown)
    assert len(errors) > 20  # an untrained model is mostly wrong: more than one page
    at.get("pagination")[0].set_value(2)
    check(at.run())
    assert len(at.get("image")) == min(20, len(errors) - 20)


def test_spectral_profile_renders_and_follows_severity(zoo):
    at = run(SPECTRAL)
    assert len(charts(at)) == 2 and len(at.get("image")) == 2
    at.slider(key="severity").set_value(1)
    at.select_slider(key="nb_design").set_value(8)
    check(at.run())
    assert any("528 times per image" in c.value for c in at.caption)  # 8 · (8² + 2)


def test_ood_detection_table_matches_the_metrics(zoo, sample, untrained):
    at = run(OOD)
    table = at.dataframe[0].value
    assert table.index.tolist() == list(SCORE_LABELS.values())
    logits_in = predict_logits(untrained.model, sample.images)
    logits_out = predict_logits(untrained.model, apply("ood_cifar100_sample", sample.images, 5, 0))
    assert table["auroc"].iloc[2] == pytest.approx(ood_report(logits_in, logits_out, "energy")["auroc"])
    assert len(charts(at)) == 3
    at.selectbox(key="shift").set_value("ood_gaussian")
    check(at.run())
    assert not np.allclose(at.dataframe[0].value["auroc"], table["auroc"])


@pytest.mark.parametrize("page", [EXPLORER, EXPLAIN, CASES, OOD])
def test_pages_fall_back_to_efficientnet(fallback, page):
    at = run(page)
    assert at.selectbox(key="model").value == ("efficientnet_lite0", "baseline")
    assert any("fall back" in i.value for i in at.sidebar.info)
    if page == EXPLORER:
        assert metric(at, "agreement, source") == "100.0%"


@pytest.fixture()
def full_cifar10(tmp_path, monkeypatch):
    """A stand-in for the full CIFAR-10 test set (20 sample images) in $SHIFTLAB_DATA; caches cleared before and after."""
    data = load_dataset("cifar10-sample").subset(np.r_[0:20])
    np.savez(tmp_path / "cifar10_test.npz", images=data.images, labels=data.labels, classes=np.array(data.classes))
    monkeypatch.setenv("SHIFTLAB_DATA", str(tmp_path))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield data
    st.cache_resource.clear()
    st.cache_data.clear()


def test_full_cifar10_is_offered_when_found(zoo, full_cifar10):
    at = run(EXPLORER)
    box = at.selectbox(key="dataset")
    assert box.options == ["CIFAR-10 sample · 500", f"CIFAR-10 test set · {len(full_cifar10)}"]
    box.set_value("cifar10")
    check(at.run())
    assert any(f"on {len(full_cifar10)} images" in h.value for h in at.subheader)


ROBUSTNESS = str(PAGES / "6_Robustness.py")


def test_robustness_compares_the_shipped_zoo(monkeypatch):
    monkeypatch.delenv("SHIFTLAB_CHECKPOINTS", raising=False)
    at = run(ROBUSTNESS)
    assert len(charts(at)) == 4
    at.selectbox(key="robustness_corruption").select("fog").run()
    check(at)
    assert any("fog" in m.value for m in at.markdown)


def test_robustness_lists_the_targets_of_the_chosen_architecture(monkeypatch):
    monkeypatch.delenv("SHIFTLAB_CHECKPOINTS", raising=False)
    at = run(ROBUSTNESS)
    at.selectbox(key="robustness_model").select("vit_tiny").run()
    check(at)
    shown = at.dataframe[0].value
    expected = [r for r in zoo_targets() if r["model"] == "vit_tiny"]
    assert list(shown["variant"]) == [r["variant"] for r in expected]
    assert list(shown["measured"]) == pytest.approx([r["measured"] for r in expected])
    assert list(shown["met"]) == [{True: "yes", False: "no"}[r["met"]] for r in expected]


def test_robustness_explains_an_unmeasured_zoo(zoo):
    at = run(ROBUSTNESS)
    assert not charts(at) and "corruption suite" in at.info[0].value
