"""Haar wavelet helpers shared by WCAM and WAM: the dyadic layout, batched transforms, projections.

The transforms are ptwt's (batched, differentiable, on the model's device).
Coefficients are laid out as one H×W "dyadic" array, in pywt's
``coeffs_to_array`` layout: the approximation in the top-left corner, then
for each level from coarse to fine, with side s, the horizontal detail at
rows s:2s × cols :s, the vertical detail at :s × s:2s and the diagonal
detail at s:2s × s:2s.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from shiftlab.attribution.base import AttributionError

WAVELET = "haar"
SUBBANDS = ("h", "v", "d")


@dataclass(frozen=True)
class Band:
    """One sub-band of the dyadic layout: its level (1 = finest), kind, and where it lies."""

    level: int
    kind: str  # "a" (approximation), "h", "v" or "d"
    rows: slice
    cols: slice


def check_levels(size: int, levels: int) -> None:
    """A ``size``-pixel side must be divisible by 2**levels for a Haar transform without padding (so levels is at
    most log2(size): 5 at 32 px)."""
    if (isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels < size.bit_length()
            or size % 2**levels):
        raise AttributionError(f"levels must be an integer >= 1 with {size} divisible by 2**levels, got {levels!r}")


def bands(size: int, levels: int) -> list[Band]:
    """The 1 + 3·levels sub-bands of a size×size dyadic array, coarse to fine (approximation first)."""
    side = size >> levels
    found = [Band(levels, "a", slice(0, side), slice(0, side))]
    for level in range(levels, 0, -1):
        side = size >> level
        low, high = slice(0, side), slice(side, 2 * side)
        found += [Band(level, "h", high, low), Band(level, "v", low, high), Band(level, "d", high, high)]
    return found


def wavedec(images: torch.Tensor, levels: int) -> torch.Tensor:
    """Haar transform of the last two axes of ``images`` (…×S×S) into the …×S×S dyadic layout."""
    import ptwt  # lazy: ptwt costs ~0.5 s to import, and the app's pages that draw no WCAM never need it

    coeffs = ptwt.wavedec2(images, WAVELET, level=levels)
    dyadic = coeffs[0]
    for horizontal, vertical, diagonal in coeffs[1:]:
        dyadic = torch.cat([torch.cat([dyadic, vertical], -1), torch.cat([horizontal, diagonal], -1)], -2)
    return dyadic


def waverec(dyadic: torch.Tensor, levels: int) -> torch.Tensor:
    """Inverse of ``wavedec``: …×S×S dyadic coefficients back to …×S×S images."""
    import ptwt  # lazy, as in wavedec
    from ptwt.constants import WaveletDetailTuple2d

    found = bands(dyadic.shape[-1], levels)
    coeffs: list = [dyadic[..., found[0].rows, found[0].cols]]
    for start in range(1, len(found), 3):
        coeffs.append(WaveletDetailTuple2d(*(dyadic[..., b.rows, b.cols] for b in found[start : start + 3])))
    return ptwt.waverec2(coeffs, WAVELET)


def project_to_image(dyadic: torch.Tensor, levels: int) -> torch.Tensor:
    """Sum over sub-bands of each coefficient's importance spread over its Haar support (N×S×S -> N×S×S).

    A Haar coefficient of level j covers exactly a 2^j × 2^j pixel block (the
    approximation one of 2^levels), so nearest-neighbour upsampling by that
    factor puts each importance on the pixels the coefficient describes.
    """
    image = torch.zeros_like(dyadic)
    for band in bands(dyadic.shape[-1], levels):
        block = dyadic[..., band.rows, band.cols]
        factor = 2**band.level
        image += block.repeat_interleave(factor, -2).repeat_interleave(factor, -1)
    return image


def spectral_profile(dyadic: torch.Tensor, levels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Share of the total importance in each level and in each sub-band.

    Returns N×(levels+1) shares per level (approximation first, then detail
    levels from coarse to fine) and N×levels×3 shares per detail sub-band
    (h, v, d; coarse to fine). The first sums to 1; so does the second plus
    the approximation share.
    """
    found = bands(dyadic.shape[-1], levels)
    mass = torch.stack([dyadic[..., b.rows, b.cols].sum((-2, -1)) for b in found], -1)
    total = mass.sum(-1, keepdim=True)
    if not bool((total > 0).all()):
        raise AttributionError("the wavelet importance is zero everywhere: no spectral profile can be computed")
    shares = mass / total
    subbands = shares[..., 1:].reshape(*shares.shape[:-1], levels, 3)
    return torch.cat([shares[..., :1], subbands.sum(-1)], -1), subbands
