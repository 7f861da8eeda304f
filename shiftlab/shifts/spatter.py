"""The spatter corruption: water drops (severities with ``mud`` 0) or mud splashes (``mud`` 1) on the lens.

Formula after Hendrycks & Dietterich's make_cifar_c.py / make_imagenet_c.py. The
water branch shades the drops by their distance to the drop outlines, which the
references compute with OpenCV (Canny, distance transform, histogram
equalisation, an emboss filter). OpenCV is not a run-time dependency, so those
steps are rebuilt here, batched: the Canny detector by hand (L1 gradient of 3×3
Sobel filters, non-maximum suppression, hysteresis through
``scipy.ndimage.label``), the distance transform exact and Euclidean (OpenCV's
is a 5×5 chamfer approximation) but only up to the 20 px the references keep
(see ``_outline_distance``), histogram equalisation by hand with OpenCV's rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from shiftlab.shifts.filters import correlate, gaussian_blur
from shiftlab.shifts.shift import Context

WATER = (175 / 255, 238 / 255, 238 / 255)  # pale turquoise
MUD = (63 / 255, 42 / 255, 20 / 255)  # brown
_SOBEL = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
_EMBOSS = torch.tensor([[-2.0, -1, 0], [-1, 1, 1], [0, 1, 2]])
_BOX3 = torch.ones((3, 3))  # cv2.blur 3×3: the sum, divided by 9 afterwards
_TAN_22_5 = np.tan(np.deg2rad(22.5))
#: distances to the drop outlines are capped at this many pixels, as in the references
DISTANCE_LIMIT = 20


def spatter(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Liquid on the lens: blobs of smoothed, thresholded Gaussian noise drawn as water or mud."""
    h, w = x.shape[-2:]
    liquid = ctx.draw(lambda g, i: g.normal(p["mean"], p["std"], (1, h, w)))
    liquid = gaussian_blur(liquid, p["sigma"])
    liquid = torch.where(liquid < p["threshold"], torch.zeros_like(liquid), liquid)
    if p["mud"]:
        return _mud(x, liquid, p)
    return x + _water_shading(liquid) * p["intensity"] * torch.tensor(WATER, device=x.device).view(1, 3, 1, 1)


def _mud(x: torch.Tensor, liquid: torch.Tensor, p: Mapping[str, Any]) -> torch.Tensor:
    """Opaque brown where the blurred blob mask reaches 0.8."""
    mask = gaussian_blur((liquid > p["threshold"]).to(x.dtype), p["intensity"])
    mask = torch.where(mask < 0.8, torch.zeros_like(mask), mask)
    return x * (1 - mask) + mask * torch.tensor(MUD, device=x.device).view(1, 3, 1, 1)


def _water_shading(liquid: torch.Tensor) -> torch.Tensor:
    """N×1×H×W shading in [0, 1]: liquid level times an embossed, equalised distance to the drop outlines."""
    level = torch.floor(liquid.clamp(0, 1) * 255)
    dist = _outline_distance(level, DISTANCE_LIMIT)
    dist = torch.floor(correlate(dist, _BOX3, "mirror") / 9)
    dist = _equalize(dist)
    dist = torch.round(correlate(dist, _EMBOSS, "mirror")).clamp(0, 255)
    shade = level * torch.round(correlate(dist, _BOX3, "mirror") / 9)
    peak = shade.amax(dim=(1, 2, 3), keepdim=True)
    return shade / torch.where(peak > 0, peak, torch.ones_like(peak))


def _outline_distance(level: torch.Tensor, limit: int) -> torch.Tensor:
    """Euclidean distance of each pixel to the nearest Canny edge of its own image, or ``limit`` if that is farther.

    Written by hand instead of ``scipy.ndimage.distance_transform_edt`` because only distances below ``limit``
    are kept: the squared distance is the least, over the rows ``d`` < ``limit`` away, of d² plus the square of
    the distance to the nearest edge along that row (itself capped at ``limit``). That is exact below ``limit``
    (the nearest edge is in one of those rows) and at least ``limit`` beyond; integers until the square root,
    so it equals scipy's distances, computed batched instead of image by image. The rows are compared in two
    buffers updated in place, and the square roots are looked up (``_roots``).
    """
    edges = _canny(level, 50, 150)
    along_rows = _row_distance(edges, limit).square_()
    farthest = limit * limit
    h = level.shape[-2]
    padded = torch.nn.functional.pad(along_rows, (0, 0, limit, limit), value=farthest)
    squared, nearer = along_rows, torch.empty_like(along_rows)
    for d in range(1, limit):
        torch.minimum(padded[..., limit - d : limit - d + h, :], padded[..., limit + d : limit + d + h, :], out=nearer)
        torch.minimum(squared, nearer.add_(d * d), out=squared)
    roots = _roots(farthest).to(level.device)
    return roots.index_select(0, squared.clamp_(max=farthest).flatten()).view(squared.shape).to(level.dtype)


@lru_cache(maxsize=4)
def _roots(largest: int) -> torch.Tensor:
    """The square roots of 0 .. ``largest`` taken in float64 and rounded to float32: the values the distances
    always had (a float32 square root rounds some of them differently), looked up instead of computed."""
    return torch.arange(largest + 1, dtype=torch.float64).sqrt().float()


def _row_distance(edges: torch.Tensor, limit: int) -> torch.Tensor:
    """Distance (int32) from each pixel to the nearest edge pixel in its row, capped at ``limit``."""
    w = edges.shape[-1]
    cols = torch.arange(w, dtype=torch.int32, device=edges.device)
    far = torch.tensor(2 * limit + w, dtype=torch.int32, device=edges.device)
    last = torch.where(edges, cols, -far).cummax(dim=-1).values
    next_ = torch.where(edges, cols, far).flip(-1).cummin(dim=-1).values.flip(-1)
    return torch.minimum(cols - last, next_ - cols).clamp_(max=limit)


def _canny(level: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Canny edges of N×1×H×W uint8-valued images, as cv2.Canny(aperture 3, L1 gradient)."""
    gx = correlate(level, _SOBEL, "nearest")  # small kernels are summed tap by tap: exact, so ties stay ties
    gy = correlate(level, _SOBEL.T, "nearest")
    mag = gx.abs() + gy.abs()
    peak = _non_max(mag, gx, gy)
    strong = (peak & (mag > high)).cpu().numpy()
    weak = (peak & (mag > low)).cpu().numpy()
    structure = np.zeros((3, 3, 3, 3), bool)
    structure[1, 1] = True  # 8-connected within an image, never across images
    labels, count = ndimage.label(weak, structure=structure)
    kept = np.zeros(count + 1, dtype=bool)  # per label: does its segment hold a strong pixel (label 0: no segment)
    kept[labels[strong]] = True
    kept[0] = False
    return torch.from_numpy(kept[labels]).to(level.device)


def _non_max(mag: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Pixels whose gradient magnitude is a maximum across the edge (4 quantised directions)."""
    padded = torch.nn.functional.pad(mag, (1, 1, 1, 1))
    h, w = mag.shape[-2:]

    def at(dy: int, dx: int) -> torch.Tensor:
        return padded[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    ax, ay = gx.abs(), gy.abs()
    horizontal = ay <= ax * _TAN_22_5
    vertical = ay > ax / _TAN_22_5
    same_sign = (gx * gy) > 0
    diagonal = ~horizontal & ~vertical
    # (where, neighbour before, neighbour after, ties with the one after allowed): cv2's tie-breaking
    neighbours = [
        (horizontal, at(0, -1), at(0, 1), True),
        (vertical, at(-1, 0), at(1, 0), True),
        (diagonal & same_sign, at(-1, -1), at(1, 1), False),
        (diagonal & ~same_sign, at(-1, 1), at(1, -1), False),
    ]
    keep = torch.zeros_like(mag, dtype=torch.bool)
    for where, before, after, tie in neighbours:
        keep |= where & (mag > before) & ((mag >= after) if tie else (mag > after))
    return keep


def _equalize(level: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation of N×1×H×W uint8-valued images, as cv2.equalizeHist."""
    n = level.shape[0]
    values = level.reshape(n, -1).long()
    ones = torch.ones_like(values, dtype=torch.float32)
    hist = torch.zeros((n, 256), device=level.device).scatter_add_(1, values, ones)
    first = (hist > 0).float().argmax(dim=1, keepdim=True)
    base = hist.gather(1, first)
    total = values.shape[1]
    scale = 255 / torch.clamp(total - base, min=1)
    lut = torch.round((hist.cumsum(dim=1) - base) * scale).clamp(0, 255)
    lut = torch.where(base == total, first.float().expand(-1, 256), lut)
    return lut.gather(1, values).reshape(level.shape)
