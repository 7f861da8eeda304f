"""Attribution maps as pictures: normalisation, matplotlib colour maps, overlays on the image.

Attribution maps have arbitrary units and often a few extreme pixels, so a
map is first rescaled to [0, 1] between its minimum and a high percentile
(values above are clipped), then coloured with a matplotlib colour map. An
overlay blends the colour into the image with an opacity that grows with
the value: unimportant regions show the image untouched.
"""

from __future__ import annotations

import matplotlib
import numpy as np

from shiftlab.attribution.wavelets import bands

#: perceptually uniform, dark = unimportant, bright = important
CMAP = "inferno"
#: values above this percentile of a map are shown at full colour
UPPER_PERCENTILE = 99.0
#: opacity of the colour where the map is at its maximum
OPACITY = 0.7


def normalize(attribution_map: np.ndarray, upper_percentile: float = UPPER_PERCENTILE) -> np.ndarray:
    """Rescale to [0, 1]: the minimum to 0, the ``upper_percentile``-th percentile and above to 1.

    A constant map (no pixel more important than another) becomes all zeros.
    """
    values = np.asarray(attribution_map, dtype=np.float64)
    low, high = values.min(), np.percentile(values, upper_percentile)
    if high <= low:
        high = values.max()
    if high <= low:
        return np.zeros_like(values)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def to_rgba(values: np.ndarray, cmap: str = CMAP, opacity: float = OPACITY) -> np.ndarray:
    """[0, 1] values -> uint8 H×W×4 colours of ``cmap`` whose alpha is ``opacity`` × value."""
    rgba = matplotlib.colormaps[cmap](values, bytes=True)
    rgba[..., 3] = np.round(opacity * np.asarray(values) * 255)
    return rgba


def colorize(attribution_map: np.ndarray, cmap: str = CMAP) -> np.ndarray:
    """The normalised map in ``cmap`` colours, opaque: uint8 H×W×3."""
    return matplotlib.colormaps[cmap](normalize(attribution_map), bytes=True)[..., :3]


def overlay(image: np.ndarray, attribution_map: np.ndarray, cmap: str = CMAP, opacity: float = OPACITY) -> np.ndarray:
    """uint8 H×W×3 ``image`` with the normalised map's colours alpha-composited on top (same H×W)."""
    if image.shape[:2] != np.shape(attribution_map):
        raise ValueError(f"image {image.shape[:2]} and map {np.shape(attribution_map)} differ in size")
    layer = to_rgba(normalize(attribution_map), cmap, opacity).astype(np.float64) / 255.0
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
