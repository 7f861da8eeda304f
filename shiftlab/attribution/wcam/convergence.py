"""How far another seed's run of the same WCAM would land, from a bootstrap of one run's design points.

A bootstrap over the design's points (no extra forward pass) predicts the
expected correlation of the two maps and the expected total-variation distance
of their spectral profiles, with a verdict (stable when both meet
``STABLE_CORRELATION`` and ``STABLE_DISTANCE`` with the margin
``VERDICT_MARGIN``) and standard deviations for error bars. With
``max_design`` above ``nb_design`` the design is doubled, reusing the points
already run, until both meet the thresholds with the wider ``STOP_MARGIN``
(``DesignRun.until_converged``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from shiftlab.attribution.sobol import bootstrap_shares
from shiftlab.attribution.wavelets import spectral_profile

#: a WCAM is "stable" when another seed is expected to give a map this correlated …
STABLE_CORRELATION = 0.9
#: … and a spectral profile (share per level) at most this far in total variation
STABLE_DISTANCE = 0.05
#: a run doubles its design until its expected figures meet the thresholds tightened by this margin
#: (correlation >= 0.925, distance <= 0.0375): a run that stops at the first size whose noisy estimate passes
#: has stopped on a lucky estimate (optional stopping), so stopping at the thresholds themselves leaves too
#: many runs short of them (measured: docs/wcam.md#measured-constants)
STOP_MARGIN = 0.75
#: … and is called stable when they meet them tightened by this one (>= 0.915, <= 0.0425): a run that
#: stopped is stable, one that reached ``max_design`` short of it is noisy (measured: docs/wcam.md#measured-constants)
VERDICT_MARGIN = 0.85
#: bootstrap resamples behind the convergence figure (milliseconds of numpy per image)
BOOTSTRAP_REPLICATES = 200
#: the bootstrap's variance is scaled up by this factor: Jansen's squared differences are heavy-tailed and
#: resampling a design underestimates how far another seed lands (measured: docs/wcam.md#measured-constants)
VARIANCE_INFLATION = 1.5


def thresholds(margin: float = 1.0) -> tuple[float, float]:
    """(least map agreement, most profile distance) of ``STABLE_CORRELATION`` and ``STABLE_DISTANCE`` tightened by
    ``margin``: the distance scaled by it, the correlation's shortfall from 1 likewise (``STOP_MARGIN``: the
    stop rule's, ``VERDICT_MARGIN``: the verdict's)."""
    return 1 - margin * (1 - STABLE_CORRELATION), margin * STABLE_DISTANCE

def verdict_words(stable: np.ndarray) -> list[str]:
    """The ``verdict`` extra of each image: "stable" or "noisy"."""
    return ["stable" if s else "noisy" for s in stable]

@dataclass(frozen=True)
class Convergence:
    """How far another seed's run is expected to land, from a bootstrap of one run's design points."""

    map_agreement: float  # expected correlation of the two Sobol index maps
    profile_distance: float  # expected total-variation distance of the two shares per level
    levels_std: np.ndarray  # (levels+1,) standard deviation of the share per level
    subbands_std: np.ndarray  # levels × 3
    cells_std: np.ndarray  # grid², in the units of the Sobol indices

    def passes(self, margin: float = 1.0) -> bool:
        """Whether both figures meet the thresholds tightened by ``margin`` (1: the thresholds themselves)."""
        least_agreement, most_distance = thresholds(margin)
        return self.map_agreement >= least_agreement and self.profile_distance <= most_distance

    @property
    def converged(self) -> bool:
        """Whether the design may stop doubling: the expected figures meet the thresholds with ``STOP_MARGIN``."""
        return self.passes(STOP_MARGIN)

    @property
    def stable(self) -> bool:
        """The verdict: the expected figures meet the thresholds with ``VERDICT_MARGIN`` to spare."""
        return self.passes(VERDICT_MARGIN)

def cells_to_dyadic(cells: torch.Tensor, size: int) -> torch.Tensor:
    """… × grid² values per cell -> … × S × S dyadic array (each cell's value over its block)."""
    grid = int(round(cells.shape[-1] ** 0.5))
    cell = size // grid
    return cells.view(*cells.shape[:-1], grid, grid).repeat_interleave(cell, -2).repeat_interleave(cell, -1)

def convergence(outputs: np.ndarray, indices: np.ndarray, size: int, levels: int, seed: int) -> Convergence:
    """The convergence figure of one image's design ``outputs`` (n × (grid² + 2)) and its Sobol ``indices``.

    With per-cell bootstrap variance v and variance V of the map across cells
    (signal plus noise), two independent runs correlate by (V - v) / V in
    expectation; the distance is the mean over pairs of resamples, whose
    difference has the law of two runs' difference.
    """
    shares, resampled = bootstrap_shares(outputs, BOOTSTRAP_REPLICATES, seed)
    resampled = resampled[np.isfinite(resampled).all(1)]
    spread = float(np.var(shares))
    noise = VARIANCE_INFLATION * float(np.var(resampled, axis=0).mean()) if len(resampled) > 1 else np.inf
    agreement = float(np.clip(1 - noise / spread, 0, 1)) if spread > 0 else 0.0
    dyadic = cells_to_dyadic(torch.from_numpy(resampled.astype(np.float32)), size)
    levels_b, subbands_b = spectral_profile(dyadic, levels)
    half, widen = len(levels_b) // 2, VARIANCE_INFLATION**0.5
    distance = 0.5 * (levels_b[:half] - levels_b[half : 2 * half]).abs().sum(-1).mean().item() * widen if half else 1.0
    return Convergence(
        agreement,
        float(distance),
        levels_b.std(0).numpy() * widen,
        subbands_b.std(0).numpy() * widen,
        resampled.std(0) * indices.sum() * widen,
    )
