"""Blur corruptions: defocus, glass, motion, zoom and Gaussian blur.

Formulas after Hendrycks & Dietterich's make_cifar_c.py / make_imagenet_c.py
(parameters in ``params``). Two are written by hand because no allowed library
does them: the motion blur, which the references get from ImageMagick's
MotionBlurImage (a one-sided Gaussian line kernel, reproduced here as a 2-D
kernel per image and applied by FFT), and the glass blur's local pixel shuffle,
a sequential per-pixel loop in the references, computed here for all pixels
at once (see ``_shuffle_sources``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from shiftlab.shifts.batch import to_levels
from shiftlab.shifts.filters import axis_operator, correlate
from shiftlab.shifts.filters import gaussian_blur as _gaussian
from shiftlab.shifts.resample import resample_transposed, zoom_op
from shiftlab.shifts.shift import Context


@lru_cache(maxsize=32)
def disk_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """The references' defocus kernel: a normalised disk of ``radius`` on a grid of at least 17×17,
    smoothed by a 3×3 (5×5 past radius 8) Gaussian of ``alias_sigma`` with cv2's mirror border."""
    half, ksize = (8, 3) if radius <= 8 else (int(radius), 5)
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    disk = (xx**2 + yy**2 <= radius**2).astype(np.float64)
    disk /= disk.sum()
    taps = np.exp(-((np.arange(ksize) - (ksize - 1) / 2) ** 2) / (2 * alias_sigma**2))
    smooth = axis_operator(2 * half + 1, taps / taps.sum(), "mirror")
    return smooth @ disk @ smooth.T


def defocus_blur(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Out-of-focus lens: correlation with an anti-aliased disk (cv2.filter2D's mirror border)."""
    kernel = torch.from_numpy(disk_kernel(float(p["radius"]), float(p["alias_sigma"]))).to(x.device)
    return correlate(x, kernel, "mirror")


def gaussian_blur(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Gaussian blur of ``sigma`` pixels (skimage's ``gaussian``: edge pixels repeat)."""
    return _gaussian(x, p["sigma"])


def _shuffle_sources(offsets: np.ndarray, h: int, w: int, delta: int) -> np.ndarray:
    """Flat index (h·w) of the pixel whose value each pixel of one image ends up with after one shuffle pass.

    The references visit the pixels of rows/columns delta+1 .. side-delta in
    reverse raster order and "swap" each with the pixel at its offset; the swap
    goes through numpy views, so it is in fact a copy: the visited pixel takes
    the current value of its partner, which is already final when the partner
    was visited before (a later pixel of the visited block). Each pixel's value
    therefore comes from the partner of the last pixel of a chain of offsets.
    The chain ends are found by pointer doubling over the visited block: each
    round jumps every pixel twice as far along its chain, so a few rounds
    (about log2 of the longest chain, 4 at 224 px) reach every end (integer
    indices: any order of following gives the same ends).
    """
    here, visited, block, everywhere = _shuffle_grid(h, w, delta)
    dy, dx = offsets[0].ravel(), offsets[1].ravel()
    there = dy * w
    there += dx
    there += here
    chained = there > here
    chained &= visited[there]
    jump = dy * (w - 2 * delta)  # the same step within the visited block
    jump += dx
    jump += block
    np.copyto(jump, block, where=~chained)
    while True:
        further = jump[jump]
        if np.array_equal(further, jump):
            break
        jump = further
    source = everywhere.copy()
    source[here] = there[jump]
    return source


@lru_cache(maxsize=16)
def _shuffle_grid(h: int, w: int, delta: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What every shuffle pass of an h×w image uses (read-only): the flat index of each visited pixel, the visited
    mask, the positions 0.. within the visited block, and the identity index of the whole image."""
    rows = np.arange(delta + 1, h - delta + 1)[:, None]
    cols = np.arange(delta + 1, w - delta + 1)[None, :]
    here = (rows * w + cols).ravel()
    visited = np.zeros(h * w, dtype=bool)
    visited[here] = True
    arrays = here, visited, np.arange(here.size), np.arange(h * w)
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _shuffle(x: torch.Tensor, delta: int, ctx: Context, part: int) -> torch.Tensor:
    """One pass of the references' local pixel shuffle: offsets in [-delta, delta-1]² (see ``_shuffle_sources``),
    drawn and followed image by image on the shift threads."""
    n, c, h, w = x.shape
    shape = (2, h - 2 * delta, w - 2 * delta)
    sources = ctx.values(lambda g, i: _shuffle_sources(g.integers(-delta, delta, size=shape), h, w, delta), part=part)
    src = torch.from_numpy(sources).to(x.device)
    return x.reshape(n, c, h * w).gather(2, src.unsqueeze(1).expand(-1, c, -1)).reshape(n, c, h, w)


def glass_blur(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Frosted glass: Gaussian blur, stored as uint8, pixels shuffled locally ``iterations`` times, blurred again."""
    x = to_levels(_gaussian(x, p["sigma"]))
    for it in range(p["iterations"]):
        x = _shuffle(x, p["max_delta"], ctx, part=it)
    return _gaussian(x, p["sigma"])


def motion_kernels(radius: int, sigma: float, angles: np.ndarray) -> torch.Tensor:
    """N×k×k kernels of ImageMagick's motion blur, one per angle (degrees).

    Tap i = 0 .. 2·radius of a one-sided Gaussian (weight exp(-i²/2σ²), normalised)
    reads the pixel ``i`` steps along the angle, rounded as ImageMagick rounds.
    """
    width = int(2 * radius + 1)
    steps = np.arange(width)
    weights = np.exp(-(steps**2) / (2 * sigma**2))
    weights /= weights.sum()
    theta = np.deg2rad(np.asarray(angles, dtype=np.float64))[:, None]
    dy = np.ceil(steps * np.sin(theta) - 0.5).astype(np.int64)
    dx = np.ceil(steps * np.cos(theta) - 0.5).astype(np.int64)
    reach = width - 1
    kernels = np.zeros((len(theta), 2 * reach + 1, 2 * reach + 1))
    image = np.repeat(np.arange(len(theta)), width)
    np.add.at(kernels, (image, (dy + reach).ravel(), (dx + reach).ravel()), np.tile(weights, len(theta)))
    return torch.from_numpy(kernels)


def motion_blur_layer(x: torch.Tensor, radius: int, sigma: float, angles: np.ndarray) -> torch.Tensor:
    """Motion-blur each image of N×C×H×W ``x`` along its own angle; edge pixels repeat beyond the border."""
    return correlate(x, motion_kernels(radius, sigma, angles).to(x.device), "nearest")


def motion_blur(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Camera shake: a line blur of ``radius`` and ``sigma`` at a random angle in [-45°, 45°]."""
    angles = ctx.values(lambda g, i: g.uniform(-45, 45))
    return motion_blur_layer(x, p["radius"], p["sigma"], angles)


def zoom_blur(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Zooming while exposing: the mean of the image and its centre zooms by each factor in ``zooms``.

    Every table's first factor is 1, whose zoom is the image itself (weight 1 on each pixel): it is added as it
    is instead of resampled, the same values.
    """
    h, w = x.shape[-2:]
    xt = x.transpose(-1, -2).contiguous()
    total = x.clone()
    for z in p["zooms"]:
        total += x if z == 1 else resample_transposed(xt, zoom_op(h, z, x.device), zoom_op(w, z, x.device))
    return total / (len(p["zooms"]) + 1)
