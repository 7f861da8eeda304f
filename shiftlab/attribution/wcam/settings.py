"""WCAM's options: their bounds, the values None resolves to, and the check of a whole set before a run.

``checked_settings`` is what ``WCAM.check_options`` and ``estimate_cost`` both
run: every bound stated in ``WCAM``'s docstring, then the grid side, output,
approximation band and batch size the run will use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftlab.argcheck import real, shown
from shiftlab.attribution.base import Attribution, AttributionError, check_choice, check_int
from shiftlab.attribution.sobol import check_power_of_two
from shiftlab.attribution.wavelets import check_levels
from shiftlab.models import LoadedModel

#: what the Sobol indices explain, as a function of the logits l and the target t
OUTPUTS = ("probability", "logit", "log_probability", "log_odds")
#: how a mask perturbs the image (see ``shiftlab.attribution.wcam.perturbation``)
PERTURBATIONS = ("normalized", "reference")
DEFAULT_OUTPUT = "log_odds"
#: pixels per forward pass on a GPU, and the fewest images (see ``default_batch_size``)
GPU_BATCH_PIXELS = 1 << 22
GPU_MIN_BATCH_SIZE = 128
#: the approximation band is cut into cells of about this many coefficients a side (see ``default_grid``)
CELL_SIDE = 7
#: the largest grid side: a design point's pick-freeze block holds grid⁴ values (134 MB at 64) and the model
#: runs grid² + 2 times per point
MAX_GRID = 64
#: the most Sobol design points per image (a power of two): 4096 · (8² + 2) = 270,336 model runs at grid 8
MAX_DESIGN = 4096
#: the most perturbed images per forward pass
MAX_BATCH = 16384
#: the longest time budget, in seconds (a day)
MAX_TIME_BUDGET = 86_400.0


def default_grid(size: int, levels: int) -> int:
    """The grid side used when ``grid_size`` is None: every cell inside one sub-band, cells about ``CELL_SIDE`` wide.

    The approximation band (side a = size / 2**levels) is cut into k × k
    cells, k the largest divisor of a with cells at least ``CELL_SIDE``
    coefficients wide, or 1: grid 8 at 32 px (the approximation and each
    level-3 band are one cell), 32 at 224 px (4 × 4 cells in the coarsest
    bands, 16 × 16 in the finest, where grid 8 leaves quadrants). Cheaper
    grids are a choice of the caller (``estimate_cost`` says what each costs).
    """
    side = size >> levels
    k = max([d for d in range(1, side // CELL_SIDE + 1) if side % d == 0] or [1])
    return k << levels

def default_batch_size(loaded: LoadedModel) -> int:
    """Perturbed images per forward pass when ``batch_size`` is None: on a CPU the architecture's own
    ``cpu_batch_size`` (the batch it runs fastest per image on one thread), more on a GPU.

    A GPU takes about ``GPU_BATCH_PIXELS`` pixels a batch, never fewer than
    ``GPU_MIN_BATCH_SIZE`` images (4,096 images at 32 px, 128 at 224 px): fewer
    leave it mostly idle (measured: docs/wcam.md#measured-constants).
    """
    if loaded.device.type == "cuda":
        return max(GPU_MIN_BATCH_SIZE, GPU_BATCH_PIXELS // loaded.input_size**2)
    return loaded.hooks.cpu_batch_size

def resolved_settings(
    size: int, levels: int, grid_size: int | None, output: str | None, perturbation: str, approximation: bool | None
) -> dict[str, Any]:
    """The grid side, explained output and approximation band a run uses, its None options resolved.

    The reference perturbation explains the probability and perturbs the
    approximation band too, as the published code does.
    """
    reference = perturbation == "reference"
    return {
        "grid_size": default_grid(size, levels) if grid_size is None else grid_size,
        "output": output or ("probability" if reference else DEFAULT_OUTPUT),
        "approximation": (not reference) if approximation is None else approximation,
    }

def checked_settings(loaded: LoadedModel, options: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The resolved settings (``resolved_settings``) and batch size of a run with WCAM's ``options`` (every
    option, defaults included) on ``loaded``, once each option is checked against its bound: ``AttributionError``
    names the first one out of it. O(1): nothing runs."""
    size, levels, perturbation = loaded.input_size, options["levels"], options["perturbation"]
    check_levels(size, levels)
    check_choice("perturbation", perturbation, PERTURBATIONS)
    if options["grid_size"] is not None:
        check_int("grid_size", options["grid_size"], 1, MAX_GRID)
    if options["output"] is not None:
        check_choice("output", options["output"], OUTPUTS)
    if options["approximation"] is not None and not isinstance(options["approximation"], (bool, np.bool_)):
        raise AttributionError(f"approximation must be True or False, got {shown(options['approximation'])}")
    check_power_of_two("nb_design", options["nb_design"], MAX_DESIGN)
    check_power_of_two("max_design", options["max_design"], MAX_DESIGN)
    check_int("seed", options["seed"], 0)
    if options["batch_size"] is not None:
        check_int("batch_size", options["batch_size"], 1, MAX_BATCH)
    if options["time_budget"] is not None:
        real("time_budget", options["time_budget"], 0, MAX_TIME_BUDGET, low_open=True, error=AttributionError)
    if options["resume"] is not None and not isinstance(options["resume"], Attribution):
        raise AttributionError(f"resume takes an earlier WCAM Attribution, got {type(options['resume']).__name__}")
    if options["progress"] is not None and not callable(options["progress"]):
        raise AttributionError(
            f"progress must be a function progress(done, total) or None, got {shown(options['progress'])}"
        )
    settings = resolved_settings(size, levels, options["grid_size"], options["output"], perturbation,
                                 options["approximation"])
    if size % settings["grid_size"]:
        raise AttributionError(f"grid_size must divide the image side {size}, got {settings['grid_size']}")
    return settings, default_batch_size(loaded) if options["batch_size"] is None else options["batch_size"]
