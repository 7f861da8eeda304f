"""Chart data frames from hand-made inputs, and the charts' Vega-Lite specs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shiftlab.app.charts import (
    corruption_curves_chart,
    gain_frame,
    gain_heatmap,
    level_labels,
    reliability_chart,
    reliability_frame,
    score_frame,
    score_histogram,
    spectral_levels_chart,
    spectral_levels_frame,
    spectral_subbands_chart,
    spectral_subbands_frame,
    spread_labels,
    tradeoff_chart,
    variant_curves_chart,
)
from shiftlab.app.text import SCORE_LABELS
from shiftlab.metrics import OOD_SCORES, ReliabilityBins, ood_score, reliability_bins


def hand_bins() -> ReliabilityBins:
    """Three bins on [0, 1]; the middle one is empty."""
    nan = np.nan
    return ReliabilityBins(
        edges=np.array([0.0, 1 / 3, 2 / 3, 1.0]),
        count=np.array([2, 0, 3]),
        confidence=np.array([0.3, nan, 0.9]),
        accuracy=np.array([0.5, nan, 2 / 3]),
    )


def test_reliability_frame_keeps_filled_bins_and_marks_thin_ones():
    frame = reliability_frame(hand_bins())
    assert frame["count"].tolist() == [2, 3] and frame["unreliable"].tolist() == [True, True]
    assert frame["lower"].tolist() == pytest.approx([0.0, 2 / 3])
    assert frame["upper"].tolist() == pytest.approx([1 / 3, 1.0])
    assert frame["accuracy"].tolist() == pytest.approx([0.5, 2 / 3])


def test_reliability_chart_has_bars_and_diagonal():
    logits = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    spec = reliability_chart(reliability_bins(np.array([0, 0, 1]), logits), "shifted", "t").to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rect", "text", "line"]  # bars, counts, diagonal


def test_variant_curves_legend_lists_only_the_variants_there():
    curves = pd.DataFrame({"variant": ["baseline", "baseline", "augmix", "augmix"], "severity": [0, 1, 0, 1],
                           "measure": "accuracy", "value": [0.9, 0.8, 0.9, 0.85]})
    spec = variant_curves_chart(curves, "accuracy", 1).to_dict()
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert scale["domain"] == ["baseline", "augmix"] and scale["range"] == ["#868e96", "#1f6feb"]


def test_level_labels_run_coarse_to_fine():
    assert level_labels(3) == ["approx.", "level 3", "level 2", "level 1"]


def test_spectral_frames():
    levels = np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]])
    frame = spectral_levels_frame(levels)
    assert len(frame) == 8
    shifted = frame[frame["condition"] == "shifted"].sort_values("order")
    assert shifted["share"].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert shifted["level"].tolist() == level_labels(3)

    subbands = np.arange(18, dtype=float).reshape(2, 3, 3) / 100
    sub = spectral_subbands_frame(subbands)
    assert len(sub) == 18
    row = sub[(sub["condition"] == "shifted") & (sub["level"] == "level 1") & (sub["sub-band"] == "diagonal")]
    assert row["share"].item() == pytest.approx(subbands[1, 2, 2])
    spectral_levels_chart(levels).to_dict()
    spectral_subbands_chart(subbands).to_dict()


def test_score_frame_uses_the_oriented_scores():
    logits_in = np.log(np.array([[0.9, 0.1]]))
    logits_out = np.log(np.array([[0.5, 0.5], [0.6, 0.4]]))
    frame = score_frame(ood_score(logits_in, "msp"), ood_score(logits_out, "msp"))
    assert frame["set"].tolist() == ["in-distribution", "out-of-distribution", "out-of-distribution"]
    assert frame["score"].tolist() == pytest.approx([-0.9, -0.5, -0.6])


def test_score_histogram():
    assert set(SCORE_LABELS) == set(OOD_SCORES)
    logits = np.random.default_rng(0).normal(size=(20, 10))
    spec = score_histogram(ood_score(logits, "energy"), ood_score(logits + 1, "energy"), "energy").to_dict()
    assert spec["encoding"]["x"]["bin"] == {"maxbins": 30} and spec["title"] == SCORE_LABELS["energy"]
    with pytest.raises(ValueError, match="unknown OOD score"):
        score_histogram(logits[:, 0], logits[:, 1], "entropy")


def hand_corruption_frame() -> pd.DataFrame:
    """Two corruptions; augmix beats the baseline by 20 points on fog and loses 10 on snow (mean over severities)."""
    rows = []
    for variant, fog, snow in (("baseline", [0.5, 0.4, 0.3, 0.2, 0.1], [0.6] * 5),
                               ("augmix", [0.7, 0.6, 0.5, 0.4, 0.3], [0.5] * 5)):
        for corruption, accs in (("fog", fog), ("snow", snow)):
            rows.append(("resnet20", variant, corruption, 0, 0.9))
            rows += [("resnet20", variant, corruption, s, a) for s, a in zip(range(1, 6), accs)]
    return pd.DataFrame(rows, columns=["model", "variant", "corruption", "severity", "accuracy"])


def test_gain_frame_is_the_mean_over_severities_minus_the_baseline_in_points():
    gains = gain_frame(hand_corruption_frame(), "resnet20").set_index("corruption")["gain"]
    assert gains["fog"] == pytest.approx(20.0) and gains["snow"] == pytest.approx(-10.0)
    assert set(gain_frame(hand_corruption_frame(), "resnet20")["variant"]) == {"augmix"}


def test_gain_frame_without_the_reference_is_empty():
    assert gain_frame(hand_corruption_frame(), "resnet20", reference="pixmix").empty
    assert gain_frame(hand_corruption_frame(), "vit_tiny").empty


def test_robustness_charts_specs():
    frame = hand_corruption_frame()
    heat = gain_heatmap(frame, "resnet20").to_dict()
    assert [layer["mark"]["type"] for layer in heat["layer"]] == ["rect", "text"]
    curves = corruption_curves_chart(frame, "resnet20", "fog").to_dict()
    assert curves["mark"]["type"] == "line" and curves["encoding"]["x"]["field"] == "severity"
    rows = pd.DataFrame({"model": ["resnet20"] * 2, "variant": ["baseline", "pgd_adv"], "accuracy": [0.9, 0.7],
                         "pgd20_accuracy": [0.0, 0.42]})
    spec = tradeoff_chart(rows, "pgd20_accuracy", "PGD-20").to_dict()
    points, labels = spec["layer"]
    assert points["mark"]["type"] == "point" and labels["mark"]["type"] == "text"
    labelled = spec["datasets"][labels["data"]["name"]]
    assert [row["name"] for row in labelled] == ["resnet20/pgd_adv"]  # the point on the axis gets no label


def test_labels_that_would_cover_each_other_are_moved_apart():
    frame = pd.DataFrame({"x": [0.70, 0.71, 0.90, 0.50], "y": [0.60, 0.595, 0.595, 0.20]})
    spread = spread_labels(frame, "x", "y", width=0.3, height=0.05)
    gap = 0.05 * (0.60 - 0.20)
    assert spread["label_y"][0] == 0.60  # the top label stays
    assert spread["label_y"][1] == pytest.approx(0.60 - gap)  # its neighbour moves just below it
    assert spread["label_y"][2] == 0.595 and spread["label_y"][3] == 0.20  # far enough in x or y: unmoved


def test_spectral_levels_error_bars_are_one_std_each_side():
    levels, std = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]), np.full((2, 3), 0.05)
    frame = spectral_levels_frame(levels, std)
    assert frame["low"].tolist() == pytest.approx((levels - std).ravel().tolist())
    spec = spectral_levels_chart(levels, std).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "errorbar"]
