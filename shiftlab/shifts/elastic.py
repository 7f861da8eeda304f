"""The elastic_transform corruption: a random affine warp followed by a smooth random displacement field.

Formula after Hendrycks & Dietterich's make_cifar_c.py / make_imagenet_c.py (the
imagecorruptions package has a different, displacement-only variant). The
affine warp moves three points around the centre by up to ``affine`` pixels
(cv2.getAffineTransform + warpAffine in the references, bilinear with a mirror
border); the displacement field is uniform noise in [-1, 1] blurred by a
Gaussian of ``sigma`` (scipy "reflect" border, truncated at 3 sigma) and scaled
by ``alpha`` (scipy map_coordinates, bilinear, "reflect" border). The three
values are in pixels for an image of ``size`` pixels and scale with the
shorter side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from shiftlab.shifts.filters import gaussian_blur
from shiftlab.shifts.resample import sample_bilinear
from shiftlab.shifts.shift import Context


def _anchor_points(h: int, w: int) -> np.ndarray:
    """The three (x, y) points the references perturb: around the centre, a third of the shorter side away."""
    cx, cy, s = w // 2, h // 2, min(h, w) // 3
    return np.array([[cx + s, cy + s], [cx + s, cy - s], [cx - s, cy - s]], dtype=np.float64)


def _inverse_affines(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """N×2×3 matrices mapping output (x, y, 1) back to input positions, for the affines taking src to dst (N×3×2)."""
    ones = np.ones((*dst.shape[:2], 1))
    # solve [dst 1] @ A.T = src for each image: the inverse of the forward map src -> dst
    return np.linalg.solve(np.concatenate([dst, ones], axis=2), src).transpose(0, 2, 1)


def _affine(x: torch.Tensor, spread: float, ctx: Context) -> torch.Tensor:
    n, _, h, w = x.shape
    src = _anchor_points(h, w)
    dst = src + ctx.values(lambda g, i: g.uniform(-spread, spread, (3, 2)), part=0)
    inv = torch.from_numpy(_inverse_affines(np.broadcast_to(src, dst.shape), dst)).float().to(x.device)
    yy, xx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    grid = torch.stack([xx, yy, torch.ones_like(xx)], dim=0).float().reshape(3, -1)
    coords = (inv @ grid).reshape(n, 2, h, w)
    return sample_bilinear(x, coords[:, 1], coords[:, 0], "mirror")


def elastic_transform(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Elastic warp: random affine, then each pixel read from a smoothly displaced position."""
    n, _, h, w = x.shape
    scale = min(h, w) / p["size"]
    x = _affine(x, p["affine"] * scale, ctx)
    field = ctx.draw(lambda g, i: g.uniform(-1, 1, (2, h, w)), part=1)
    dy, dx = (gaussian_blur(field, p["sigma"] * scale, mode="reflect", truncate=3) * p["alpha"] * scale).unbind(1)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx
    return sample_bilinear(x, rows, cols, "reflect")
