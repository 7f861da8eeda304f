"""Colour conversions on N×3×H×W RGB tensors in [0, 1]: HSV (as scikit-image defines it) and luma."""

from __future__ import annotations

import torch

#: ITU-R BT.601 luma weights, the ones cv2.COLOR_RGB2GRAY uses
LUMA = (0.299, 0.587, 0.114)


def luma(x: torch.Tensor) -> torch.Tensor:
    """N×1×H×W grey level of an RGB batch."""
    return (LUMA[0] * x[:, 0:1]).add_(LUMA[1] * x[:, 1:2]).add_(LUMA[2] * x[:, 2:3])


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """RGB -> HSV, all channels in [0, 1], hue 0 for greys (``skimage.color.rgb2hsv``'s convention).

    Only the hue formula of each pixel's largest channel is evaluated: its channel difference is picked first,
    then divided, then offset by 0, 2 or 4 (adding 0 changes no value), which gives skimage's values with
    fewer passes than evaluating all three formulas and picking one. The largest channel is the first one
    equal to the maximum (the channel ``max(dim=1)`` would name), found by two comparisons with elementwise
    maxima: fewer passes over the planes than a reduction across the channel axis.
    """
    r, g, b = x.unbind(1)
    value = torch.maximum(torch.maximum(r, g), b)
    delta = value - torch.minimum(torch.minimum(r, g), b)
    red, green = r == value, g == value
    diff = torch.where(red, g - b, torch.where(green, b - r, r - g))
    offset = torch.where(red, 0.0, torch.where(green, 2.0, 4.0))
    coloured = delta > 0
    hue = diff.div_(torch.where(coloured, delta, 1.0)).add_(offset)
    hue = torch.where(coloured, hue.div_(6).remainder_(1.0), 0.0)
    lit = value > 0
    sat = torch.where(lit, delta / torch.where(lit, value, 1.0), 0.0)
    return torch.stack([hue, sat, value], dim=1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """HSV -> RGB, the inverse of ``rgb_to_hsv`` (``skimage.color.hsv2rgb``'s sector formulas).

    Each channel is one of v, q, p, t by the pixel's hue sector (0..5); it is picked by comparisons with the
    sector and ``where``, which moves less memory than gathering from a stack of the four by an index tensor.
    """
    h, s, v = x.unbind(1)
    h6 = h * 6
    sector = torch.floor(h6)
    f = h6 - sector
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    sector.remainder_(6)
    at = [sector == k for k in range(6)]
    red = torch.where(at[1], q, torch.where(at[4], t, torch.where(at[2] | at[3], p, v)))
    green = torch.where(at[0], t, torch.where(at[3], q, torch.where(at[1] | at[2], v, p)))
    blue = torch.where(at[2], t, torch.where(at[5], q, torch.where(at[3] | at[4], v, p)))
    return torch.stack([red, green, blue], dim=1)
