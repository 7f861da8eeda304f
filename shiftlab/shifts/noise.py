"""Noise corruptions: Gaussian, shot (Poisson), impulse (salt and pepper) and speckle noise.

Formulas after Hendrycks & Dietterich's make_cifar_c.py / make_imagenet_c.py
(parameters in ``params``); the random fields come from ``Context.draw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from shiftlab.shifts.shift import Context


def _normal(x: torch.Tensor, ctx: Context) -> torch.Tensor:
    shape = x.shape[1:]
    return ctx.draw(lambda g, i: g.standard_normal(shape, dtype=np.float32))


def gaussian_noise(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Add N(0, sigma²) to every channel value (scaled and added in the noise's own buffer: the same values)."""
    return _normal(x, ctx).mul_(p["sigma"]).add_(x)


def speckle_noise(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Multiplicative noise: x + x·N(0, sigma²) (in the noise's own buffer: the same values)."""
    return _normal(x, ctx).mul_(x * p["sigma"]).add_(x)


def shot_noise(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Photon noise: Poisson(x·rate)/rate; a lower rate is noisier.

    Each image's counts become float32 on its own thread, as they are drawn (exact: counts stay far below 2²⁴).
    """
    rate = p["rate"]
    lam = (x.double() * rate).cpu().numpy()
    return ctx.draw(lambda g, i: g.poisson(lam[i]).astype(np.float32)).div_(rate)


def impulse_noise(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Salt and pepper: each channel value becomes 0 or 1 (even odds) with probability ``amount``
    (``skimage.util.random_noise(mode="s&p")``)."""
    shape = x.shape[1:]
    hit = ctx.draw(lambda g, i: g.random(shape, dtype=np.float32), part=0) < p["amount"]
    salt = ctx.draw(lambda g, i: g.random(shape, dtype=np.float32), part=1) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)
