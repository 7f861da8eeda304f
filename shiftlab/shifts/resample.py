"""Resampling: the references' zoom and box-resize as axis matrices, bilinear sampling at arbitrary points, resizing.

Zooms and box resizes are linear along each axis with a few taps per output
pixel: each becomes an ``AxisOp`` (the taps' source indices and weights, built
once and cached), applied along the height and the width with a few gathers.
Gathers pick whole rows (contiguous copies); a pass along the width runs on the
transposed batch, which is an order of magnitude faster than gathering columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AxisOp:
    """A sparse linear map along one axis: output o = sum over j of weight[j, o] · input[index[j, o]]."""

    index: torch.Tensor  # k×n_out, long
    weight: torch.Tensor  # k×n_out, float

    @staticmethod
    def from_matrix(matrix: np.ndarray, device: torch.device) -> AxisOp:
        taps = max(int((matrix != 0).sum(axis=1).max()), 1)
        order = np.argsort(matrix == 0, axis=1, kind="stable")[:, :taps]  # non-zero columns first
        weight = np.take_along_axis(matrix, order, axis=1)
        return AxisOp(torch.from_numpy(order.T.copy()).to(device), torch.from_numpy(weight.T.copy()).float().to(device))

    def along_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Apply along the height (axis -2) of ``x``: the weighted sum of gathered rows, tap after tap in order."""
        out = None
        for index, weight in zip(self.index, self.weight):
            term = x.index_select(-2, index).mul_(weight.view(-1, 1))
            out = term if out is None else out.add_(term)
        return out


def resample(x: torch.Tensor, rows: AxisOp, cols: AxisOp) -> torch.Tensor:
    """Apply ``cols`` along the width, then ``rows`` along the height (Pillow's order)."""
    return resample_transposed(x.transpose(-1, -2).contiguous(), rows, cols)


def resample_transposed(xt: torch.Tensor, rows: AxisOp, cols: AxisOp) -> torch.Tensor:
    """``resample`` of the batch whose transpose (last two axes swapped, contiguous) is ``xt``: callers that
    resample one batch several times transpose it once."""
    return rows.along_rows(cols.along_rows(xt).transpose(-1, -2).contiguous())


def _interp_matrix(coords: np.ndarray, n_in: int) -> np.ndarray:
    """len(coords)×n_in matrix of linear-interpolation weights at source positions ``coords`` (in range)."""
    lo = np.clip(np.floor(coords).astype(np.int64), 0, n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = coords - lo
    matrix = np.zeros((len(coords), n_in))
    rows = np.arange(len(coords))
    np.add.at(matrix, (rows, lo), 1 - frac)
    np.add.at(matrix, (rows, hi), frac)
    return matrix


def clipped_zoom_matrix(n: int, factor: float) -> np.ndarray:
    """n×n matrix of the references' ``clipped_zoom`` along one axis.

    The centre ``ceil(n / factor)`` pixels are zoomed by ``factor`` with
    ``scipy.ndimage.zoom(order=1)`` (output length ``round(crop*factor)``,
    corner-aligned sampling) and the centre ``n`` pixels are kept.
    """
    crop = math.ceil(n / factor)
    top = (n - crop) // 2
    out = int(round(crop * factor))
    trim = (out - n) // 2
    step = (crop - 1) / (out - 1) if out > 1 else 0.0
    return _interp_matrix(top + step * np.arange(trim, trim + n), n)


@lru_cache(maxsize=256)
def zoom_op(n: int, factor: float, device: torch.device) -> AxisOp:
    """``clipped_zoom_matrix`` as an AxisOp (two taps per pixel)."""
    return AxisOp.from_matrix(clipped_zoom_matrix(n, factor), device)


def pil_box_matrix(n_out: int, n_in: int) -> np.ndarray:
    """n_out×n_in weights of Pillow's ``Image.BOX`` resampling along one axis.

    Pillow evaluates the box filter at input pixel centres (it does not integrate
    coverage): output pixel ``o`` averages the inputs whose centre falls in
    (c - s, c + s], c = (o + 0.5)·scale, s = max(scale, 1)/2. When enlarging this
    picks one pixel, which is what ``Image.NEAREST`` picks too.
    """
    scale = n_in / n_out
    support = max(scale, 1.0) / 2
    centre = (np.arange(n_out) + 0.5) * scale
    pos = np.arange(n_in) + 0.5
    inside = (pos[None, :] > centre[:, None] - support) & (pos[None, :] <= centre[:, None] + support)
    weights = inside.astype(np.float64)
    return weights / weights.sum(axis=1, keepdims=True)


@lru_cache(maxsize=64)
def pil_box_resize_ops(n: int, factor: float, device: torch.device) -> tuple[AxisOp, AxisOp]:
    """(down, up) AxisOps of Pillow's BOX resize to ``int(n*factor)`` pixels and back to ``n``."""
    small = max(int(n * factor), 1)
    return AxisOp.from_matrix(pil_box_matrix(small, n), device), AxisOp.from_matrix(pil_box_matrix(n, small), device)


#: boundary mode -> (grid_sample padding, align_corners): "mirror" reflects about the edge pixels' centres
#: (cv2 BORDER_REFLECT_101), "reflect" about the image border (scipy's "reflect"), None reads 0 outside
_SAMPLING = {"mirror": ("reflection", True), "reflect": ("reflection", False), None: ("zeros", False)}


def sample_bilinear(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, mode: str | None) -> torch.Tensor:
    """Sample N×C×H×W ``x`` at float pixel positions ``rows``, ``cols`` (N×h×w each), bilinearly.

    Positions outside the image read through boundary ``mode`` ("mirror",
    "reflect") or read 0 (None), as ``torch.nn.functional.grid_sample`` does them.
    """
    h, w = x.shape[-2:]
    padding, corners = _SAMPLING[mode]
    if corners:
        grid = torch.stack([cols * (2 / max(w - 1, 1)) - 1, rows * (2 / max(h - 1, 1)) - 1], dim=-1)
    else:
        grid = torch.stack([(2 * cols + 1) / w - 1, (2 * rows + 1) / h - 1], dim=-1)
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode=padding, align_corners=corners)


def resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize N×C×h×w to height×width: bilinear, antialiased when shrinking; the identity when the size matches."""
    if x.shape[-2:] == (height, width):
        return x
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
