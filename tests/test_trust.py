"""The trust report: every method's faithfulness on source and shifted images, for the source's class, one image at a
time as the sweep measures it; the Trust page reading the shipped store (and computing when it does not hold the
view)."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open
from streamlit.testing.v1 import AppTest

from shiftlab.app import caches
from shiftlab.app import trust as app_trust
from shiftlab.app.explain import method_options
from shiftlab.attribution import attribute
from shiftlab.data import load_dataset
from shiftlab.errors import ParameterError
from shiftlab.inference import predict_logits
from shiftlab.metrics import faithfulness
from shiftlab.metrics.faithfulness import deletion_insertion, random_reference, road
from shiftlab.metrics.randomisation import randomisation_check
from shiftlab.models import load_model
from shiftlab.shifts import apply
from shiftlab.sweep import records as sweep_records
from shiftlab.sweep import results
from shiftlab.sweep.lookup import Request, StoredCascades, stored_faithfulness
from shiftlab.sweep.ship import CASCADES, TRUST_METHODS, shipped_store
from shiftlab.trust import (
    AREAS,
    BASELINES,
    Cascade,
    TrustSettings,
    gap,
    ranking,
    road_columns,
    trust_indices,
    trust_report,
)
from tests.test_faithfulness import images, linear_model

SETTINGS = TrustSettings(steps=8, draws=2, road_percentages=(20, 60))
METHODS = ["saliency", "integrated_gradients"]


@pytest.fixture(scope="module")
def report():
    loaded = linear_model(positive=False, seed=4)
    source = images(4, seed=5)
    shifted = (source // 2).astype(np.uint8)
    return loaded, source, shifted, trust_report(loaded, source, shifted, METHODS, SETTINGS,
                                                 options={"integrated_gradients": {"n_steps": 8}})


def test_every_image_method_and_condition_has_a_record(report):
    records = report[3].records
    assert list(records.columns) == ["image", "method", "condition", "target", *AREAS, "road_morf_20", "road_morf_60",
                                     "road_lerf_20", "road_lerf_60"]
    assert len(records) == 4 * 2 * 2
    assert records[["method", "condition"]].drop_duplicates().values.tolist() == [
        [m, c] for m in METHODS for c in ("source", "shifted")]


def test_both_conditions_explain_the_source_class(report):
    loaded, source, shifted, result = report
    np.testing.assert_array_equal(result.target, predict_logits(loaded.model, source).argmax(1))
    assert (result.records.groupby("image")["target"].nunique() == 1).all()


def test_the_figures_are_those_of_the_metrics_one_image_at_a_time(report):
    """Each image measured alone, with its own random reference, as the sweep's worker measures it."""
    loaded, source, shifted, result = report
    maps = attribute(loaded, shifted, "saliency", result.target).maps
    rows = result.records.query("method == 'saliency' and condition == 'shifted'")
    for i in range(4):
        one = slice(i, i + 1)
        reference = random_reference(loaded, shifted[one], result.target[one], steps=8, draws=2)
        curves = deletion_insertion(loaded, shifted[one], maps[one], result.target[one], steps=8, reference=reference)
        removal = road(loaded, shifted[one], maps[one], result.target[one], percentages=(20, 60))
        row = rows.iloc[i]
        assert [row[name] for name in AREAS] == [getattr(curves, name)[0] for name in AREAS]
        assert [row["road_morf_20"], row["road_lerf_60"]] == [removal.morf[0, 0], removal.lerf[0, 1]]
    expected = ((rows["random_deletion_auc"] - rows["deletion_auc"])
                + (rows["insertion_auc"] - rows["random_insertion_auc"]))
    np.testing.assert_allclose(gap(rows), expected)


def test_an_images_record_does_not_depend_on_the_others(report):
    loaded, source, shifted, result = report
    alone = trust_report(loaded, source[2:3], shifted[2:3], ["saliency"], SETTINGS).records
    together = result.records.query("method == 'saliency' and image == 2")
    pd.testing.assert_frame_equal(alone.drop(columns="image"), together.drop(columns="image").reset_index(drop=True))


def test_the_ranking_orders_methods_by_their_gap_on_shifted_images(report):
    records = report[3].records
    ranked = ranking(records)
    assert ranked["rank"].tolist() == [1, 2] and list(ranked.columns) == ["rank", "method", "gap_source", "gap_shifted"]
    assert ranked["gap_shifted"].is_monotonic_decreasing
    best = records[(records["method"] == ranked["method"][0]) & (records["condition"] == "shifted")]
    assert ranked["gap_shifted"][0] == pytest.approx(gap(best).mean())


def test_the_default_settings_are_the_sweeps():
    """``TrustSettings()`` are the metrics' defaults, which the sweep's faithfulness product measures with, and the
    records' columns are the sweep's: a store made by the sweep answers the page's default view."""
    defaults = {name: parameter.default for function in (deletion_insertion, random_reference, road)
                for name, parameter in inspect.signature(function).parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    settings = TrustSettings()
    assert {name: getattr(settings, name) for name in ("steps", "baseline", "order", "draws", "seed")} == {
        name: defaults[name] for name in ("steps", "baseline", "order", "draws", "seed")}
    assert settings.road_percentages == defaults["percentages"] == faithfulness.ROAD_PERCENTAGES
    assert BASELINES == faithfulness.BASELINES
    assert AREAS == sweep_records.FAITHFULNESS_AREAS
    assert road_columns(settings.road_percentages) == sweep_records.road_columns()


@pytest.mark.parametrize("methods, shifted, words", [([], images(2), "at least one"),
                                                     (["saliency"], images(3), "same shape")])
def test_bad_requests(methods, shifted, words):
    with pytest.raises(ParameterError, match=words):
        trust_report(linear_model(), images(2), shifted, methods)


def test_a_cascade_keeps_what_the_page_shows():
    loaded = linear_model(positive=False, seed=1)
    check = randomisation_check(loaded, images(2), "saliency")
    cascade = Cascade.of(check)
    assert cascade.stages == (0,) and cascade.layers == check.layers
    np.testing.assert_array_equal(cascade.maps, np.stack([check.original[0], check.maps[0][0]]))
    assert cascade.final_spearman == check.final_spearman and cascade.passed == check.passed


def test_round_the_classes():
    labels = load_dataset("cifar10-sample").labels
    indices = trust_indices(labels, 12)
    assert sorted(labels[indices[:10]].tolist()) == list(range(10)) and len(set(indices.tolist())) == 12
    assert trust_indices(labels, 16)[:12].tolist() == indices.tolist()


# --- the shipped store, read by content and settings ----------------------------------------------------------------

VIEW = {"arch": "resnet20", "variant": "augmix", "shift": "fog", "severity": "3"}


def lookup(**changes) -> pd.DataFrame | None:
    """The records the page would read for the stored default view (``VIEW``, every Trust method), with ``changes``."""
    data = load_dataset("cifar10-sample")
    view = {"variant": "augmix", "shift": "fog", "severity": 3, "seed": 0, "methods": tuple(TRUST_METHODS),
            "indices": trust_indices(data.labels, 16), "settings": TrustSettings(), "size": 32, **changes}
    return app_trust.stored_records(app_trust.shipped_trust(), "resnet20", view["variant"], "cifar10-sample",
                                    view["shift"], view["severity"], view["seed"], view["methods"], view["indices"],
                                    view["settings"], view["size"])


def found_indices() -> list[int]:
    return trust_indices(load_dataset("cifar10-sample").labels, 16).tolist()


def test_the_store_answers_the_default_view_only():
    found = lookup()
    assert found is not None and len(found) == 16 * 3 * 2
    assert lookup(settings=TrustSettings(baseline="mean")) is None
    assert lookup(settings=TrustSettings(road_percentages=(10, 30, 50, 70, 90))) is None
    assert lookup(seed=1) is None and lookup(severity=2) is None and lookup(shift="snow") is None
    assert lookup(indices=trust_indices(load_dataset("cifar10-sample").labels, 8)) is None
    other_steps = Request.of("resnet20", ["augmix"], "cifar10-sample", 0, (("fog", 3),), images=tuple(found_indices()),
                             method="integrated_gradients", product="faithfulness",
                             options={**method_options("integrated_gradients"), "n_steps": 8})
    assert stored_faithfulness(app_trust.shipped_trust().records, [other_steps], TrustSettings()) is None
    assert lookup(methods=("saliency", "wcam")) is None


def store_records() -> pd.DataFrame:
    """The shipped records of ``VIEW``, read straight from the store."""
    with results.open(shipped_store("faithfulness")) as store:
        frame = store.faithfulness("resnet20", VIEW["variant"], VIEW["shift"], 3)
    return frame.assign(gap=frame["random_deletion_auc"].astype(float) - frame["deletion_auc"].astype(float)
                        + frame["insertion_auc"].astype(float) - frame["random_insertion_auc"].astype(float))


def stored_final_spearman(method: str) -> float:
    with safe_open(str(shipped_store("faithfulness") / CASCADES / f"resnet20-{VIEW['variant']}-{method}.safetensors"),
                   "np") as file:
        return float(np.nanmean(file.get_tensor("spearman")[:, -1]))


PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "trust.py")


def fails(*args, **kwargs):
    raise AssertionError("the page computed what the store holds")


@pytest.fixture(scope="module")
def stored_page():
    """The Trust page on the stored default view, with every path that computes made to fail."""
    with pytest.MonkeyPatch.context() as patch:
        for module, name in ((caches, "trust_measures"), (caches, "sanity_check"), (app_trust, "trust_cost"),
                             (app_trust, "sanity_cost")):
            patch.setattr(module, name, fails)
        at = AppTest.from_file(PAGE, default_timeout=120)
        at.query_params.update(VIEW)
        at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


def ranking_shown(at: AppTest) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if "rank" in frame.value.columns)


def test_the_page_reads_the_store_without_computing(stored_page):
    captions = [c.value for c in stored_page.caption]
    assert any(c.startswith("Read from the shipped store") for c in captions)
    assert any("cascade is read from the shipped store" in c for c in captions) and not stored_page.button


def test_the_stored_pages_figures_are_the_stores_records(stored_page):
    expected = store_records()
    shown = ranking_shown(stored_page)
    for row in shown.itertuples():
        rows = expected[expected["method"] == row.method]
        assert row.gap_source == pytest.approx(rows[rows["shift"] == "source"]["gap"].mean(), abs=1e-12)
        assert row.gap_shifted == pytest.approx(rows[rows["shift"] == VIEW["shift"]]["gap"].mean(), abs=1e-12)
        assert row.final_spearman == pytest.approx(stored_final_spearman(row.method), abs=1e-12)
    assert shown["gap_shifted"].is_monotonic_decreasing and len(shown) == 3
    means = next(frame.value for frame in stored_page.dataframe if "road_morf" in frame.value.columns)
    source = expected[(expected["method"] == "gradcam") & (expected["shift"] == "source")]
    row = means[(means["method"] == "gradcam") & (means["condition"] == "source")].iloc[0]
    assert row["deletion_auc"] == pytest.approx(source["deletion_auc"].astype(float).mean(), abs=1e-12)
    random = f"deletion area {source['random_deletion_auc'].astype(float).mean():.3f} on the source images"
    assert any(random in c.value for c in stored_page.caption)


# --- the Trust page on a view the store does not hold: measured here ------------------------------------------------

LIVE_VIEW = {"arch": "resnet20", "variant": "baseline", "shift": "fog", "severity": "3", "methods": "gradcam"}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The Trust page on 4 sample images (not the stored set), measured (its button pressed when the estimate asks),
    with no stored cascade."""
    shipped = app_trust.shipped_trust()
    no_cascades = app_trust.ShippedTrust(shipped.records, StoredCascades(tmp_path_factory.mktemp("none"), {}))
    at = AppTest.from_file(PAGE, default_timeout=600)
    at.query_params.update(LIVE_VIEW)
    at.session_state["trust_count"] = 4
    at.session_state["trust_shipped"] = no_cascades
    at.run()
    assert any("Measuring 4 images and their shifted copies" in c.value for c in at.caption)  # said before it runs
    assert any(c.value.startswith("Measured on this server") for c in at.caption)
    if at.button and at.button[0].label.startswith("Measure"):
        at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


def test_the_page_shows_the_cores_figures(page):
    loaded = load_model("resnet20", "baseline")
    data = load_dataset("cifar10-sample")
    indices = trust_indices(data.labels, 4)
    report = trust_report(loaded, data.images[indices], apply("fog", data.images, 3, 0)[indices], ["gradcam"],
                          TrustSettings(), {"gradcam": method_options("gradcam", 32)})
    shown, expected = ranking_shown(page), ranking(report.records)
    assert shown["method"].tolist() == expected["method"].tolist() == ["gradcam"]
    np.testing.assert_allclose(shown[["gap_source", "gap_shifted"]], expected[["gap_source", "gap_shifted"]], rtol=1e-6)
    assert len(page.get("vega_lite_chart")) >= 2  # the gap boxes and ROAD (and the cascade's)


def test_the_sanity_check_runs_and_says_its_verdict(page):
    """At once when its estimate is short, else on a click."""
    runs = [b for b in page.button if b.label.startswith("Run the check")]
    if runs:
        runs[0].click().run()
    assert not page.exception and not page.error
    verdict = [m.value for m in page.markdown if "the check: Spearman" in m.value]
    assert verdict and ("passes" in verdict[0] or "fails" in verdict[0])
    assert "randomisation" in ranking_shown(page).columns
