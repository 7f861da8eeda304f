"""Edits: geometric, photometric, occlusion, frequency-filter and amplitude-swap shifts.

Each severity maps to one documented parameter value (the ``params`` of each
``Shift``). The geometric edits fill uncovered pixels with black; the random
ones (flip, colour jitter, occlusion, the default amplitude-swap reference)
draw per image from ``Context``, the same draws at every severity, so a
stronger severity only moves the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from shiftlab.data import load_dataset
from shiftlab.shifts.color import hsv_to_rgb, luma, rgb_to_hsv
from shiftlab.shifts.resample import resize, sample_bilinear
from shiftlab.shifts.shift import Context, Shift, ShiftFunction, freeze


def _grid(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column coordinates of the pixels, relative to the image centre (1×H×W each)."""
    h, w = x.shape[-2:]
    rows = torch.arange(h, device=x.device, dtype=x.dtype).view(1, h, 1).expand(1, h, w) - (h - 1) / 2
    cols = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, w).expand(1, h, w) - (w - 1) / 2
    return rows, cols


def _warp(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Read each pixel from centre-relative source positions, bilinearly; outside reads black."""
    h, w = x.shape[-2:]
    source_rows = (rows + (h - 1) / 2).expand(len(x), -1, -1)
    source_cols = (cols + (w - 1) / 2).expand(len(x), -1, -1)
    return sample_bilinear(x, source_rows, source_cols, None)


def rotate(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Rotation by ``degrees`` clockwise (as displayed) about the centre."""
    rows, cols = _grid(x)
    a = math.radians(p["degrees"])
    return _warp(x, rows * math.cos(a) - cols * math.sin(a), rows * math.sin(a) + cols * math.cos(a))


def translate(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Shift right and down by ``fraction`` of the width and height."""
    h, w = x.shape[-2:]
    rows, cols = _grid(x)
    return _warp(x, rows - p["fraction"] * h, cols - p["fraction"] * w)


def zoom_crop(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """The central ``crop`` fraction of each side, enlarged back to the full size (bilinear)."""
    rows, cols = _grid(x)
    return _warp(x, rows * p["crop"], cols * p["crop"])


def flip(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """A seeded ``fraction`` of the images turned upside down (the same images at every lower fraction)."""
    chosen = ctx.draw(lambda g, i: g.random()) < p["fraction"]
    return torch.where(chosen.view(-1, 1, 1, 1), x.flip(-2), x)


def hue_shift(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Hue rotated by ``turn`` of the colour circle (HSV)."""
    hsv = rgb_to_hsv(x)
    hsv[:, 0] = (hsv[:, 0] + p["turn"]) % 1.0
    return hsv_to_rgb(hsv)


def grayscale(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Colour blended towards its BT.601 luma by ``amount`` (1: fully grey)."""
    return x + p["amount"] * (luma(x) - x)


def invert(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Solarise: channel values at or above ``threshold`` inverted (threshold 0: the negative)."""
    return torch.where(x >= p["threshold"], 1 - x, x)


def color_jitter(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Random brightness, contrast, saturation factors in 1 ± the severity's value, and hue ± ``hue`` (per image)."""
    u = ctx.draw(lambda g, i: g.uniform(-1, 1, 4)).view(-1, 4, 1, 1, 1)
    x = x * (1 + p["brightness"] * u[:, 0])
    grey = luma(x)
    x = (x - grey.mean(dim=(2, 3), keepdim=True)) * (1 + p["contrast"] * u[:, 1]) + grey.mean(dim=(2, 3), keepdim=True)
    x = luma(x) + (x - luma(x)) * (1 + p["saturation"] * u[:, 2])
    hsv = rgb_to_hsv(x.clamp(0, 1))
    hsv[:, 0] = (hsv[:, 0] + p["hue"] * u[:, 3, 0]) % 1.0
    return hsv_to_rgb(hsv)


def occlusion(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """A mid-grey square of ``side`` × the shorter side at a seeded position inside each image."""
    n, _, h, w = x.shape
    side = max(1, round(p["side"] * min(h, w)))
    corner = ctx.values(lambda g, i: g.random(2))
    top = torch.from_numpy(np.floor(corner[:, 0] * (h - side + 1))).to(x.device).view(n, 1, 1)
    left = torch.from_numpy(np.floor(corner[:, 1] * (w - side + 1))).to(x.device).view(n, 1, 1)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
    return torch.where(inside.unsqueeze(1), torch.full_like(x, 0.5), x)


def _radius(h: int, w: int, device: torch.device) -> torch.Tensor:
    """Frequency of each rfft2 coefficient as a fraction of the Nyquist frequency (0 at DC, 1 at the axes' edge)."""
    fy = torch.fft.fftfreq(h, device=device).view(-1, 1)
    fx = torch.fft.rfftfreq(w, device=device).view(1, -1)
    return torch.sqrt(fy**2 + fx**2) / 0.5


def lowpass(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Ideal Fourier low-pass: frequencies above ``radius`` × Nyquist removed."""
    h, w = x.shape[-2:]
    keep = _radius(h, w, x.device) <= p["radius"]
    return torch.fft.irfft2(torch.fft.rfft2(x) * keep, s=(h, w))


def highpass(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Ideal Fourier high-pass: frequencies up to ``radius`` × Nyquist removed, except the mean colour (DC)."""
    h, w = x.shape[-2:]
    r = _radius(h, w, x.device)
    keep = (r > p["radius"]) | (r == 0)
    return torch.fft.irfft2(torch.fft.rfft2(x) * keep, s=(h, w))


@lru_cache(maxsize=1)
def _reference_pool() -> np.ndarray:
    return load_dataset("cifar100-sample").images


def _default_reference(x: torch.Tensor, ctx: Context) -> torch.Tensor:
    """One seeded image of the embedded CIFAR-100 sample per position (resized by the caller)."""
    pool = _reference_pool()
    picks = ctx.values(lambda g, i: g.integers(len(pool)))
    return torch.from_numpy(pool[picks]).to(x.device).permute(0, 3, 1, 2).float() / 255


def amplitude_swap(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Fourier amplitude mixed towards a second image's by ``mix``, phase kept: the second image's "style"."""
    h, w = x.shape[-2:]
    ref = ctx.reference if ctx.reference is not None else _default_reference(x, ctx)
    ref = resize(ref, h, w).expand(len(x), -1, -1, -1)
    spectrum = torch.fft.rfft2(x)
    amplitude = torch.lerp(spectrum.abs(), torch.fft.rfft2(ref).abs(), p["mix"])
    return torch.fft.irfft2(torch.polar(amplitude, spectrum.angle()), s=(h, w))


def _table(key: str, values: list[float]) -> dict[int, dict[str, float]]:
    return {s: {key: v} for s, v in zip(range(1, 6), values)}


_JITTER = {s: {"brightness": 0.1 * s, "contrast": 0.1 * s, "saturation": 0.1 * s, "hue": 0.02 * s} for s in range(1, 6)}

#: (name, family, random, function, params, description)
_SPECS: tuple[tuple[str, str, bool, ShiftFunction, dict, str], ...] = (
    ("rotate", "geometric", False, rotate, _table("degrees", [5, 10, 15, 22.5, 30]),
     "Clockwise rotation about the centre, black corners."),
    ("translate", "geometric", False, translate, _table("fraction", [0.05, 0.1, 0.15, 0.2, 0.25]),
     "Shift right and down, black where uncovered."),
    ("zoom_crop", "geometric", False, zoom_crop, _table("crop", [0.9, 0.8, 0.7, 0.6, 0.5]),
     "Central crop enlarged to the full size."),
    ("flip", "geometric", True, flip, _table("fraction", [0.2, 0.4, 0.6, 0.8, 1.0]),
     "A seeded fraction of the images turned upside down."),
    ("hue_shift", "photometric", False, hue_shift, _table("turn", [0.05, 0.1, 0.2, 0.3, 0.5]),
     "Hue rotated around the colour circle."),
    ("grayscale", "photometric", False, grayscale, _table("amount", [0.2, 0.4, 0.6, 0.8, 1.0]),
     "Colour removed towards grey."),
    ("invert", "photometric", False, invert, _table("threshold", [0.8, 0.6, 0.4, 0.2, 0.0]),
     "Solarise: bright values inverted, all of them at severity 5."),
    ("color_jitter", "photometric", True, color_jitter, _JITTER,
     "Random brightness, contrast, saturation and hue per image."),
    ("occlusion", "occlusion", True, occlusion, _table("side", [0.1, 0.2, 0.3, 0.4, 0.5]),
     "A grey square patch at a seeded position."),
    ("lowpass", "frequency", False, lowpass, _table("radius", [0.5, 0.35, 0.25, 0.15, 0.08]),
     "Fourier low-pass: fine detail removed above a radius."),
    ("highpass", "frequency", False, highpass, _table("radius", [0.07, 0.15, 0.25, 0.4, 0.6]),
     "Fourier high-pass: coarse structure removed below a radius, mean colour kept."),
    ("amplitude_swap", "style", True, amplitude_swap, _table("mix", [0.2, 0.4, 0.6, 0.8, 1.0]),
     "Fourier amplitude taken from a second image, phase kept: a style-like shift."),
)

SHIFTS: tuple[Shift, ...] = tuple(
    Shift(
        name=name,
        kind="edit",
        family=family,
        description=description,
        params=freeze(params),
        function=function,
        random=random,
        takes_reference=name == "amplitude_swap",
    )
    for name, family, random, function, params, description in _SPECS
)
