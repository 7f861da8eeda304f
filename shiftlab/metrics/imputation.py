"""Noisy linear imputation: fill removed pixels from their neighbours, as ROAD does (Rong et al. 2022).

Each removed pixel takes the weighted mean of its eight neighbours (weight 1/6 for the four that share an edge,
1/12 for the four diagonal ones, the weights of neighbours outside the image dropped), and removed neighbours
are themselves unknowns, so the filled values solve one sparse linear system per image (all channels at once).
Gaussian noise of standard deviation ``noise`` is then added to the filled values, so that a classifier cannot
read the mask's shape from perfectly smooth patches. Written here because no maintained library exposes it as a
function on arrays (quantus has one inside its ROAD metric; the tests compare the two).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

from shiftlab.metrics._checks import MetricInputError

#: (row offset, column offset, weight) of the eight neighbours; the weights sum to 1
NEIGHBOURS = (
    (-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
    (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12),
)


def impute(
    image: np.ndarray, removed: np.ndarray, noise: float = 0.01, rng: np.random.Generator | None = None
) -> np.ndarray:
    """``image`` (C×H×W float) with the pixels where ``removed`` (H×W bool) is True filled from their neighbours.

    ``noise`` is the standard deviation of the Gaussian noise added to the filled values (0: none, and then
    ``rng`` is not needed). The other pixels are returned unchanged; values are not clipped.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or np.asarray(removed).shape != image.shape[1:]:
        raise MetricInputError(f"impute takes a C×H×W image and an H×W mask, got {image.shape} and {np.shape(removed)}")
    removed = np.asarray(removed, dtype=bool)
    filled = image.copy()
    unknown = np.flatnonzero(removed)
    if unknown.size == 0:
        return filled
    values = _solve(image.reshape(len(image), -1), removed, unknown)
    if noise:
        if rng is None:
            raise MetricInputError("impute needs an rng (a seeded numpy Generator) when noise > 0")
        values = values + noise * rng.standard_normal(values.shape)
    filled.reshape(len(image), -1)[:, unknown] = values.T
    return filled


def _solve(flat: np.ndarray, removed: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """The filled values (U×C) of the ``unknown`` flat pixel indices: for each, its in-image neighbours' weight
    times itself equals the weighted sum of its neighbours, known ones moved to the right-hand side."""
    height, width = removed.shape
    variable = np.full(height * width, -1)
    variable[unknown] = np.arange(unknown.size)
    rows, cols = np.divmod(unknown, width)
    diagonal = np.zeros(unknown.size)
    right = np.zeros((unknown.size, flat.shape[0]))
    entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for dy, dx, weight in NEIGHBOURS:
        y, x = rows + dy, cols + dx
        inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
        diagonal[inside] += weight
        which = np.flatnonzero(inside)
        neighbour = y[inside] * width + x[inside]
        is_unknown = variable[neighbour] >= 0
        entries.append((which[is_unknown], variable[neighbour[is_unknown]], np.full(is_unknown.sum(), weight)))
        right[which[~is_unknown]] -= weight * flat[:, neighbour[~is_unknown]].T
    ids = np.arange(unknown.size)
    entries.append((ids, ids, -diagonal))
    r, c, w = (np.concatenate(parts) for parts in zip(*entries))
    system = coo_matrix((w, (r, c)), shape=(unknown.size, unknown.size)).tocsc()
    return spsolve(system, right).reshape(unknown.size, flat.shape[0])
