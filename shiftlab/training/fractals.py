"""Procedural fractal pictures for PixMix, drawn from random iterated function systems.

PixMix (Hendrycks et al. 2022) mixes training images with "pictures" whose
structure is complex but carries no class information; its best mixing set is
fractals. Instead of downloading one, shiftlab draws its own:

1. Each fractal is an IFS of 2–4 affine maps ``p -> A p + b`` with
   ``A = R(θ) diag(σ1, σ2) R(φ)``, singular values in [0.25, 0.9] (so every
   map contracts) and offsets ``b`` in [-1, 1]².
2. The chaos game iterates a point, choosing each map with probability
   proportional to |det A|. After a burn-in the orbit's bounding box sets the
   frame, and a further ``points`` iterations are splatted onto the canvas.
3. Each map has a random colour; a pixel's colour is the mean colour of the
   points that landed on it, its brightness grows with log(count).

Everything is vectorised over fractals and seeded: the same (n, size, seed)
gives the same bytes. Written by hand: no maintained library draws IFS fractals.
"""

from __future__ import annotations

from functools import cache

import numpy as np

BURN_IN = 200


def _random_maps(rng: np.random.Generator, n: int, max_maps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Affine maps (n, max_maps, 2, 2), offsets (n, max_maps, 2), selection probabilities (n, max_maps)."""
    def rotation(angle: np.ndarray) -> np.ndarray:
        c, s = np.cos(angle), np.sin(angle)
        return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)

    shape = (n, max_maps)
    sigma = np.zeros((*shape, 2, 2))
    sigma[..., 0, 0] = rng.uniform(0.25, 0.9, shape)
    sigma[..., 1, 1] = rng.uniform(0.25, 0.9, shape) * rng.choice([-1.0, 1.0], shape)
    maps = rotation(rng.uniform(0, 2 * np.pi, shape)) @ sigma @ rotation(rng.uniform(0, 2 * np.pi, shape))
    offsets = rng.uniform(-1.0, 1.0, (*shape, 2))
    used = np.arange(max_maps)[None, :] < rng.integers(2, max_maps + 1, n)[:, None]
    weight = np.abs(np.linalg.det(maps)) * used
    return maps, offsets, weight / weight.sum(1, keepdims=True)


def _chaos_game(rng, maps, offsets, probs, steps: int):
    """Iterate all IFS at once; yields (points (n, 2), map index (n,)) after each step."""
    n = len(maps)
    cumulative = np.cumsum(probs, axis=1)
    point = np.zeros((n, 2))
    rows = np.arange(n)
    for _ in range(steps):
        choice = np.minimum((rng.random((n, 1)) > cumulative).sum(1), probs.shape[1] - 1)
        point = np.einsum("nij,nj->ni", maps[rows, choice], point) + offsets[rows, choice]
        yield point, choice


def fractal_pictures(n: int = 256, size: int = 32, seed: int = 0, points: int = 4000) -> np.ndarray:
    """``n`` coloured IFS fractals as uint8 n×size×size×3 on a black background."""
    rng = np.random.default_rng(seed)
    maps, offsets, probs = _random_maps(rng, n, 4)
    colours = rng.uniform(0.2, 1.0, (n, 4, 3))
    orbit = _chaos_game(rng, maps, offsets, probs, BURN_IN + points)
    burn = np.stack([p for p, _ in (next(orbit) for _ in range(BURN_IN))], 1)  # (n, BURN_IN, 2)
    low, high = np.percentile(burn[:, BURN_IN // 4 :], [1, 99], axis=1)
    scale = (size - 1) / np.maximum(high - low, 1e-6).max(1, keepdims=True)

    counts = np.zeros((n, size * size))
    colour_sum = np.zeros((n, size * size, 3))
    rows = np.arange(n)
    for point, choice in orbit:
        pixel = np.clip(((point - low) * scale).round().astype(int), 0, size - 1)
        flat = pixel[:, 1] * size + pixel[:, 0]
        np.add.at(counts, (rows, flat), 1.0)
        np.add.at(colour_sum, (rows, flat), colours[rows, choice])
    brightness = np.log1p(counts) / np.log1p(counts.max(1, keepdims=True))
    mean_colour = colour_sum / np.maximum(counts, 1.0)[..., None]
    image = mean_colour * brightness[..., None]
    return (image.reshape(n, size, size, 3) * 255).round().astype(np.uint8)


@cache
def mixing_set(n: int = 256, size: int = 32, seed: int = 0) -> np.ndarray:
    """The fractal set PixMix training uses, built once per process."""
    return fractal_pictures(n, size, seed)
