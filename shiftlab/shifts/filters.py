"""Linear filters on N×C×H×W float tensors: boundary extension, separable (Gaussian) filters, 2-D correlation.

Boundary modes use scipy.ndimage's names:

* ``"nearest"``: the edge pixel repeats (cv2 BORDER_REPLICATE, skimage's default for ``gaussian``);
* ``"reflect"``: ``d c b a | a b c d`` (numpy's "symmetric");
* ``"mirror"``: ``d c b | a b c d`` (cv2 BORDER_REFLECT_101, the default border of cv2 filters).

A 1-D filter along one axis of length ``n`` is a banded n×n matrix with the
boundary folded in, so a separable filter is two matrix products: exact for any
kernel radius (the ImageNet-C elastic transform blurs with a radius of 512 px on
224 px images) and fast on CPU and GPU alike. Non-separable kernels (defocus
disks, motion-blur lines) are applied by FFT, with the boundary extended first.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

MODES = ("nearest", "reflect", "mirror")


def boundary_index(index, n: int, mode: str):
    """Map integer positions (any, even far outside [0, n)) to the source pixel ``mode`` reads there.

    Works on numpy arrays and torch tensors alike.
    """
    if mode == "nearest" or n == 1:
        return index.clip(0, n - 1)
    if mode not in MODES:
        raise ValueError(f"unknown boundary mode {mode!r}; use one of {MODES}")
    period = 2 * n if mode == "reflect" else 2 * n - 2
    j = index % period  # non-negative for numpy and torch alike
    return j * (j < n) + (period - (mode == "reflect") - j) * (j >= n)


#: boundary modes torch's own padding does, by its name for them (as long as the padding is narrower than the image)
_TORCH_PADDING = {"nearest": "replicate", "mirror": "reflect"}


def pad(x: torch.Tensor, py: int, px: int, mode: str) -> torch.Tensor:
    """Extend the last two axes by ``py`` rows and ``px`` columns on each side (any width).

    ``torch.nn.functional.pad`` copies the same pixels several times faster than gathering them, but its
    reflection needs the padding narrower than the image; wider paddings gather through ``boundary_index``.
    """
    h, w = x.shape[-2:]
    if mode in _TORCH_PADDING and (mode == "nearest" or (py < h and px < w)) and x.dim() in (3, 4):
        return torch.nn.functional.pad(x, (px, px, py, py), mode=_TORCH_PADDING[mode])
    rows = torch.from_numpy(boundary_index(np.arange(-py, h + py), h, mode)).to(x.device)
    cols = torch.from_numpy(boundary_index(np.arange(-px, w + px), w, mode)).to(x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def gaussian_taps(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage's Gaussian kernel: radius ``int(truncate*sigma + 0.5)``, sums to 1; sigma 0 is the identity."""
    radius = int(truncate * sigma + 0.5)
    if radius == 0:
        return np.ones(1)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


def axis_operator(n: int, taps: np.ndarray, mode: str) -> np.ndarray:
    """n×n matrix M with ``M @ signal`` = the signal correlated with the centred ``taps`` under ``mode``."""
    r = len(taps) // 2
    src = boundary_index(np.arange(n)[:, None] + np.arange(-r, r + 1)[None, :], n, mode)
    matrix = np.zeros((n, n))
    np.add.at(matrix, (np.repeat(np.arange(n), len(taps)), src.ravel()), np.tile(taps, n))
    return matrix


@lru_cache(maxsize=256)
def _gaussian_operator(n: int, sigma: float, truncate: float, mode: str, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(axis_operator(n, gaussian_taps(sigma, truncate), mode)).float().to(device)


def separable(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Apply the axis operators: ``rows`` (h×H) along the height and ``cols`` (w×W) along the width."""
    return rows @ x @ cols.T


def gaussian_blur(x: torch.Tensor, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> torch.Tensor:
    """Gaussian blur of the last two axes, as ``skimage.filters.gaussian`` (scipy's kernel and boundary modes)."""
    if sigma == 0:
        return x
    h, w = x.shape[-2:]
    return separable(
        x,
        _gaussian_operator(h, float(sigma), truncate, mode, x.device),
        _gaussian_operator(w, float(sigma), truncate, mode, x.device),
    )


#: shared kernels up to this many taps are applied as a sum of shifted images (exact on integer data), larger by FFT
SMALL_KERNEL = 25


def correlate(x: torch.Tensor, kernel: torch.Tensor, mode: str) -> torch.Tensor:
    """Correlate every image of N×C×H×W ``x`` with a 2-D kernel, as cv2.filter2D does.

    ``kernel`` is kh×kw (shared) or N×kh×kw (one per image), both sides odd and
    centred. The boundary is extended by ``mode`` first; small shared kernels are
    summed tap by tap, others go through the FFT (whose wrap-around never reaches
    the kept pixels, thanks to the extension).
    """
    h, w = x.shape[-2:]
    kh, kw = kernel.shape[-2:]
    padded = pad(x, kh // 2, kw // 2, mode)
    if kernel.dim() == 2 and kernel.numel() <= SMALL_KERNEL:
        return _sum_of_shifts(padded, kernel.tolist(), h, w)
    size = padded.shape[-2:]
    spectrum = torch.fft.rfft2(kernel.to(x.dtype), s=size).conj()
    if kernel.dim() == 3:
        spectrum = spectrum.unsqueeze(1)
    return torch.fft.irfft2(torch.fft.rfft2(padded).mul_(spectrum), s=size)[..., :h, :w]


def _sum_of_shifts(padded: torch.Tensor, taps: list[list[float]], h: int, w: int) -> torch.Tensor:
    """Σ tap · shifted image over the non-zero taps in raster order, accumulated in place from 0.

    Taps of ±1 add or subtract the shifted image as it is (multiplying by them changes no value), and the sum
    grows in one buffer instead of a new tensor per tap.
    """
    total = torch.zeros(padded.shape[:-2] + (h, w), dtype=padded.dtype, device=padded.device)
    for i, row in enumerate(taps):
        for j, tap in enumerate(row):
            shifted = padded[..., i : i + h, j : j + w]
            if tap == 1:
                total.add_(shifted)
            elif tap == -1:
                total.sub_(shifted)
            elif tap != 0:
                total.add_(shifted * tap)
    return total
