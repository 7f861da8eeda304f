"""The trust report: every method's faithfulness on source and shifted images, for the source's class."""

from __future__ import annotations

import numpy as np
import pytest

from shiftlab.errors import ParameterError
from shiftlab.inference import predict_logits
from shiftlab.metrics.faithfulness import deletion_insertion, random_reference
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
