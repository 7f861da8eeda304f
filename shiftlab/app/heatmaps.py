"""Attribution maps as pictures: normalisation, matplotlib colour maps, overlays on the image.

Attribution maps have arbitrary units and often a few extreme pixels, so a
map is first rescaled to [0, 1] between its minimum and a high percentile
(values above are clipped) — of the map alone, or of several maps together
when they must share one colour scale — then coloured with a matplotlib colour map. An
overlay blends the colour into the image with an opacity that grows with
the value: unimportant regions show the image untouched.

A signed map (Integrated Gradients: evidence for and against the class) is
drawn on a diverging scale instead: symmetric limits ±(a high percentile of
|map|), zero in the middle shown as no colour, positive red, negative blue,
the opacity growing with the magnitude either way.
"""

from __future__ import annotations

import io
from functools import lru_cache

import matplotlib
import numpy as np

from shiftlab.attribution.wavelets import bands

#: perceptually uniform, dark = unimportant, bright = important
CMAP = "inferno"
#: for signed maps: blue = against the class, white = 0, red = for it
DIVERGING_CMAP = "RdBu_r"
#: values above this percentile of a map are shown at full colour
UPPER_PERCENTILE = 99.0
#: opacity of the colour where the map is at its maximum
OPACITY = 0.7
#: colour bars kept drawn (a few kB each)
COLOUR_BARS_KEPT = 512


def map_limits(maps: np.ndarray, upper_percentile: float = UPPER_PERCENTILE, signed: bool = False
               ) -> tuple[float, float]:
    """The (low, high) values shown as dark and full colour: the minimum and a high percentile of ``maps``.

    Computed over every map given, so that maps rescaled with the same limits
    share one colour scale. When the percentile equals the minimum the maximum
    is used; a constant input gives low == high. ``signed`` gives symmetric
    limits (-a, a), a the percentile of the magnitudes (their maximum when that is 0).
    """
    values = np.asarray(maps, dtype=np.float64)
    if signed:
        magnitude = np.abs(values)
        high = float(np.percentile(magnitude, upper_percentile)) or float(magnitude.max())
        return -high, high
    low, high = float(values.min()), float(np.percentile(values, upper_percentile))
    return low, high if high > low else float(values.max())


def cmap_for(signed: bool) -> str:
    """The colour map of a signed (diverging) or unsigned (sequential) map."""
    return DIVERGING_CMAP if signed else CMAP


def normalize(attribution_map: np.ndarray, limits: tuple[float, float] | None = None) -> np.ndarray:
    """Rescale to [0, 1] between ``limits`` (default: the map's own ``map_limits``), clipping outside.

    A constant map (no pixel more important than another) becomes all zeros:
    it is shown dark, not stretched into a structure that is not there.
    """
    values = np.asarray(attribution_map, dtype=np.float64)
    low, high = limits if limits is not None else map_limits(values)
    if high <= low:
        return np.zeros_like(values)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def to_rgba(values: np.ndarray, cmap: str = CMAP, opacity: float = OPACITY, signed: bool = False) -> np.ndarray:
    """[0, 1] values -> uint8 H×W×4 colours of ``cmap`` whose alpha is ``opacity`` × value (× the distance from
    the middle, 0.5, for a signed map: zero is transparent)."""
    values = np.asarray(values)
    rgba = matplotlib.colormaps[cmap](values, bytes=True)
    strength = np.abs(2 * values - 1) if signed else values
    rgba[..., 3] = np.round(opacity * strength * 255)
    return rgba


def colorize(attribution_map: np.ndarray, limits: tuple[float, float] | None = None, signed: bool = False
             ) -> np.ndarray:
    """The normalised map in its scale's colours (diverging when ``signed``), opaque: uint8 H×W×3."""
    limits = limits if limits is not None else map_limits(attribution_map, signed=signed)
    return matplotlib.colormaps[cmap_for(signed)](normalize(attribution_map, limits), bytes=True)[..., :3]


def overlay(image: np.ndarray, attribution_map: np.ndarray, limits: tuple[float, float] | None = None,
            signed: bool = False, opacity: float = OPACITY) -> np.ndarray:
    """uint8 H×W×3 ``image`` with the normalised map's colours alpha-composited on top (same H×W); a ``signed``
    map on the diverging scale, its own symmetric limits unless ``limits`` are given."""
    if image.shape[:2] != np.shape(attribution_map):
        raise ValueError(f"image {image.shape[:2]} and map {np.shape(attribution_map)} differ in size")
    limits = limits if limits is not None else map_limits(attribution_map, signed=signed)
    layer = to_rgba(normalize(attribution_map, limits), cmap_for(signed), opacity, signed).astype(np.float64) / 255.0
    alpha = layer[..., 3:]
    blended = (1.0 - alpha) * image.astype(np.float64) / 255.0 + alpha * layer[..., :3]
    return np.round(blended * 255).astype(np.uint8)


def outline_bands(picture: np.ndarray, levels: int, colour: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """A copy of a (possibly enlarged) picture of a square dyadic wavelet array with each sub-band outlined.

    ``picture`` is S·f × S·f × 3 for an S×S dyadic array enlarged f times; the
    outlines follow ``shiftlab.attribution.wavelets.bands`` and so the layout of
    ``wavelet_map`` (approximation top-left, then h, v, d details coarse to fine).
    """
    out = picture.copy()
    side = out.shape[0]
    for band in bands(side, levels):
        rows, cols = band.rows, band.cols
        out[rows.start, cols] = colour
        out[rows.stop - 1, cols] = colour
        out[rows, cols.start] = colour
        out[rows, cols.stop - 1] = colour
    return out


@lru_cache(maxsize=COLOUR_BARS_KEPT)
def colour_bar(limits: tuple[float, float], width: int = 260, signed: bool = False) -> bytes:
    """A horizontal colour bar from ``limits[0]`` (dark) to ``limits[1]`` (full colour), as PNG bytes with ticks
    at both ends and the middle; a ``signed`` scale's bar is diverging, its middle tick at 0.

    Kept for the next page that asks (a bar costs 20-60 ms of matplotlib; a class of sessions on one view asks
    for the same few again and again)."""
    from matplotlib.figure import Figure  # lazy: the figure machinery costs ~0.3 s to import

    figure = Figure(figsize=(width / 100, 0.8), dpi=100)
    axes = figure.add_axes((0.08, 0.5, 0.84, 0.42))  # room for the end ticks' labels
    low, high = limits
    high = high if high > low else low + 1
    axes.imshow(np.linspace(0, 1, 256)[None], aspect="auto", cmap=cmap_for(signed), extent=(low, high, 0, 1))
    axes.set_yticks([])
    axes.tick_params(axis="x", labelsize=10, length=3, pad=2)
    # three ticks (both ends, and 0 or the middle), the end labels aligned inwards: a bar as narrow as a map
    # shown three across (130 px) keeps them apart and uncut
    middle = 0.0 if signed else (low + high) / 2
    labels = [f"{value:.2g}" if abs(value) > 1e-3 * (high - low) else "0" for value in (low, middle, high)]
    axes.set_xticks([low, middle, high], labels=labels)
    ends = axes.get_xticklabels()
    ends[0].set_horizontalalignment("left")
    ends[-1].set_horizontalalignment("right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
