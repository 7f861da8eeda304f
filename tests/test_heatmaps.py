"""Heat-map pictures and thumbnails: normalisation, colours, overlays, band outlines, enlargement."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest

from shiftlab.app.heatmaps import CMAP, colorize, colour_bar, map_limits, normalize, outline_bands, overlay, to_rgba
from shiftlab.app.thumbnails import display_factor, enlarge, side_by_side


def test_normalize_clips_at_the_percentile():
    values = np.arange(101, dtype=float)  # the 99th percentile of 0..100 is 99
    assert map_limits(values, upper_percentile=99) == (0.0, 99.0)
    out = normalize(values, map_limits(values, upper_percentile=99))
    assert out[0] == 0 and out[99] == 1 and out[100] == 1
    assert out[33] == pytest.approx(33 / 99)


def test_shared_limits_keep_a_weak_map_dark():
    strong, weak = np.linspace(0, 10, 101), np.linspace(0, 1, 101)
    limits = map_limits(np.stack([strong, weak]))
    assert limits == (0.0, pytest.approx(np.percentile(np.concatenate([strong, weak]), 99)))
    assert normalize(weak, limits).max() < 0.2 and normalize(weak).max() == 1.0  # own scale stretches it


def test_colour_bar_is_a_png():
    assert colour_bar((0.0, 2.5)).startswith(b"\x89PNG")
    assert colour_bar((1.0, 1.0)).startswith(b"\x89PNG")  # a constant map still gets a bar


def test_normalize_constant_and_outlier_maps():
    assert not normalize(np.full((4, 4), 3.0)).any()
    spike = np.zeros(10)
    spike[3] = 5.0  # percentile 99 of nine zeros and one 5 is below 5 but above 0
    assert normalize(spike)[3] == 1.0


def test_to_rgba_uses_the_colour_map_and_value_as_alpha():
    rgba = to_rgba(np.array([[0.0, 1.0]]), opacity=0.5)
    expected = matplotlib.colormaps[CMAP](1.0, bytes=True)
    assert tuple(rgba[0, 1, :3]) == tuple(expected[:3])
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == 128  # 0.5 · 255 rounded


def test_overlay_leaves_unimportant_pixels_untouched():
    image = np.full((2, 2, 3), 100, np.uint8)
    attribution = np.array([[0.0, 0.0], [0.0, 1.0]])
    out = overlay(image, attribution, opacity=1.0)
    np.testing.assert_array_equal(out[0, 0], [100, 100, 100])
    np.testing.assert_array_equal(out[1, 1], matplotlib.colormaps[CMAP](1.0, bytes=True)[:3])
    with pytest.raises(ValueError, match="differ in size"):
        overlay(image, np.zeros((3, 3)))


def test_colorize_is_opaque_rgb():
    out = colorize(np.random.default_rng(0).random((8, 8)))
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8


def test_outline_bands_draws_the_band_borders():
    picture = np.zeros((8, 8, 3), np.uint8)
    out = outline_bands(picture, levels=1)  # four 4×4 bands
    assert (out[0, :] == 255).all() and (out[:, 3] == 255).all() and (out[4, :] == 255).all()
    assert (out[1:3, 1:3] == 0).all() and (out[5:7, 5:7] == 0).all()
    assert not picture.any()  # the input is not modified


def test_thumbnails():
    assert display_factor(32, 192) == 6 and display_factor(224, 192) == 1
    image = np.array([[[1, 1, 1], [2, 2, 2]]], np.uint8)  # 1×2
    big = enlarge(image, 3)
    assert big.shape == (3, 6, 3) and (big[:, :3] == 1).all() and (big[:, 3:] == 2).all()
    pair = side_by_side(image, image, gap=2)
    assert pair.shape == (1, 6, 3) and (pair[0, 2:4] == 255).all()
    with pytest.raises(ValueError, match="same height"):
        side_by_side(image, np.zeros((2, 2, 3), np.uint8))


def test_a_signed_map_gets_symmetric_limits_and_a_transparent_zero():
    from shiftlab.app.heatmaps import DIVERGING_CMAP, cmap_for

    signed = np.array([[-2.0, -1.0], [0.0, 4.0]])
    low, high = map_limits(signed, upper_percentile=100, signed=True)
    assert (low, high) == (-4.0, 4.0)
    values = normalize(signed, (low, high))
    np.testing.assert_allclose(values, [[0.25, 0.375], [0.5, 1.0]])  # zero sits in the middle of the scale
    alpha = to_rgba(values, cmap_for(True), opacity=1.0, signed=True)[..., 3]
    assert alpha[1, 0] == 0 and alpha[1, 1] == 255 and alpha[0, 0] == round(0.5 * 255)
    assert cmap_for(True) == DIVERGING_CMAP and map_limits(np.zeros((2, 2)), signed=True) == (-0.0, 0.0)


def test_only_integrated_gradients_is_signed():
    from shiftlab.attribution import METHODS

    assert [name for name, method in METHODS.items() if method.signed] == ["integrated_gradients"]


def test_a_signed_colour_bar_shows_zero():
    from PIL import Image

    picture = np.asarray(Image.open(io.BytesIO(colour_bar((-3.0, 3.0), signed=True))).convert("RGB"))
    middle = picture[int(picture.shape[0] * 0.3), picture.shape[1] // 2]
    assert middle.min() > 230  # white at zero on the diverging bar
