"""WCAM, the wavelet scale attribution method (Kasmi et al. 2023), with a convergence figure and a cost estimate.

Modules, one concern each:

- ``method``: the ``WCAM`` class (options, results);
- ``extras``: ``WCAMExtras``, what a run returns besides its maps;
- ``settings``: the options' bounds and what None resolves to;
- ``perturbation``: how a design row perturbs an image (the two perturbations) and the output explained;
- ``design``: the design runner (batches through the model, doubling until converged, ``resume``);
- ``convergence``: the bootstrap that predicts how far another seed would land, and the verdict;
- ``threads``: batches run side by side on one-thread CPU workers;
- ``cost``: ``estimate_cost``, what a call will cost before it starts (``count_passes`` and ``seconds_per_pass``,
  its two halves, for a caller that keeps its own measured pace).

The names below are the package's public API (``shiftlab.attribution`` and the app import them from here).
How the constants were measured: ``docs/wcam.md``.
"""

from shiftlab.attribution.wcam.convergence import (
    STABLE_CORRELATION,
    STABLE_DISTANCE,
    STOP_MARGIN,
    VERDICT_MARGIN,
    Convergence,
    cells_to_dyadic,
    convergence,
    thresholds,
    verdict_words,
)
from shiftlab.attribution.wcam.cost import WCAMCost, WCAMPasses, count_passes, estimate_cost, seconds_per_pass
from shiftlab.attribution.wcam.design import DesignRun, point_chunks
from shiftlab.attribution.wcam.extras import WCAMExtras
from shiftlab.attribution.wcam.method import WCAM
from shiftlab.attribution.wcam.perturbation import cell_images, explained_output, min_max_uint8, perturb
from shiftlab.attribution.wcam.settings import (
    MAX_DESIGN,
    OUTPUTS,
    PERTURBATIONS,
    default_batch_size,
    default_grid,
)

__all__ = [
    "MAX_DESIGN",
    "OUTPUTS",
    "PERTURBATIONS",
    "STABLE_CORRELATION",
    "STABLE_DISTANCE",
    "STOP_MARGIN",
    "VERDICT_MARGIN",
    "WCAM",
    "Convergence",
    "DesignRun",
    "WCAMCost",
    "WCAMExtras",
    "WCAMPasses",
    "cell_images",
    "cells_to_dyadic",
    "convergence",
    "count_passes",
    "default_batch_size",
    "default_grid",
    "estimate_cost",
    "explained_output",
    "min_max_uint8",
    "perturb",
    "point_chunks",
    "seconds_per_pass",
    "thresholds",
    "verdict_words",
]
