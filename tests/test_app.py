"""The app from its entry point: the home page with the zoo and a prediction, with no network (the tour: test_tour)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from shiftlab.app import charts, pieces
from shiftlab.data import load_dataset
from shiftlab.inference import predict_logits, top_k
from shiftlab.models import load_model
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
