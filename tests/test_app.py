"""The app (home page first) renders with the shipped zoo and shows a prediction, with no network."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from shiftlab.zoo.tables import zoo_rows

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_landing_page_renders_zoo_and_prediction():
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "shiftlab"
    zoo = at.dataframe[0].value
    assert "resnet20" in set(zoo["model"]) and zoo["accuracy"].notna().all()
    cards = {(r["model"], r["variant"]): r["accuracy"] for r in zoo_rows() if r["accuracy"] is not None}
    shown = {(r.model, r.variant): r.accuracy for r in zoo.itertuples()}
    assert shown == {key: 100 * value for key, value in cards.items()}  # percent, from the cards
    assert any("efficientnet_lite0/baseline" in md.value for md in at.markdown)
    assert len(at.get("vega_lite_chart")) == 1


def test_switching_to_efficientnet_resizes_the_sample():
    at = AppTest.from_file(APP, default_timeout=120).run()
    box = at.selectbox[0]
    index = next(i for i, label in enumerate(box.options) if label.startswith("efficientnet_lite0"))
    box.select_index(index).run()
    assert not at.exception and not at.error
