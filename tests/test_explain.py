"""Explaining a (source, shifted) pair: method notes and options, image pairs, shared targets, drift."""

from __future__ import annotations

import numpy as np
import pytest

from shiftlab.app.explain import (
    explain_pair,
    image_pair,
    method_options,
    options_text,
    prediction_text,
    refined,
)
from shiftlab.app.text import DRIFT_MEASURES, METHOD_NOTES, METHOD_TITLES
from shiftlab.attribution import METHODS, list_methods
from shiftlab.data import load_dataset
from shiftlab.metrics import drift_report
from shiftlab.models import LoadedModel, load_model
from shiftlab.shifts import apply


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model("resnet20", None, device="cpu")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return load_dataset("cifar10-sample").images[0]


def test_every_method_has_a_note():
    assert set(METHOD_NOTES) == set(list_methods())


def test_the_pages_method_titles_and_notes_are_those_the_methods_carry():
    assert METHOD_TITLES == {name: method.title for name, method in METHODS.items()}
    assert METHOD_NOTES == {name: method.description for name, method in METHODS.items()}


def test_drift_measures_name_every_measure_of_the_report():
    maps = np.random.default_rng(0).random((1, 8, 8))
    assert set(DRIFT_MEASURES) == set(drift_report(maps, maps))


def test_method_options_layer_defaults_interactive_and_overrides():
    options = method_options("wcam", nb_design=64)
    assert options["nb_design"] == 64 and options["max_design"] == 256 and options["levels"] == 3
    assert "progress" not in options and "resume" not in options
    assert method_options("wcam", 224)["grid_size"] == 16 and method_options("wcam", 224)["nb_design"] == 4
    assert method_options("integrated_gradients")["n_steps"] == 16
    assert method_options("saliency") == {}
    assert "progress" not in method_options("wcam", 224) and method_options("wam", 224) == method_options("wam")
    assert refined(options, 64)["nb_design"] == 128 == refined(options, 64)["max_design"]
    assert options_text({}) == "No options."
    assert options_text({"layer": None, "n_steps": 50}) == "Options: layer=default, n_steps=50"


def test_prediction_text():
    logits = np.log(np.array([0.7, 0.2, 0.1]))
    assert prediction_text(logits, ["cat", "dog", "frog"], k=2) == "**cat** 70% · dog 20%"


def test_image_pair_shifts_at_the_image_resolution(image):
    pair = image_pair(image, "gaussian_blur", 3, 0, 32)
    np.testing.assert_array_equal(pair[0], image)
    np.testing.assert_array_equal(pair[1], apply("gaussian_blur", image[None], 3, 0)[0])
    assert image_pair(image, "gaussian_blur", 3, 0, 64).shape == (2, 64, 64, 3)


def test_a_dataset_images_pair_is_its_shifted_copy_in_the_whole_set():
    """Compare, Variants, Spectral and Triptych shift a sample image from its offset in the set, so a case opened
    from Cases, Calibration or a sweep shows the pixels those were computed on."""
    images = load_dataset("cifar10-sample", limit=12).images
    whole = apply("gaussian_noise", images, 3, 0)
    np.testing.assert_array_equal(image_pair(images[9], "gaussian_noise", 3, 0, 32, offset=9)[1], whole[9])
    assert not np.array_equal(image_pair(images[9], "gaussian_noise", 3, 0, 32)[1], whole[9])


def test_identical_pair_has_no_drift(loaded, image):
    result = explain_pair(loaded, np.stack([image, image]), "saliency")
    assert result.drift["top_k_iou"] == pytest.approx(1.0)
    assert result.drift["pearson"] == pytest.approx(1.0) and result.drift["ssim"] == pytest.approx(1.0)
    assert result.logits.shape == (2, 10)


def test_same_target_explains_the_source_class_in_both(loaded, image):
    pair = image_pair(image, "invert", 5, 0, 32)
    result = explain_pair(loaded, pair, "gradcam", same_target=True)
    assert result.attribution.target.tolist() == [result.logits[0].argmax()] * 2
    own = explain_pair(loaded, pair, "gradcam", same_target=False)
    assert own.attribution.target.tolist() == result.logits.argmax(1).tolist()
