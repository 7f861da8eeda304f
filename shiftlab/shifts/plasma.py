"""Plasma fractal (diamond-square) height maps, the fog layer of the references, batched over images.

Written by hand: no allowed library has diamond-square. It follows the
references' ``plasma_fractal`` (after FLHerne/mapgen's diamondsquare.py): start
from a zero corner, fill square centres then diamond centres with the mean of
their corners plus noise, halve the step, divide the noise scale ``wibble`` by
``decay``; the noise term is ``wibble · U(-wibble, wibble)`` as in the
references. The result is scaled to [0, 1] per map.
"""

from __future__ import annotations

import torch

from shiftlab.shifts.shift import Context


def _draw_count(size: int) -> int:
    """Uniform draws one map of ``size`` (a power of two) needs: three grids per level."""
    return sum(3 * (size // step) ** 2 for step in _steps(size))


def _steps(size: int) -> list[int]:
    steps, step = [], size
    while step >= 2:
        steps.append(step)
        step //= 2
    return steps


def plasma(ctx: Context, size: int, decay: float, device: torch.device) -> torch.Tensor:
    """N×size×size maps in [0, 1]; ``size`` must be a power of two."""
    if size & (size - 1):
        raise ValueError(f"plasma map size must be a power of two, got {size}")
    noise = ctx.draw(lambda g, i: g.uniform(-1, 1, _draw_count(size))).to(device)
    maps = torch.zeros((ctx.n, size, size), device=device, dtype=torch.float32)
    wibble, used = 100.0, 0
    for step in _steps(size):
        cells = (size // step) ** 2
        parts = noise[:, used : used + 3 * cells].reshape(ctx.n, 3, size // step, size // step) * wibble**2
        used += 3 * cells
        _fill_squares(maps, step, parts[:, 0])
        _fill_diamonds(maps, step, parts[:, 1], parts[:, 2])
        wibble /= decay
    lo = maps.amin(dim=(1, 2), keepdim=True)
    maps = maps - lo
    return maps / maps.amax(dim=(1, 2), keepdim=True)


def _fill_squares(maps: torch.Tensor, step: int, noise: torch.Tensor) -> None:
    """Square centres: a quarter of the sum of the four corners, plus noise."""
    half = step // 2
    corners = maps[:, ::step, ::step]
    total = corners + corners.roll(-1, dims=1)
    total = total + total.roll(-1, dims=2)
    maps[:, half::step, half::step] = total / 4 + noise


def _fill_diamonds(maps: torch.Tensor, step: int, noise_top: torch.Tensor, noise_left: torch.Tensor) -> None:
    """Diamond centres on the grid's edges: a quarter of the sum of their four neighbours, plus noise."""
    half = step // 2
    centres = maps[:, half::step, half::step]
    corners = maps[:, ::step, ::step]
    top = centres + centres.roll(1, dims=1) + corners + corners.roll(-1, dims=2)
    maps[:, ::step, half::step] = top / 4 + noise_top
    left = centres + centres.roll(1, dims=2) + corners + corners.roll(-1, dims=1)
    maps[:, half::step, ::step] = left / 4 + noise_left
