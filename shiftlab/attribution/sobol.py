"""Sobol total-order sensitivity: the quasi-Monte-Carlo design, Jansen's estimator and its bootstrap.

The design is Saltelli's "pick-freeze" scheme as used by the Sobol attribution
method (Fel et al. 2021) and WCAM (Kasmi et al. 2023): the points of one
scrambled Sobol sequence of dimension 2·dim (scipy.stats.qmc) are split into
a row ``a`` and a row ``b``; every point gives dim + 2 model inputs: ``a``,
``b`` and, for every input i, ``c_i`` equal to ``a`` with coordinate i taken
from ``b``. Rows are laid out point by point, so the outputs of points
[start, stop) form a (stop - start) × (dim + 2) block, and the design of n
points is the first n points of the design of 2n points: a run can be
extended ("refined") and ends equal to a single run of the larger design.
"""

from __future__ import annotations

import numpy as np

from shiftlab.attribution.base import AttributionError, check_int


def check_power_of_two(name: str, value: int, maximum: int | None = None) -> None:
    """Raise ``AttributionError`` unless ``value`` is a power of two from 2 to ``maximum`` (Sobol nets are balanced
    at 2^m points)."""
    check_int(name, value, 2, maximum)
    if value & (value - 1):
        raise AttributionError(f"{name} must be a power of two, got {value}")


def sobol_points(dim: int, start: int, stop: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points [start, stop) of the scrambled 2·dim Sobol sequence of ``seed``, as the (a, b) halves, each n × dim.

    The sequence is drawn up to the next power of two (where its balance
    properties hold; scipy warns otherwise) and sliced: the same points
    whatever the slicing.
    """
    from scipy.stats import qmc  # lazy: scipy.stats costs ~0.6 s to import

    check_int("dim", dim, 1)
    check_int("seed", seed, 0)
    points = qmc.Sobol(2 * dim, scramble=True, rng=seed).random_base2(max(0, stop - 1).bit_length())[start:stop]
    return points[:, :dim], points[:, dim:]


def pick_freeze(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The n·(dim + 2) × dim float32 model inputs of n points: per point a, b, then c_1 … c_dim."""
    n, dim = a.shape
    c = np.repeat(a[:, None], dim, axis=1)  # n × dim × dim: c[j, i] is a_j with coordinate i from b_j
    columns = np.arange(dim)
    c[:, columns, columns] = b
    return np.concatenate([a[:, None], b[:, None], c], axis=1).reshape(-1, dim).astype(np.float32)


def sobol_design(dim: int, nb_design: int, seed: int) -> np.ndarray:
    """The whole (nb_design · (dim + 2)) × dim design of ``nb_design`` points; same seed, same bytes."""
    check_power_of_two("nb_design", nb_design)
    return pick_freeze(*sobol_points(dim, 0, nb_design, seed))


def as_blocks(outputs: np.ndarray) -> np.ndarray:
    """Model outputs of a design as float64 n × (dim + 2) (one row per point), checked."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim != 2 or outputs.shape[1] < 3 or len(outputs) < 2:
        raise AttributionError(f"outputs must be n >= 2 points × (dim + 2) >= 3 values, got shape {outputs.shape}")
    return outputs


def jansen_terms(outputs: np.ndarray) -> np.ndarray:
    """n × dim squared differences (f(a) - f(c_i))²: Jansen's numerator is their mean over points."""
    outputs = as_blocks(outputs)
    return (outputs[:, :1] - outputs[:, 2:]) ** 2


def jansen_total_order(outputs: np.ndarray) -> np.ndarray:
    """Total-order Sobol index of each input from the n × (dim + 2) outputs of a design.

    Jansen (1999): ST_i = mean((f(a) - f(c_i))²) / (2 Var f), with Var f
    estimated on the 2n independent rows a and b.
    """
    outputs = as_blocks(outputs)
    variance = np.var(outputs[:, :2], ddof=1)
    if not variance > 0:
        raise AttributionError(
            "the model output did not vary over the perturbed inputs, so its Sobol indices are undefined "
            "(the target class is saturated or ignored; try another target, output or more designs)"
        )
    return jansen_terms(outputs).mean(0) / (2 * variance)


def bootstrap_shares(outputs: np.ndarray, replicates: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each input's share of the total Jansen numerator, on the design and on ``replicates`` bootstrap resamples.

    Resampling the design's points with replacement mimics running another
    design of the same size (Archer et al. 1997 bootstrap Sobol indices). The
    shares are scale-free, like every WCAM summary (spectral profile, map
    correlation), so the variance denominator, common to all inputs, drops
    out. Returns the dim shares of the design and replicates × dim shares;
    a resample whose terms are all zero gets nan shares.
    """
    terms = jansen_terms(outputs)
    counts = np.random.default_rng(seed).multinomial(len(terms), np.full(len(terms), 1 / len(terms)), size=replicates)
    resampled = counts @ terms
    with np.errstate(invalid="ignore", divide="ignore"):
        return terms.sum(0) / terms.sum(), resampled / resampled.sum(1, keepdims=True)
