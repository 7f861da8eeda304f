"""Sobol total-order sensitivity: the quasi-Monte-Carlo design and Jansen's estimator.

The design is Saltelli's "pick-freeze" scheme as used by the Sobol attribution
method (Fel et al. 2021) and WCAM (Kasmi et al. 2023): two independent
nb_design × dim matrices A and B from one scrambled Sobol sequence of
dimension 2·dim (scipy.stats.qmc), and for every input i a matrix C_i equal
to A with column i taken from B. Rows are stacked A, B, C_1, …, C_dim, so a
model is evaluated nb_design · (dim + 2) times.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

from shiftlab.attribution.base import AttributionError, check_int


def sobol_design(dim: int, nb_design: int, seed: int) -> np.ndarray:
    """The (nb_design · (dim + 2)) × dim float32 design in [0, 1); same seed, same bytes.

    ``nb_design`` must be a power of two (>= 2) to keep the Sobol sequence's balance properties.
    """
    check_int("dim", dim, 1)
    check_int("nb_design", nb_design, 2)
    check_int("seed", seed, 0)
    if nb_design & (nb_design - 1):
        raise AttributionError(f"nb_design must be a power of two, got {nb_design}")
    ab = qmc.Sobol(2 * dim, scramble=True, rng=seed).random(nb_design)
    a, b = ab[:, :dim], ab[:, dim:]
    c = np.repeat(a[None], dim, axis=0)  # dim × nb_design × dim
    columns = np.arange(dim)
    c[columns, :, columns] = b.T
    return np.concatenate([a, b, c.reshape(-1, dim)]).astype(np.float32)


def jansen_total_order(outputs: np.ndarray, nb_design: int) -> np.ndarray:
    """Total-order Sobol index of each of the dim inputs from the outputs of ``sobol_design`` rows.

    Jansen (1999): ST_i = mean((f(A) - f(C_i))²) / (2 Var f), with Var f
    estimated on the 2·nb_design independent rows of A and B.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    dim = len(outputs) // nb_design - 2
    if dim < 1 or len(outputs) != nb_design * (dim + 2):
        raise AttributionError(f"{len(outputs)} outputs do not form a design of {nb_design} rows per matrix")
    f_a = outputs[:nb_design]
    f_c = outputs[2 * nb_design :].reshape(dim, nb_design)
    variance = np.var(outputs[: 2 * nb_design], ddof=1)
    if not variance > 0:
        raise AttributionError(
            "the model output did not vary over the perturbed inputs, so its Sobol indices are undefined "
            "(the target class is saturated or ignored; try another target or more designs)"
        )
    return np.mean((f_a - f_c) ** 2, axis=1) / (2 * variance)
