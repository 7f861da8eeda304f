"""Colour conversions on N×3×H×W RGB tensors in [0, 1]: HSV (as scikit-image defines it) and luma."""

from __future__ import annotations

import torch

#: ITU-R BT.601 luma weights, the ones cv2.COLOR_RGB2GRAY uses
LUMA = (0.299, 0.587, 0.114)


def luma(x: torch.Tensor) -> torch.Tensor:
    """N×1×H×W grey level of an RGB batch."""
    return LUMA[0] * x[:, 0:1] + LUMA[1] * x[:, 1:2] + LUMA[2] * x[:, 2:3]


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """RGB -> HSV, all channels in [0, 1], hue 0 for greys (``skimage.color.rgb2hsv``'s convention)."""
    r, g, b = x.unbind(1)
    value, argmax = x.max(dim=1)
    delta = value - x.min(dim=1).values
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = torch.stack([(g - b) / safe, 2 + (b - r) / safe, 4 + (r - g) / safe], dim=1)
    hue = hue.gather(1, argmax.unsqueeze(1)).squeeze(1)
    hue = torch.where(delta > 0, (hue / 6) % 1.0, torch.zeros_like(hue))
    sat = torch.where(value > 0, delta / torch.where(value > 0, value, torch.ones_like(value)), torch.zeros_like(value))
    return torch.stack([hue, sat, value], dim=1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """HSV -> RGB, the inverse of ``rgb_to_hsv`` (``skimage.color.hsv2rgb``'s sector formulas)."""
    h, s, v = x.unbind(1)
    sector = torch.floor(h * 6)
    f = h * 6 - sector
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    sector = sector.long().remainder(6).unsqueeze(1)
    # rows: sector 0..5; columns: the (r, g, b) source of each sector
    choices = torch.stack([v, q, p, p, t, v, t, v, v, q, p, p, p, p, t, v, v, q], dim=1)
    r = choices[:, 0:6].gather(1, sector)
    g = choices[:, 6:12].gather(1, sector)
    b = choices[:, 12:18].gather(1, sector)
    return torch.cat([r, g, b], dim=1)
