"""The app from its entry point: the home page with the zoo, a prediction and the guided tour, with no network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from shiftlab.app import charts, pieces
from shiftlab.app.tour import STEPS, TOUR_SEVERITY, TOUR_SHIFTS, find_preset
from shiftlab.data import load_dataset
from shiftlab.inference import predict_logits, top_k
from shiftlab.models import load_model
from shiftlab.shifts import apply
from shiftlab.sweep.ship import ATTRIBUTION_SEVERITY, ATTRIBUTION_SHIFTS, TOUR_IMAGE
from shiftlab.zoo.tables import zoo_rows

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def home() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and not at.error
    return at


def test_home_shows_the_zoo_from_the_cards(home):
    assert home.title[0].value == "shiftlab"
    zoo = home.dataframe[0].value
    cards = {(r.model, r.variant): r.accuracy for r in zoo_rows() if r.accuracy is not None}
    shown = {(r.model, r.variant): r.accuracy for r in zoo.itertuples()}
    assert shown == {key: 100 * value for key, value in cards.items()}  # percent, from the cards
    assert any("efficientnet_lite0/baseline" in md.value for md in home.markdown)


def test_home_top5_bars_are_the_models_and_labelled_with_their_values(home):
    sample = load_dataset("cifar10-sample")
    loaded = load_model("resnet20", "baseline")
    expected = top_k(predict_logits(loaded.model, sample.images[:1])[0], list(sample.classes), 5)
    assert pieces.top_k(loaded, sample.images[0]) == expected
    spec = charts.top_k_chart(expected).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "text"]
    assert spec["layer"][1]["encoding"]["text"]["format"] == ".1%"
    assert len(home.get("vega_lite_chart")) == 1


def test_switching_to_efficientnet_shows_a_photo(home):
    home.sidebar.selectbox(key="view.home.model").select(("efficientnet_lite0", "baseline")).run()
    assert not home.exception and not home.error
    image = home.query_params["image"]
    assert (image[0] if isinstance(image, list) else image) == "photo:coffee"


def test_tour_preset_is_where_the_baseline_flips_and_augmix_holds():
    sample = load_dataset("cifar10-sample")
    models = {v: load_model("resnet20", v).model for v in ("baseline", "augmix")}
    clean = {v: predict_logits(m, sample.images) for v, m in models.items()}
    shifted = {s: {v: predict_logits(m, apply(s, sample.images, TOUR_SEVERITY, 0)) for v, m in models.items()}
               for s in TOUR_SHIFTS}
    preset = find_preset(sample.labels, clean, shifted)
    assert preset is not None
    label = sample.labels[preset.index]
    assert clean["baseline"][preset.index].argmax() == label
    assert shifted[preset.shift]["baseline"][preset.index].argmax() != label
    assert shifted[preset.shift]["augmix"][preset.index].argmax() == label
    assert preset.index == TOUR_IMAGE and preset.shift in ATTRIBUTION_SHIFTS  # the tour's maps are in the store
    assert str(TOUR_SEVERITY) == ATTRIBUTION_SEVERITY


def test_find_preset_picks_the_largest_drop_by_hand():
    labels = np.array([0, 1])
    clean = {"baseline": np.log([[0.9, 0.1], [0.2, 0.8]]), "augmix": np.log([[0.8, 0.2], [0.3, 0.7]])}
    shifted = {"fog": {"baseline": np.log([[0.4, 0.6], [0.6, 0.4]]), "augmix": np.log([[0.7, 0.3], [0.4, 0.6]])},
               "noise": {"baseline": np.log([[0.2, 0.8], [0.1, 0.9]]), "augmix": np.log([[0.3, 0.7], [0.2, 0.8]])}}
    preset = find_preset(labels, clean, shifted)  # fog: image 0 drops 0.5, image 1 drops 0.4; noise: augmix fails 0
    assert (preset.index, preset.shift, round(preset.drop, 6)) == (0, "fog", 0.5)
    assert find_preset(labels, clean, {"noise": {**shifted["noise"], "augmix": shifted["noise"]["baseline"]}}) is None


def test_the_tour_visits_the_five_pages_in_order():
    assert [step.page for step in STEPS] == ["compare", "variants", "triptych", "calibration", "spectral", "trust"]
