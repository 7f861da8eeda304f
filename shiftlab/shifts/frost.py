"""Procedural frost textures for the ``frost`` corruption.

The references overlay crops of six photographs of frosted windows; those are
not shipped here. Instead a bank of six textures is drawn from fixed seeds:
fern-like ice dendrites (a stem with pairs of side branches at ±60°, some of
the branches branching again), scattered at random positions, sizes and
orientations, splatted onto a canvas, lightly blurred and laid over a
low-frequency haze. Each texture is then given the per-channel mean and
standard deviation measured on one of the six ImageNet-C frost photographs
(the ``_TINTS`` table), so that the corruption's strength matches the
benchmark's (the tests compare PSNR with the photographs'). The bank comes from
fixed seeds, is built once per process (well under a second) and cached.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from shiftlab.shifts.filters import gaussian_blur
from shiftlab.shifts.resample import resize

#: side of the generated textures, pixels (the photographs are 485 to 900 px wide)
TEXTURE_SIZE = 512
_SEED = 20240613
#: per texture: RGB mean and RGB standard deviation (0-255) of frost1.png .. frost6.jpg of ImageNet-C
_TINTS = (
    ((77.7, 149.1, 165.7), (26.9, 16.5, 15.3)),
    ((200.8, 205.4, 214.5), (21.4, 22.1, 22.6)),
    ((200.8, 205.4, 214.5), (21.4, 22.1, 22.6)),
    ((137.6, 152.8, 165.2), (28.5, 28.5, 29.9)),
    ((112.4, 123.4, 134.8), (44.4, 43.3, 41.7)),
    ((71.4, 95.4, 104.5), (35.2, 42.7, 47.4)),
)
_BRANCH_ANGLE = np.deg2rad(60)


def _segments(rng: np.random.Generator, count: int) -> np.ndarray:
    """Line segments (x0, y0, x1, y1, brightness) of ``count`` fern-like dendrites: stems, their side branches
    and those branches' own side branches."""
    start = rng.uniform(0, TEXTURE_SIZE, (count, 2))
    angle = rng.uniform(0, 2 * np.pi, count)
    length = rng.uniform(12, 70, count)
    bright = rng.uniform(0.4, 1.0, count)
    segs = [_stack(start, angle, length, bright)]
    for _ in range(2):  # side branches of the stems, then of the branches
        start, angle, length, bright = _branches(rng, start, angle, length, bright)
        segs.append(_stack(start, angle, length, bright))
    return np.concatenate(segs)


def _branches(rng, start, angle, length, bright, pairs: int = 6):
    """Pairs of side branches at ±60° along each segment, shorter towards its tip."""
    t = (np.arange(1, pairs + 1) / (pairs + 1))[None, :]
    direction = np.stack([np.cos(angle), np.sin(angle)], -1)[:, None]
    base = start[:, None, :] + t[..., None] * length[:, None, None] * direction
    side = np.where(np.arange(2 * pairs) % 2 == 0, 1, -1)[None, :]
    new_angle = (
        np.repeat(angle[:, None], 2 * pairs, 1) + side * _BRANCH_ANGLE + rng.normal(0, 0.1, (len(angle), 2 * pairs))
    )
    new_len = np.repeat(length[:, None] * 0.45 * (1 - t), 2, 1) * rng.uniform(0.6, 1.2, (len(angle), 2 * pairs))
    keep = rng.random((len(angle), 2 * pairs)) < 0.8
    new_start = np.repeat(base, 2, axis=1)
    return new_start[keep], new_angle[keep], new_len[keep], np.repeat(bright[:, None], 2 * pairs, 1)[keep] * 0.9


def _stack(start, angle, length, bright) -> np.ndarray:
    end = start + length[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1)
    return np.column_stack([start, end, bright])


def _rasterise(segs: np.ndarray) -> np.ndarray:
    """Splat points every half pixel along each segment onto the canvas (wrapping around its edges)."""
    length = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
    counts = np.ceil(2 * length).astype(np.int64) + 1
    seg = np.repeat(np.arange(len(segs)), counts)
    first = np.cumsum(counts) - counts
    t = (np.arange(counts.sum()) - first[seg]) / np.maximum(counts[seg] - 1, 1)
    x = segs[seg, 0] + t * (segs[seg, 2] - segs[seg, 0])
    y = segs[seg, 1] + t * (segs[seg, 3] - segs[seg, 1])
    idx = (np.floor(y).astype(np.int64) % TEXTURE_SIZE) * TEXTURE_SIZE + np.floor(x).astype(np.int64) % TEXTURE_SIZE
    canvas = np.bincount(idx, weights=segs[seg, 4], minlength=TEXTURE_SIZE**2)
    return canvas.reshape(TEXTURE_SIZE, TEXTURE_SIZE)


def _haze(rng: np.random.Generator) -> np.ndarray:
    """Low-frequency noise (a Gaussian-filtered white field, periodic) in about [-1, 1]."""
    freq = np.fft.fftfreq(TEXTURE_SIZE)
    radius2 = freq[:, None] ** 2 + freq[None, :] ** 2
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal((TEXTURE_SIZE, TEXTURE_SIZE))) * np.exp(-radius2 * 4000)).real
    return field / (np.abs(field).max() + 1e-12)


def _texture(index: int) -> np.ndarray:
    """3×S×S texture ``index`` (0..5) in [0, 1]."""
    rng = np.random.default_rng([_SEED, index])
    crystals = torch.from_numpy(_rasterise(_segments(rng, 260)))[None, None].float()
    crystals = gaussian_blur(crystals, 0.6, mode="reflect")[0, 0].numpy()
    crystals = np.minimum(crystals, np.quantile(crystals, 0.995))
    grey = crystals / crystals.max() + 0.35 * _haze(rng)
    grey = (grey - grey.mean()) / grey.std()
    mean, std = (np.asarray(v)[:, None, None] for v in _TINTS[index])
    return np.clip((mean + std * grey[None]) / 255.0, 0, 1).astype(np.float32)


@lru_cache(maxsize=1)
def texture_bank() -> np.ndarray:
    """6×3×S×S float32 frost textures in [0, 1], from fixed seeds (equal across machines up to float round-off)."""
    return np.stack([_texture(i) for i in range(len(_TINTS))])


@lru_cache(maxsize=8)
def scaled_bank(scale: float, min_side: int, device: torch.device) -> torch.Tensor:
    """The bank resized by ``scale``, then enlarged where needed so that each side is at least 1.1·``min_side``."""
    side = int(round(TEXTURE_SIZE * scale))
    side = max(side, int(np.ceil(min_side * 1.1)))
    return resize(torch.from_numpy(texture_bank()).to(device), side, side)
