"""Metrics against scikit-learn / scipy or hand-worked cases, plus their edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, rankdata
from skimage.metrics import structural_similarity
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, brier_score_loss, confusion_matrix, log_loss

from shiftlab.metrics import (
    MetricInputError,
    accuracy,
    brier,
    classification_report,
    detection_metrics,
    drift_report,
    ece,
    energy_score,
    fit_temperature,
    fpr_at_tpr,
    macro_f1,
    max_logit_score,
    mce,
    msp_score,
    nll,
    ood_report,
    ood_score,
    pearson,
    per_class_accuracy,
    probabilities,
    reliability_bins,
    spearman,
    ssim,
    top_k_iou,
)


@pytest.fixture(scope="module")
def random_task() -> tuple[np.ndarray, np.ndarray]:
    """500 examples, 6 classes, logits loosely related to the labels."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, 500)
    logits = rng.normal(size=(500, 6)) * 2
    logits[np.arange(500), labels] += 1.5
    return labels, logits


def logits_for(confidences: list[float], correct: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Two-class logits whose top-class confidence is given, and labels that make each example right or wrong."""
    conf = np.asarray(confidences)
    logits = np.log(np.stack([conf, 1 - conf], axis=1))
    labels = np.where(correct, 0, 1)
    return labels, logits


# ----- classification ---------------------------------------------------------------------------


def test_accuracy_matches_sklearn(random_task):
    labels, logits = random_task
    assert accuracy(labels, logits) == pytest.approx(accuracy_score(labels, logits.argmax(1)))


def test_macro_f1_hand_worked():
    # predictions 0,1,1,1 for labels 0,0,1,1 over 3 classes: F1 = 2/3, 0.8 and 0 (class 2 never occurs)
    labels = np.array([0, 0, 1, 1])
    logits = np.eye(3)[[0, 1, 1, 1]]
    assert macro_f1(labels, logits) == pytest.approx((2 / 3 + 0.8 + 0) / 3)


def test_per_class_accuracy_matches_confusion_matrix(random_task):
    labels, logits = random_task
    matrix = confusion_matrix(labels, logits.argmax(1), labels=range(6))
    np.testing.assert_allclose(per_class_accuracy(labels, logits), matrix.diagonal() / matrix.sum(1))


def test_per_class_accuracy_is_nan_for_absent_class():
    result = per_class_accuracy(np.array([0, 0]), np.eye(3)[[0, 1]])
    assert result[0] == 0.5 and np.isnan(result[1:]).all()


def test_all_correct():
    labels = np.arange(4)
    logits = np.eye(4) * 10
    assert accuracy(labels, logits) == 1.0
    assert macro_f1(labels, logits) == 1.0
    confidence = probabilities(logits).max(1)
    assert ece(labels, logits) == pytest.approx(np.mean(1 - confidence))
    report = classification_report(labels, logits)
    assert report["accuracy"] == 1.0 and report["n"] == 4


# ----- calibration ------------------------------------------------------------------------------


def test_nll_matches_sklearn_log_loss(random_task):
    labels, logits = random_task
    assert nll(labels, logits) == pytest.approx(log_loss(labels, probabilities(logits), labels=range(6)))


def test_brier_matches_sklearn(random_task):
    labels, logits = random_task
    expected = brier_score_loss(labels, probabilities(logits), labels=range(6), scale_by_half=False)
    assert brier(labels, logits) == pytest.approx(expected)


def test_ece_and_mce_hand_worked():
    # bin (0.8, 0.9]: confidence 0.85, accuracy 0.5 (gap 0.35); bin (0.7, 0.8]: 0.75 and 1.0 (gap 0.25)
    labels, logits = logits_for([0.85, 0.85, 0.75, 0.75], [True, False, True, True])
    assert ece(labels, logits, n_bins=10) == pytest.approx((2 * 0.35 + 2 * 0.25) / 4)
    assert mce(labels, logits, n_bins=10) == pytest.approx(0.35)
    bins = reliability_bins(labels, logits, n_bins=10)
    assert bins.count.tolist() == [0, 0, 0, 0, 0, 0, 0, 2, 2, 0]
    np.testing.assert_allclose(bins.accuracy[[7, 8]], [1.0, 0.5])
    np.testing.assert_allclose(bins.confidence[[7, 8]], [0.75, 0.85])
    assert np.isnan(bins.confidence[0]) and np.isnan(bins.accuracy[0])


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_bins_match_sklearn_calibration_curve(random_task, strategy):
    labels, logits = random_task
    probs = probabilities(logits)
    confidence, correct = probs.max(1), (probs.argmax(1) == labels).astype(int)
    bins = reliability_bins(labels, logits, n_bins=10, strategy=strategy)
    filled = bins.count > 0
    acc, conf = calibration_curve(correct, confidence, n_bins=10, strategy=strategy)
    np.testing.assert_allclose(bins.accuracy[filled], acc)
    np.testing.assert_allclose(bins.confidence[filled], conf)
    counts = np.histogram(confidence, bins.edges)[0]
    expected_ece = np.sum(counts[filled] * np.abs(acc - conf)) / len(labels)
    assert ece(labels, logits, n_bins=10, strategy=strategy) == pytest.approx(expected_ece)


def test_quantile_bins_hold_equal_mass(random_task):
    labels, logits = random_task
    bins = reliability_bins(labels, logits, n_bins=5, strategy="quantile")
    assert bins.count.tolist() == [100] * 5


def test_temperature_scaling_recovers_the_temperature():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(size=(4000, 5)) * 2
    labels = np.array([rng.choice(5, p=p) for p in probabilities(true_logits)])
    overconfident = 3.0 * true_logits
    fitted = fit_temperature(labels, overconfident)
    grid = np.linspace(1.0, 5.0, 401)
    best = grid[np.argmin([log_loss(labels, probabilities(overconfident / t), labels=range(5)) for t in grid])]
    assert fitted.temperature == pytest.approx(best, abs=0.011)
    assert fitted.temperature == pytest.approx(3.0, rel=0.1)
    calibrated = fitted.apply(overconfident)
    assert nll(labels, calibrated) < nll(labels, overconfident)
    assert ece(labels, calibrated) < ece(labels, overconfident)
    assert (calibrated.argmax(1) == overconfident.argmax(1)).all()


def test_temperature_is_not_identifiable_when_all_correct():
    with pytest.raises(MetricInputError, match="not identifiable"):
        fit_temperature(np.arange(3), np.eye(3) * 2)


# ----- input validation -------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [
    accuracy, macro_f1, per_class_accuracy, nll, brier, ece, mce, classification_report,
])
def test_nan_logits_raise(metric):
    logits = np.eye(3)
    logits[1, 1] = np.nan
    with pytest.raises(MetricInputError, match="NaN"):
        metric(np.arange(3), logits)


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array([0, 1]), "2 labels for 3"),
        (np.array([0, 1, 3]), r"\[0, 3\)"),
        (np.array([0.0, 1.0, 2.0]), "integer"),
        (np.zeros((3, 1), int), "1-D"),
    ],
)
def test_bad_labels_raise(labels, message):
    with pytest.raises(MetricInputError, match=message):
        accuracy(labels, np.eye(3))


def test_bad_binning_raises():
    with pytest.raises(MetricInputError, match="n_bins"):
        ece(np.arange(3), np.eye(3), n_bins=0)
    with pytest.raises(MetricInputError, match="strategy"):
        ece(np.arange(3), np.eye(3), strategy="log")


def test_empty_input_raises():
    with pytest.raises(MetricInputError, match="at least one"):
        accuracy(np.zeros(0, int), np.zeros((0, 3)))


# ----- attribution drift ------------------------------------------------------------------------


def test_top_k_iou_hand_worked():
    a = np.arange(100.0).reshape(10, 10)
    assert top_k_iou(a, a, k=10) == 1.0
    assert top_k_iou(a, -a, k=10) == 0.0
    # top 10 of a are 90..99; of the shifted map 85..94 at the same positions minus 5: overlap 90..94 = 5 of 15
    assert top_k_iou(a, np.roll(a, 5), k=10) == pytest.approx(5 / 15)
    assert top_k_iou(a, a, k=100) == 1.0


def test_top_k_iou_constant_maps_keep_all_ties():
    constant = np.ones((10, 10))
    assert top_k_iou(constant, constant, k=10) == 1.0
    assert top_k_iou(constant, np.arange(100.0).reshape(10, 10), k=10) == pytest.approx(0.1)


def test_correlations_match_numpy_and_ranks():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(16, 16))
    b = a + rng.normal(size=(16, 16))
    assert pearson(a, b) == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    ranks = np.corrcoef(rankdata(a.ravel()), rankdata(b.ravel()))[0, 1]
    assert spearman(a, b) == pytest.approx(ranks)
    assert spearman(a, np.exp(a)) == pytest.approx(1.0)


def test_correlations_of_constant_maps_are_nan():
    a = np.arange(16.0).reshape(4, 4)
    assert math.isnan(pearson(a, np.zeros((4, 4))))
    assert math.isnan(spearman(np.zeros((4, 4)), a))


def test_ssim_is_scale_free_and_matches_skimage_on_unit_maps():
    rng = np.random.default_rng(3)
    a = rng.random((16, 16))
    b = np.clip(a + rng.normal(scale=0.2, size=a.shape), 0, 1)
    assert ssim(a, 5 * a + 2) == pytest.approx(1.0)
    unit_b = (b - b.min()) / (b.max() - b.min())
    unit_a = (a - a.min()) / (a.max() - a.min())
    assert ssim(a, b) == pytest.approx(structural_similarity(unit_a, unit_b, data_range=1.0))
    assert ssim(a, b) == pytest.approx(ssim(b, a))
    assert ssim(a, b) < 0.9
    assert ssim(np.ones((8, 8)), np.ones((8, 8))) == pytest.approx(1.0)


@pytest.mark.parametrize("measure", [top_k_iou, pearson, spearman, ssim])
def test_drift_rejects_nan_and_shape_mismatch(measure):
    a = np.ones((8, 8))
    bad = a.copy()
    bad[0, 0] = np.nan
    with pytest.raises(MetricInputError, match="NaN"):
        measure(a, bad)
    with pytest.raises(MetricInputError, match="same shape"):
        measure(a, np.ones((8, 9)))


def test_bad_k_and_small_ssim_maps_raise():
    with pytest.raises(MetricInputError, match="percentage"):
        top_k_iou(np.ones((4, 4)), np.ones((4, 4)), k=0)
    with pytest.raises(MetricInputError, match="at least 7"):
        ssim(np.ones((4, 4)), np.ones((4, 4)))


def test_drift_report_per_pair():
    rng = np.random.default_rng(4)
    maps = rng.random((3, 8, 8))
    report = drift_report(maps, maps, k=20)
    assert set(report) == {"top_k_iou", "pearson", "spearman", "ssim"}
    for values in report.values():
        np.testing.assert_allclose(values, 1.0)
    with pytest.raises(MetricInputError, match="N×H×W"):
        drift_report(maps[0], maps[0])


# ----- OOD detection ----------------------------------------------------------------------------


def test_scores_are_higher_for_less_confident_logits():
    logits = np.array([[0.0, 0.0], [10.0, 0.0]])
    np.testing.assert_allclose(msp_score(logits)[0], -0.5)
    np.testing.assert_allclose(max_logit_score(logits), [0.0, -10.0])
    np.testing.assert_allclose(energy_score(logits)[0], -math.log(2))
    np.testing.assert_allclose(energy_score(logits, temperature=2.0)[0], -2 * math.log(2))
    for name in ("msp", "max_logit", "energy"):
        scores = ood_score(logits, name)
        assert scores[0] > scores[1]


def test_detection_metrics_hand_worked():
    scores_in, scores_out = np.array([0.1, 0.4]), np.array([0.35, 0.8])
    result = detection_metrics(scores_in, scores_out)
    assert result["auroc"] == pytest.approx(0.75)
    assert result["aupr_out"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert result["aupr_in"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert result["fpr_at_95_tpr"] == pytest.approx(0.5)


def test_detection_metrics_perfect_and_reversed():
    perfect = detection_metrics(np.array([0.0, 1.0]), np.array([2.0, 3.0]))
    assert perfect == {"auroc": 1.0, "aupr_in": 1.0, "aupr_out": 1.0, "fpr_at_95_tpr": 0.0}
    reversed_ = detection_metrics(np.array([2.0, 3.0]), np.array([0.0, 1.0]))
    assert reversed_["auroc"] == 0.0 and reversed_["fpr_at_95_tpr"] == 1.0


def test_auroc_matches_mann_whitney_and_fpr_matches_brute_force():
    rng = np.random.default_rng(5)
    scores_in = rng.normal(size=300)
    scores_out = rng.normal(loc=1.0, size=200).round(1)  # ties included
    result = detection_metrics(scores_in, scores_out)
    u = mannwhitneyu(scores_out, scores_in).statistic
    assert result["auroc"] == pytest.approx(u / (300 * 200))
    accepted_fraction = [
        (np.mean(scores_out <= t), np.mean(scores_in <= t)) for t in np.unique(np.r_[scores_in, scores_out])
    ]
    expected = min(fpr for fpr, tpr in accepted_fraction if tpr >= 0.95)
    assert fpr_at_tpr(scores_in, scores_out) == pytest.approx(expected)


def test_ood_report_from_logits():
    rng = np.random.default_rng(6)
    logits_in = rng.normal(size=(100, 10))
    logits_in[:, 0] += 8
    logits_out = rng.normal(size=(100, 10))
    for score in ("msp", "max_logit", "energy"):
        assert ood_report(logits_in, logits_out, score)["auroc"] > 0.95


def test_ood_bad_input_raises():
    with pytest.raises(MetricInputError, match="unknown OOD score"):
        ood_score(np.eye(2), "entropy")
    with pytest.raises(MetricInputError, match="NaN"):
        detection_metrics(np.array([0.0, np.nan]), np.array([1.0]))
    with pytest.raises(MetricInputError, match="temperature"):
        energy_score(np.eye(2), temperature=0)
