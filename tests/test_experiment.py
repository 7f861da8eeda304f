"""Shift experiments: evaluation subsets, scoring against reference labels, severity curves, tables."""

from __future__ import annotations

import numpy as np
import pytest

from shiftlab.app import ood
from shiftlab.app.calibration import curves_frame
from shiftlab.app.experiment import (
    LARGE_INPUT_PER_CLASS,
    Predictions,
    compare,
    evaluation_set,
    format_value,
    labels_apply,
    metric_name,
    model_inputs,
    predict,
    severity_table,
)
from shiftlab.app.ood import detection_table
from shiftlab.data import ImageDataset
from shiftlab.dataset_files import CIFAR10_CLASSES
from shiftlab.inference import predict_logits
from shiftlab.metrics import OOD_SCORES
from shiftlab.models import load_model
from shiftlab.shifts import get_shift

#: three images, two classes: predicted 0, 1, 0; labels 0, 0, 1
LOGITS = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]], np.float32)
LABELS = np.array([0, 0, 1])


def tiny_dataset(n_per_class: int = 6, side: int = 8) -> ImageDataset:
    labels = np.tile(np.arange(3), n_per_class)  # 0 1 2 0 1 2 ...
    images = np.arange(len(labels) * side * side * 3).reshape(len(labels), side, side, 3).astype(np.uint8)
    return ImageDataset("toy", "test", images, labels, ["a", "b", "c"])


def test_small_input_models_use_every_image():
    data = tiny_dataset()
    assert evaluation_set(data, 32) is data


def test_large_input_models_use_the_first_images_of_each_class():
    data = tiny_dataset()
    subset = evaluation_set(data, 224)
    assert len(subset) == 3 * LARGE_INPUT_PER_CLASS
    assert np.bincount(subset.labels).tolist() == [LARGE_INPUT_PER_CLASS] * 3
    # class 0 sits at positions 0, 3, 6, ...: its first images come first
    np.testing.assert_array_equal(subset.images[:2], data.images[[0, 3]])


def test_model_inputs_resize_only_when_needed():
    images = np.zeros((2, 32, 32, 3), np.uint8)
    assert model_inputs(images, 32) is images
    assert model_inputs(images, 48).shape == (2, 48, 48, 3)


def test_predictions_against_hand_worked_values():
    p = Predictions(LOGITS, LABELS)
    np.testing.assert_array_equal(p.predicted, [0, 1, 0])
    np.testing.assert_array_equal(p.correct, [True, False, False])
    sigmoid2 = 1 / (1 + np.exp(-2.0))  # softmax of (2, 0)
    assert p.confidence[0] == pytest.approx(sigmoid2)
    assert p.reference_probability[1] == pytest.approx(1 / (1 + np.e))  # class 0 of (0, 1)


def test_flips_between_source_and_shifted():
    shifted = np.array([[0.0, 2.0], [2.0, 0.0], [3.0, 0.0]], np.float32)  # predicted 1, 0, 0
    comparison = compare(LABELS, True, LOGITS, shifted)
    np.testing.assert_array_equal(comparison.correct_to_wrong, [True, False, False])
    np.testing.assert_array_equal(comparison.wrong_to_correct, [False, True, False])


def test_without_labels_the_source_prediction_is_the_reference():
    shifted = np.array([[0.0, 2.0], [0.0, 2.0], [3.0, 0.0]], np.float32)
    comparison = compare(LABELS, False, LOGITS, shifted)
    assert not comparison.labelled
    assert comparison.source.correct.mean() == 1.0
    assert comparison.shifted.correct.mean() == pytest.approx(2 / 3)  # image 0 changed its mind
    assert metric_name(False) == "agreement" and metric_name(True) == "accuracy"


def test_labels_apply_only_to_the_same_classes_in_the_same_order():
    assert labels_apply(list(CIFAR10_CLASSES), list(CIFAR10_CLASSES))
    assert not labels_apply(list(reversed(CIFAR10_CLASSES)), list(CIFAR10_CLASSES))
    assert not labels_apply(["tench", "goldfish"], list(CIFAR10_CLASSES))


def test_curves_start_at_the_source_and_drop_ece_without_labels():
    worse = np.array([[0.0, 2.0], [0.0, 1.0], [3.0, 0.0]], np.float32)
    logits = {("v", 0): LOGITS, ("v", 1): LOGITS, ("v", 2): worse}
    curve = curves_frame(LABELS, logits, True)
    accuracy = curve[curve["measure"] == "accuracy"]
    assert accuracy["severity"].tolist() == [0, 1, 2]
    assert accuracy["value"].tolist() == pytest.approx([1 / 3, 1 / 3, 0.0])
    assert "ECE" in set(curve["measure"])
    unlabelled = curves_frame(LABELS, logits, False)
    assert set(unlabelled["measure"]) == {"agreement"}  # against the source prediction; no ECE
    assert unlabelled["value"].tolist() == pytest.approx([1.0, 1.0, 2 / 3])  # image 0 changed its mind


def test_format_value():
    assert format_value(0.30000000000000004) == "0.3"
    assert format_value((1, 2.5)) == "(1, 2.5)"
    assert format_value("gaussian") == "gaussian"
    assert format_value(True) == "True"
    assert format_value(7) == "7"


def test_severity_table_shows_the_parameters_used_at_that_size():
    small, large = severity_table("fog", 32, 32), severity_table("fog", 224, 224)
    assert small.index.tolist() == [1, 2, 3, 4, 5]
    assert small.loc[3, "amount"] == format_value(get_shift("fog").params_for(3, 32, 32)["amount"])
    assert large.loc[3, "amount"] == format_value(get_shift("fog").params_for(3, 224, 224)["amount"])
    assert small.loc[3, "amount"] != large.loc[3, "amount"]  # CIFAR-10-C vs ImageNet-C table


def test_ood_summary_of_separated_logits():
    logits_in = np.array([[9.0, 0.0], [0.0, 8.0], [7.0, 0.0]])
    logits_out = np.array([[0.1, 0.0], [0.0, 0.2], [0.3, 0.3]])
    table = detection_table(ood.scores(logits_in), ood.scores(logits_out))
    assert table.index.tolist() == list(OOD_SCORES)
    assert (table["auroc"] == 1.0).all() and (table["fpr_at_95_tpr"] == 0.0).all()


def test_predict_resizes_to_the_model():
    loaded = load_model("resnet20", None, device="cpu")
    model = loaded.model
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_allclose(predict(loaded, images), predict_logits(model, model_inputs(images, 32)))
