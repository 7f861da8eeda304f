"""The trust report: every method's faithfulness on source and shifted images, for the source's class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from shiftlab.app.explain import method_options
from shiftlab.app.trust import trust_images
from shiftlab.data import load_dataset
from shiftlab.errors import ParameterError
from shiftlab.inference import predict_logits
from shiftlab.metrics.faithfulness import deletion_insertion, random_reference
from shiftlab.models import load_model
from shiftlab.shifts import apply
from shiftlab.trust import MEASURES, TrustSettings, trust_report
from tests.test_faithfulness import images, linear_model

SETTINGS = TrustSettings(steps=8, draws=2, road_percentages=(20, 60))


@pytest.fixture(scope="module")
def report():
    loaded = linear_model(positive=False, seed=4)
    source = images(4, seed=5)
    shifted = (source // 2).astype(np.uint8)
    return loaded, source, shifted, trust_report(loaded, source, shifted, ["saliency", "integrated_gradients"], SETTINGS,
                                                 options={"integrated_gradients": {"n_steps": 8}})


def test_every_image_method_and_condition_has_a_record(report):
    loaded, source, shifted, result = report
    records = result.records()
    assert len(records) == 4 * 2 * 2
    assert set(records[0]) == {"image", "method", "condition", *MEASURES}
    assert {(r["method"], r["condition"]) for r in records} == {
        (m, c) for m in ("saliency", "integrated_gradients") for c in ("source", "shifted")}


def test_both_conditions_explain_the_source_class(report):
    loaded, source, shifted, result = report
    np.testing.assert_array_equal(result.target, predict_logits(loaded.model, source).argmax(1))


def test_the_figures_are_those_of_the_metrics(report):
    loaded, source, shifted, result = report
    trust = result.methods[0].shifted
    reference = random_reference(loaded, shifted, result.target, steps=8, draws=2)
    again = deletion_insertion(loaded, shifted, trust.maps, result.target, steps=8, reference=reference)
    np.testing.assert_array_equal(trust.curves.deletion_auc, again.deletion_auc)
    expected_gap = (again.random_deletion_auc - again.deletion_auc) + (again.insertion_auc - again.random_insertion_auc)
    np.testing.assert_allclose(trust.gap, expected_gap)
    np.testing.assert_allclose([r["road_morf"] for r in result.records()
                                if r["method"] == "saliency" and r["condition"] == "shifted"], trust.road.morf.mean(1))


def test_the_ranking_orders_methods_by_their_gap_on_shifted_images(report):
    ranking = report[3].ranking()
    assert [row["rank"] for row in ranking] == [1, 2]
    assert ranking[0]["gap_shifted"] >= ranking[1]["gap_shifted"]


def test_without_road_its_columns_are_missing():
    loaded = linear_model()
    result = trust_report(loaded, images(2), images(2, seed=9), ["saliency"], TrustSettings(steps=4, draws=1,
                                                                                           road_percentages=None))
    assert all(np.isnan(r["road_morf"]) for r in result.records())


@pytest.mark.parametrize("methods, shifted, words", [([], images(2), "at least one"), (["saliency"], images(3), "same shape")])
def test_bad_requests(methods, shifted, words):
    with pytest.raises(ParameterError, match=words):
        trust_report(linear_model(), images(2), shifted, methods)


# --- the Trust page ----------------------------------------------------------------------------------------------

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "trust.py")
VIEW = {"arch": "resnet20", "variant": "baseline", "shift": "fog", "severity": "3", "methods": "saliency,gradcam"}


@pytest.fixture(scope="module")
def page():
    """The Trust page on 4 sample images, measured (its button pressed when the estimate asks for it)."""
    at = AppTest.from_file(PAGE, default_timeout=600)
    at.query_params.update(VIEW)
    at.session_state["trust_count"] = 4
    at.run()
    assert any("Measuring 4 images and their shifted copies" in c.value for c in at.caption)  # said before it runs
    if at.button and at.button[0].label.startswith("Measure"):
        at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


def ranking_shown(at: AppTest) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if "rank" in frame.value.columns)


def test_the_page_shows_the_cores_figures(page):
    loaded = load_model("resnet20", "baseline")
    data = load_dataset("cifar10-sample")
    indices, source, shifted = trust_images(data, apply("fog", data.images, 3, 0), 4, 32)
    report = trust_report(loaded, source, shifted, ["saliency", "gradcam"], TrustSettings(),
                          {m: method_options(m, 32) for m in ("saliency", "gradcam")})
    shown = ranking_shown(page)
    expected = pd.DataFrame(report.ranking())
    assert shown["method"].tolist() == expected["method"].tolist()
    np.testing.assert_allclose(shown["gap_shifted"], expected["gap_shifted"], rtol=1e-6)
    assert len(page.get("vega_lite_chart")) >= 2  # the gap boxes and ROAD (and the cascade's, when it ran at once)


def test_the_sanity_check_runs_and_says_its_verdict(page):
    """At once when its estimate is short, else on a click."""
    runs = [b for b in page.button if b.label.startswith("Run the check")]
    if runs:
        runs[0].click().run()
    assert not page.exception and not page.error
    verdict = [m.value for m in page.markdown if "the check: Spearman" in m.value]
    assert verdict and ("passes" in verdict[0] or "fails" in verdict[0])
    assert "randomisation" in ranking_shown(page).columns


def test_round_the_classes():
    data = load_dataset("cifar10-sample")
    indices, source, shifted = trust_images(data, data.images, 12, 32)
    assert sorted(data.labels[indices[:10]].tolist()) == list(range(10)) and len(set(indices.tolist())) == 12
