"""Signed maps through the pages: Integrated Gradients on a diverging scale with symmetric limits (0 in the middle
of its colour bar), its magnitude on the sequential scale behind the "Show |attribution|" switch, and a colour bar
for every map, one per map when each has its own scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from shiftlab.app import compare, pieces
from shiftlab.app.explain import explain_pair, image_pair, method_options
from shiftlab.data import load_dataset
from shiftlab.models import load_model

PAGES = Path(__file__).resolve().parents[1] / "app_pages"
EXAMPLE = {"arch": "resnet20", "variant": "baseline", "image": "cifar10-sample:37", "shift": "fog", "severity": "3",
           "seed": "0"}


@pytest.fixture()
def drawn(monkeypatch):
    """Every colour bar the pages draw as (limits, signed), and every map overlaid as (limits, signed)."""
    bars, maps = [], []
    bar, overlay = pieces.colour_bar, compare.overlay
    monkeypatch.delenv("SHIFTLAB_CHECKPOINTS", raising=False)
    monkeypatch.setattr(pieces, "colour_bar", lambda limits, *a, signed=False: bars.append((limits, signed))
                        or bar(limits, *a, signed=signed))
    monkeypatch.setattr(compare, "overlay", lambda image, m, limits, signed=False: maps.append((limits, signed))
                        or overlay(image, m, limits, signed=signed))
    return bars, maps


def run(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=300)
    at.query_params.update({**EXAMPLE, **query})
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    return at


def test_integrated_gradients_is_drawn_on_symmetric_limits_with_a_bar_showing_zero(drawn):
    bars, maps = drawn
    at = run("compare", methods="integrated_gradients")
    sample = load_dataset("cifar10-sample")
    pair = image_pair(sample.images[37], "fog", 3, 0, 32, offset=37)
    expected = explain_pair(load_model("resnet20", "baseline"), pair, "integrated_gradients", True,
                            **method_options("integrated_gradients")).attribution.maps
    high = np.percentile(np.abs(expected), 99)
    assert [signed for _, signed in maps] == [True, True] and bars == [maps[0]]  # one scale, one bar, diverging
    low, top = bars[0][0]
    assert low == -top and top == pytest.approx(high, rel=0.02)
    bars.clear(), maps.clear()
    at.sidebar.toggle(key="absolute_maps").set_value(True).run()
    assert [signed for _, signed in maps] == [False, False] and bars[0][0][0] >= 0  # |attribution|: sequential


@pytest.mark.parametrize(("page", "toggle", "rows", "per_row"), [
    ("compare", "shared_scale", 3, 2), ("variants", "variants_shared", 1, 6), ("triptych", "triptych_shared", 1, 3)])
def test_every_map_has_a_colour_bar(drawn, page, toggle, rows, per_row):
    bars, maps = drawn
    at = run(page, methods="saliency,gradcam,integrated_gradients")
    assert (len(maps), len(bars)) == (rows * per_row, rows)  # one scale per row: its bar
    bars.clear(), maps.clear()
    at.sidebar.toggle(key=toggle).set_value(False).run()
    assert len(bars) == len(maps) == rows * per_row  # each map on its own scale: a bar each
    assert bars == maps
