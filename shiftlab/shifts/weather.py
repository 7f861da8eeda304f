"""Weather corruptions: snow, frost and fog (brightness, also "weather" in ImageNet-C, is in ``digital``).

Formulas after Hendrycks & Dietterich's make_cifar_c.py / make_imagenet_c.py
(parameters in ``params``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from shiftlab.shifts.batch import to_levels
from shiftlab.shifts.blur import motion_blur_layer
from shiftlab.shifts.color import luma
from shiftlab.shifts.frost import scaled_bank
from shiftlab.shifts.plasma import plasma
from shiftlab.shifts.resample import resample, zoom_op
from shiftlab.shifts.shift import Context


def _snow_layer(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """N×1×H×W flakes: thresholded Gaussian noise, zoomed, stored as 8 bits, motion-blurred downwards."""
    h, w = x.shape[-2:]
    layer = ctx.draw(lambda g, i: g.normal(p["mean"], p["std"], (1, h, w)), part=0)
    layer = resample(layer, zoom_op(h, float(p["zoom"]), x.device), zoom_op(w, float(p["zoom"]), x.device))
    layer = to_levels(torch.where(layer < p["threshold"], torch.zeros_like(layer), layer))
    angles = ctx.values(lambda g, i: g.uniform(-135, -45), part=1)
    layer = motion_blur_layer(layer, p["radius"], p["sigma"], angles)
    return layer.clamp(0, 1).mul_(255).round_().div_(255)


def snow(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Falling snow: the scene whitened towards 1.5·grey + 0.5, plus a flake layer and its 180° rotation.

    The sums are formed in place in the first term's buffer, in the formula's order: the same values.
    """
    layer = _snow_layer(x, p, ctx)
    blend = p["blend"]
    whitened = torch.maximum(x, luma(x).mul_(1.5).add_(0.5)).mul_(1 - blend)
    return (blend * x).add_(whitened).add_(layer).add_(layer.flip(-1, -2))


def frost(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Frosted lens: ``image_weight``·x + ``frost_weight``·a random crop of a frost texture (see ``frost``)."""
    n, _, h, w = x.shape
    bank = scaled_bank(float(p["texture_scale"]), max(h, w), x.device)
    side = bank.shape[-1]
    picks = ctx.values(lambda g, i: (g.integers(len(bank)), g.integers(side - h), g.integers(side - w)))
    picks = torch.from_numpy(picks).to(x.device)
    rows = picks[:, 1:2] + torch.arange(h, device=x.device)
    cols = picks[:, 2:3] + torch.arange(w, device=x.device)
    crops = bank[picks[:, 0, None, None], :, rows[:, :, None], cols[:, None, :]]  # N×h×w×3
    return (p["image_weight"] * x).add_(p["frost_weight"] * crops.permute(0, 3, 1, 2))


def fog(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Fog: a plasma fractal of ``amount`` added, then the range rescaled by max/(max + amount) (per image)."""
    h, w = x.shape[-2:]
    size = 1 << (max(h, w) - 1).bit_length()  # next power of two: 32 for CIFAR, 256 for ImageNet as in the references
    layer = plasma(ctx, size, float(p["decay"]), x.device)[:, None, :h, :w]
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x + p["amount"] * layer).mul_(peak).div_(peak + p["amount"])
