"""Small images made readable on screen: crisp enlargement and source | shifted pairs.

A 32-px CIFAR image shown at 32 px is a smudge, and a browser enlarging it
smooths the pixels away; enlarging by whole pixel blocks (nearest neighbour)
before display keeps what the model actually saw.
"""

from __future__ import annotations

import numpy as np

#: pages enlarge images to about this many pixels a side
DISPLAY_SIDE = 192


def display_factor(size: int, target: int = DISPLAY_SIDE) -> int:
    """The whole-number enlargement that brings a ``size``-px side closest to ``target`` without going under 1."""
    return max(1, round(target / size))


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """H×W(×C) image with every pixel repeated into a ``factor``×``factor`` block."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 2) -> np.ndarray:
    """Two uint8 H×W×3 images of the same height, left | right, with a white ``gap``-px column between."""
    if left.shape[0] != right.shape[0]:
        raise ValueError(f"images must have the same height, got {left.shape} and {right.shape}")
    spacer = np.full((left.shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([left, spacer, right], axis=1)
