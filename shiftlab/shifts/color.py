"""Colour conversions on N×3×H×W RGB tensors in [0, 1]: HSV (as scikit-image defines it) and luma."""

from __future__ import annotations

import torch

#: ITU-R BT.601 luma weights, the ones cv2.COLOR_RGB2GRAY uses
LUMA = (0.299, 0.587, 0.114)


def luma(x: torch.Tensor) -> torch.Tensor:
    """N×1×H×W grey level of an RGB batch."""
    return LUMA[0] * x[:, 0:1] + LUMA[1] * x[:, 1:2] + LUMA[2] * x[:, 2:3]


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """RGB -> HSV, all channels in [0, 1], hue 0 for greys (``skimage.color.rgb2hsv``'s convention).

    Only the hue formula of each pixel's largest channel is evaluated: its channel difference is picked first,
    then divided, then offset by 0, 2 or 4 (adding 0 changes no value), which gives skimage's values with
    fewer passes than evaluating all three formulas and picking one.
    """
    r, g, b = x.unbind(1)
    value, argmax = x.max(dim=1)
    delta = value - x.amin(dim=1)
    coloured = delta > 0
    diff = torch.where(argmax == 0, g - b, torch.where(argmax == 1, b - r, r - g))
    hue = diff / torch.where(coloured, delta, 1.0) + 2 * argmax
    hue = torch.where(coloured, (hue / 6) % 1.0, 0.0)
    lit = value > 0
    sat = torch.where(lit, delta / torch.where(lit, value, 1.0), 0.0)
    return torch.stack([hue, sat, value], dim=1)


#: per hue sector 0..5, where its (r, g, b) come from among (v, q, p, t) of ``hsv_to_rgb``
_SECTOR_SOURCES = torch.tensor([[0, 3, 2], [1, 0, 2], [2, 0, 3], [2, 1, 0], [3, 2, 0], [0, 2, 1]])


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """HSV -> RGB, the inverse of ``rgb_to_hsv`` (``skimage.color.hsv2rgb``'s sector formulas).

    Each pixel's (r, g, b) are gathered from the four values v, q, p, t by its sector, instead of from a stack of
    the 18 (sector, channel) choices: the same values, a quarter of the memory traffic.
    """
    h, s, v = x.unbind(1)
    h6 = h * 6
    sector = torch.floor(h6)
    f = h6 - sector
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    sources = _SECTOR_SOURCES.to(x.device).index_select(0, sector.long().remainder_(6).flatten())
    return torch.stack([v, q, p, t], dim=1).gather(1, sources.view(*h.shape, 3).permute(0, 3, 1, 2))
