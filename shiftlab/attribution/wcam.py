"""WCAM, the wavelet scale attribution method (Kasmi et al. 2023, "Assessment of the reliability of a
model's decision by generalizing attribution to the wavelet domain"), with a convergence figure.

The image is Haar-transformed into its S×S dyadic coefficient array. Each
point of a scrambled Sobol pick-freeze design (``shiftlab.attribution.sobol``)
gives grid_size² + 2 masks of grid_size × grid_size cells, resized (nearest)
over the whole dyadic array; the coefficients are multiplied by a mask and
transformed back, and the model's output for the target class is recorded.
Jansen's estimator turns the outputs into a total-order Sobol index per grid
cell: the WCAM, read in the wavelet domain. All masks of a batch are applied
and inverted at once in torch on the model's device.

Convergence: a bootstrap over the design's points (no extra forward pass)
predicts how far another run with another seed would land: the expected
correlation of the two maps and the expected total-variation distance of
their spectral profiles, with a verdict (stable when both meet
``STABLE_CORRELATION`` and ``STABLE_DISTANCE`` with the margin
``VERDICT_MARGIN``) and standard deviations for error bars. With
``max_design`` above ``nb_design`` the design is doubled, reusing the points
already run, until both meet the thresholds with the wider ``STOP_MARGIN``; ``resume``
continues an earlier result the same way. Both end equal to a single run of
the final design size, since the design of n points is the first n points of
the larger one.

Two perturbations:

- ``"normalized"`` (default): the coefficients are those of the image in the
  network's normalised input space, a mask value of 0 shrinks a coefficient
  to that of the flat image of the normalisation mean colour (the zero of that
  space), and the perturbed image goes to the network as it is.
- ``"reference"``: as the published code (gabrielkasmi/spectral-attribution)
  does it: coefficients of the pixel image, the approximation band removed
  from every mask, each perturbed image min-max rescaled over its three
  channels and truncated to 8 bits before normalisation, and the probability
  of the target explained. The rescaling couples every coefficient through one
  global contrast stretch, so a mask changes the image's contrast, not only
  the masked content.

Class indices are int64 (no uint8 wrap-around above class 255).
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from shiftlab.argcheck import real, shown, whole
from shiftlab.attribution.base import Attribution, AttributionError, AttributionMethod, check_choice, check_int
from shiftlab.attribution.sobol import (
    bootstrap_shares,
    check_power_of_two,
    jansen_total_order,
    pick_freeze,
    sobol_points,
)
from shiftlab.attribution.wavelets import check_levels, project_to_image, spectral_profile, wavedec, waverec
from shiftlab.device import keep_freed_memory, one_thread_workers, side_by_side_threads
from shiftlab.models import LoadedModel

#: what the Sobol indices explain, as a function of the logits l and the target t
OUTPUTS = ("probability", "logit", "log_probability", "log_odds")
#: how a mask perturbs the image (see the module docstring)
PERTURBATIONS = ("normalized", "reference")
DEFAULT_OUTPUT = "log_odds"
#: a WCAM is "stable" when another seed is expected to give a map this correlated …
STABLE_CORRELATION = 0.9
#: … and a spectral profile (share per level) at most this far in total variation
STABLE_DISTANCE = 0.05
#: a run doubles its design until its expected figures meet the thresholds tightened by this margin
#: (correlation >= 0.925, distance <= 0.0375): a run that stops at the first size whose noisy estimate passes
#: has stopped on a lucky estimate (optional stopping), so stopping at the thresholds themselves leaves too
#: many runs short of them (bench_wcam_convergence.py, 32 images: 9 of 32 seed pairs missed a target, 2 with
#: this margin, at 16,632 model runs per image on average instead of 13,332)
STOP_MARGIN = 0.75
#: … and is called stable when they meet them tightened by this one (>= 0.915, <= 0.0425): a run that
#: stopped is stable, one that reached ``max_design`` short of it is noisy. On the same images the verdict
#: flags both seed pairs that missed a target and 2 of the 30 others; on 16 held-out images, 2 of the 3
#: that missed and 1 of the 13 others
VERDICT_MARGIN = 0.85
#: bootstrap resamples behind the convergence figure (milliseconds of numpy per image)
BOOTSTRAP_REPLICATES = 200
#: the bootstrap's variance is scaled up by this factor: Jansen's squared differences are heavy-tailed and
#: resampling a design underestimates how far another seed lands (bench_wcam_convergence.py: measured
#: seed-to-seed profile distance over the predicted one, medians on 32 images, 1.1 to 1.35 from 32 to 128 designs)
VARIANCE_INFLATION = 1.5
#: pixels per forward pass on a GPU, and the fewest images (see ``default_batch_size``)
GPU_BATCH_PIXELS = 1 << 22
GPU_MIN_BATCH_SIZE = 128
#: the most values (cells × pixels × 3) of the cell images a run keeps per image to perturb by matrix products
#: (``cell_images``): every grid at 32 px; at 224 px the inverse transform is used (grid 32: 154 M values)
CELL_IMAGE_VALUES = 1 << 22
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
#: the most images ``estimate_cost`` prices
MAX_COST_IMAGES = 100_000

Progress = Callable[[int, int], None]


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
    ``GPU_MIN_BATCH_SIZE`` images (4,096 images at 32 px, 128 at 224 px): 128
    images at 32 px left an H200 mostly idle on ResNet-20 (0.83 s an image
    against 0.15 s with 4,224).
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


def grid_masks(rows: torch.Tensor, size: int, levels: int, approximation: bool) -> torch.Tensor:
    """B × grid² design rows -> B×S×S masks over the dyadic array (each grid cell a constant block).

    With ``approximation=False`` the approximation band is zeroed in every mask.
    """
    grid = int(round(rows.shape[1] ** 0.5))
    cell = size // grid
    masks = rows.view(-1, grid, grid).repeat_interleave(cell, 1).repeat_interleave(cell, 2)
    if not approximation:
        corner = size >> levels
        masks[:, :corner, :corner] = 0.0
    return masks


def explained_output(logits: torch.Tensor, target: int, output: str) -> torch.Tensor:
    """float64 output explained for each row of B × K ``logits``: one of ``OUTPUTS``.

    probability p_t saturates at 1 for a confident model, so its variance over
    masks, the denominator of every Sobol index, becomes tiny and noisy; the
    log-odds log(p_t / (1 - p_t)) = l_t - logsumexp_{k≠t} l_k is the same
    ranking of images without that ceiling.
    """
    logits = logits.double()
    if output == "probability":
        return torch.softmax(logits, 1)[:, target]
    if output == "logit":
        return logits[:, target]
    if output == "log_probability":
        return torch.log_softmax(logits, 1)[:, target]
    others = torch.cat([logits[:, :target], logits[:, target + 1 :]], 1)
    return logits[:, target] - torch.logsumexp(others, 1)


def min_max_uint8(images: torch.Tensor) -> torch.Tensor:
    """Each B×3×S×S image min-max rescaled over all its values to [0, 1], then truncated to 8 bits.

    The reference code's ``(NormalizeData(x) * 255).astype(np.uint8)``; a flat
    image (max = min), where it divides by zero, becomes black here.
    """
    low = images.amin((1, 2, 3), keepdim=True)
    spread = (images.amax((1, 2, 3), keepdim=True) - low).clamp_min(torch.finfo(images.dtype).tiny)
    return torch.floor((images - low) / spread * 255) / 255


def perturb(
    coefficients: torch.Tensor,
    rows: torch.Tensor,
    levels: int,
    approximation: bool,
    normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
    cells: torch.Tensor | None = None,
) -> torch.Tensor:
    """The network inputs (B×3×S×S) of one image's 3×S×S dyadic ``coefficients`` masked by B design ``rows``.

    Without ``normalize`` the coefficients are already in the network's input
    space and the inverse transform goes to the network as it is; with it (the
    reference perturbation) they are pixel coefficients, and each perturbed
    image is min-max rescaled and truncated to 8 bits before ``normalize``.
    With ``cells`` (``cell_images`` of these coefficients) the inverse
    transforms are one matrix product: the same images up to float rounding.
    """
    if cells is None:
        masks = grid_masks(rows, coefficients.shape[-1], levels, approximation)
        images = waverec(coefficients[None] * masks[:, None], levels)
    else:
        images = (rows.to(cells.dtype) @ cells.flatten(1)).view(-1, *cells.shape[1:])
    return images if normalize is None else normalize(min_max_uint8(images))


def cell_images(coefficients: torch.Tensor, grid: int, levels: int, approximation: bool) -> torch.Tensor | None:
    """grid² × 3×S×S: the inverse transform of ``coefficients`` (3×S×S dyadic) kept on one grid cell each, or
    None when they would hold more than ``CELL_IMAGE_VALUES`` values.

    The inverse wavelet transform is linear, so an image perturbed by design
    row r is the sum over cells of r_k times cell image k: a batch's inverse
    transforms become one matrix product. ptwt's transposed convolutions
    took 8 % of a ResNet-20 run at 32 px; the product takes under 1 %.
    """
    size = coefficients.shape[-1]
    if grid * grid * coefficients.numel() > CELL_IMAGE_VALUES:
        return None
    one_hot = torch.eye(grid * grid, dtype=coefficients.dtype, device=coefficients.device)
    return waverec(coefficients[None] * grid_masks(one_hot, size, levels, approximation)[:, None], levels)


def point_chunks(start: int, stop: int, per_batch: int) -> list[tuple[int, int]]:
    """Split design points [start, stop) at multiples of ``per_batch`` (a power of two) and at powers of two.

    Batches never straddle a power of two, so a run of n points and a refined
    run extended from n/2 points send exactly the same batches to the model:
    the same outputs to the bit.
    """
    chunks = []
    while start < stop:
        end = min(stop, (start // per_batch + 1) * per_batch, max(1, 2 * start) if start < per_batch else stop)
        chunks.append((start, end))
        start = end
    return chunks


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
    levels_b, subbands_b = spectral_profile(cells_to_dyadic(torch.from_numpy(resampled.astype(np.float32)), size), levels)
    half, widen = len(levels_b) // 2, VARIANCE_INFLATION**0.5
    distance = 0.5 * (levels_b[:half] - levels_b[half : 2 * half]).abs().sum(-1).mean().item() * widen if half else 1.0
    return Convergence(
        agreement,
        float(distance),
        levels_b.std(0).numpy() * widen,
        subbands_b.std(0).numpy() * widen,
        resampled.std(0) * indices.sum() * widen,
    )


def image_digest(image: torch.Tensor) -> str:
    """A fingerprint of one input image, so that ``resume`` refuses the outputs of another image."""
    return hashlib.sha256(image.detach().cpu().numpy().tobytes()).hexdigest()


class WCAM(AttributionMethod):
    """Sobol total-order importance of wavelet-domain regions for the target class, with its convergence.

    Options: ``levels`` (Haar levels, default 3; the image side must be
    divisible by 2**levels), ``grid_size`` (mask grid side, dividing the image
    side, at most ``MAX_GRID`` = 64; None: ``default_grid``, 8 at 32 px and 32 at 224 px), ``nb_design``
    (Sobol design points to start with, a power of two from 2 to ``MAX_DESIGN`` = 4096; the model runs
    nb_design · (grid_size² + 2) times per image), ``max_design`` (double the
    design, reusing the points done, while the estimate is not stable, up to
    this many points, a power of two up to ``MAX_DESIGN``; at or below ``nb_design``: no refinement), ``output``
    (what is explained, one of ``OUTPUTS``; None: log-odds, or probability for
    the reference perturbation), ``perturbation`` (one of ``PERTURBATIONS``,
    see the module), ``approximation`` (False removes the approximation band
    from every perturbed image; None: True, or False for the reference
    perturbation), ``seed`` (scrambling of the Sobol sequence and of the
    bootstrap, an integer >= 0; same seed, same maps), ``batch_size`` (most perturbed images
    per forward pass, from 1 to ``MAX_BATCH`` = 16384; None: ``default_batch_size``), ``time_budget`` (seconds
    in (0, ``MAX_TIME_BUDGET``]: no doubling that would end
    past it; None: no limit, results depend only on the options), ``resume``
    (an earlier WCAM ``Attribution`` of the same images and options: its
    design points are reused, not run again) and ``progress`` (called as
    ``progress(done, total)`` in perturbed images after every forward pass;
    ``total`` grows when a refinement is decided).

    ``maps`` is the spatial WCAM: each coefficient's importance spread over
    the pixels it describes, summed over sub-bands. Extras (batched over
    images): ``wavelet_map`` (N×S×S WCAM in the dyadic layout of
    ``shiftlab.attribution.wavelets``), ``sobol_indices`` (N×grid×grid),
    ``spectral_levels`` (N×(levels+1) share of importance in the approximation
    then in each detail level, coarse to fine; sums to 1),
    ``spectral_subbands`` (N×levels×3 shares of the h, v and d details of each
    level); the convergence figure: ``map_agreement`` and ``profile_distance``
    (N, see ``Convergence``), ``stable`` (N bools) and ``verdict`` (N strings,
    "stable" or "noisy"), ``spectral_levels_std``, ``spectral_subbands_std``
    and ``sobol_std`` (error bars shaped as the values); ``nb_design`` and
    ``forward_passes`` (N ints: design points and model runs behind each
    image, those reused included); ``design_outputs`` (list of N float64
    n × (grid² + 2) model outputs, what ``resume`` reuses), ``image_digest``
    (N strings) and ``settings`` (the resolved grid_size, output, approximation).
    """

    name = "wcam"

    def check_options(self, options: dict[str, Any]) -> None:
        checked_settings(self.loaded, options)

    def _compute(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        *,
        levels: int = 3,
        grid_size: int | None = None,
        nb_design: int = 32,
        max_design: int = 256,
        output: str | None = None,
        perturbation: str = "normalized",
        approximation: bool | None = None,
        seed: int = 0,
        batch_size: int | None = None,
        time_budget: float | None = None,
        resume: Attribution | None = None,
        progress: Progress | None = None,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        started = time.monotonic()
        size = x.shape[-1]
        reference = perturbation == "reference"
        settings = resolved_settings(size, levels, grid_size, output, perturbation, approximation)
        batch_size = default_batch_size(self.loaded) if batch_size is None else batch_size
        digests = [image_digest(image) for image in x]
        done = reused_outputs(resume, self.name, levels, perturbation, seed, settings, digests, target)
        space = x if reference else self.model.normalize(x)
        run = DesignRun(self, self.model.inference_net(), wavedec(space, levels), target, levels, perturbation, seed,
                        settings, batch_size, progress)
        outputs = run.until_converged(done, nb_design, max(nb_design, max_design), started, time_budget)
        return self._results(outputs, size, levels, seed, settings, digests)

    @staticmethod
    def _results(
        outputs: list[np.ndarray], size: int, levels: int, seed: int, settings: dict[str, Any], digests: list[str]
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """The maps and extras of every image from its design outputs."""
        grid = settings["grid_size"]
        indices = np.stack([jansen_total_order(o) for o in outputs]).astype(np.float32)
        figures = [convergence(o, i, size, levels, seed) for o, i in zip(outputs, indices)]
        cells = torch.from_numpy(indices)
        wavelet_map = cells_to_dyadic(cells, size)
        per_level, per_subband = spectral_profile(wavelet_map, levels)
        stable = np.array([f.stable for f in figures])
        extras = {
            "wavelet_map": wavelet_map.numpy(),
            "sobol_indices": cells.view(-1, grid, grid).numpy(),
            "spectral_levels": per_level.numpy(),
            "spectral_subbands": per_subband.numpy(),
            "map_agreement": np.array([f.map_agreement for f in figures]),
            "profile_distance": np.array([f.profile_distance for f in figures]),
            "stable": stable,
            "verdict": verdict_words(stable),
            "spectral_levels_std": np.stack([f.levels_std for f in figures]),
            "spectral_subbands_std": np.stack([f.subbands_std for f in figures]),
            "sobol_std": np.stack([f.cells_std for f in figures]).reshape(-1, grid, grid).astype(np.float32),
            "nb_design": np.array([len(o) for o in outputs]),
            "forward_passes": np.array([o.size for o in outputs]),
            "design_outputs": outputs,
            "image_digest": digests,
            "settings": settings,
        }
        return project_to_image(wavelet_map, levels), extras


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
        raise AttributionError(f"progress must be a function progress(done, total) or None, got {shown(options['progress'])}")
    settings = resolved_settings(size, levels, options["grid_size"], options["output"], perturbation,
                                 options["approximation"])
    if size % settings["grid_size"]:
        raise AttributionError(f"grid_size must divide the image side {size}, got {settings['grid_size']}")
    return settings, default_batch_size(loaded) if options["batch_size"] is None else options["batch_size"]


def reused_outputs(
    resume: Attribution | None,
    method: str,
    levels: int,
    perturbation: str,
    seed: int,
    settings: dict[str, Any],
    digests: list[str],
    target: torch.Tensor,
) -> list[np.ndarray]:
    """The design outputs of ``resume``, reused whole by this run once checked (empty arrays without one)."""
    if resume is None:
        return [np.empty((0, settings["grid_size"] ** 2 + 2)) for _ in digests]
    if not isinstance(resume, Attribution) or resume.method != method:
        raise AttributionError(f"resume takes an earlier WCAM Attribution, got {type(resume).__name__}")
    same = {"levels": levels, "perturbation": perturbation, "seed": seed}
    mismatched = [k for k, v in same.items() if resume.options.get(k) != v]
    mismatched += [k for k, v in settings.items() if resume.extras["settings"].get(k) != v]
    if mismatched:
        raise AttributionError(f"resume was computed with other {', '.join(mismatched)}; its designs cannot be reused")
    if resume.extras["image_digest"] != digests or resume.target.tolist() != target.tolist():
        raise AttributionError("resume explains other images or other targets; its designs cannot be reused")
    return list(resume.extras["design_outputs"])


@dataclass
class DesignRun:
    """Runs design points of every image through the model and keeps the progress count."""

    method: WCAM
    net: torch.nn.Module  # the model's ``inference_net``
    coefficients: torch.Tensor  # N×3×S×S dyadic coefficients (pixel or normalised space)
    target: torch.Tensor
    levels: int
    perturbation: str
    seed: int
    settings: dict[str, Any]
    batch_size: int
    progress: Progress | None
    done: int = 0
    total: int = 0
    cells: list[torch.Tensor | None] = field(init=False)

    def __post_init__(self) -> None:
        grid, approximation = self.settings["grid_size"], self.settings["approximation"]
        self.cells = [cell_images(c, grid, self.levels, approximation) for c in self.coefficients]

    def until_converged(
        self, outputs: list[np.ndarray], nb_design: int, cap: int, started: float, budget: float | None
    ) -> list[np.ndarray]:
        """Extend every image's outputs to ``nb_design`` points, then double those not converged while allowed."""
        sizes = [max(nb_design, len(o)) for o in outputs]
        outputs = self.extend(outputs, sizes)
        size, levels = self.coefficients.shape[-1], self.levels
        while True:
            unconverged = [
                i
                for i, o in enumerate(outputs)
                if 2 * len(o) <= cap and not convergence(o, jansen_total_order(o), size, levels, self.seed).converged
            ]
            if not unconverged or self.past_budget(sum(len(outputs[i]) for i in unconverged), started, budget):
                return outputs
            outputs = self.extend(outputs, [2 * len(o) if i in unconverged else len(o) for i, o in enumerate(outputs)])

    def past_budget(self, points: int, started: float, budget: float | None) -> bool:
        """Whether running ``points`` more design points would end past ``budget`` seconds, at this run's pace."""
        if budget is None or not self.done:
            return False
        elapsed = time.monotonic() - started
        return elapsed + elapsed / self.done * points * (self.settings["grid_size"] ** 2 + 2) > budget

    def extend(self, outputs: list[np.ndarray], sizes: list[int]) -> list[np.ndarray]:
        """Each image's outputs extended to ``sizes[i]`` >= ``len(outputs[i])`` design points."""
        rows = self.settings["grid_size"] ** 2 + 2
        self.total += sum((s - len(o)) * rows for s, o in zip(sizes, outputs))
        return [
            np.concatenate([o, self.run_points(i, len(o), s)]) if s > len(o) else o
            for i, (o, s) in enumerate(zip(outputs, sizes))
        ]

    def run_points(self, image: int, start: int, stop: int) -> np.ndarray:
        """(stop - start) × (grid² + 2) float64 outputs of design points [start, stop) for one image."""
        dim = self.settings["grid_size"] ** 2

        def counted(rows: torch.Tensor) -> tuple[int, torch.Tensor]:
            return len(rows), self.forward(image, rows)

        results = []
        for count, output in ordered_map(counted, self.design_batches(start, stop), self.coefficients.device):
            results.append(output)
            self.done += count
            if self.progress is not None:
                self.progress(self.done, self.total)
        values = torch.cat(results).cpu().numpy()
        return values.reshape(stop - start, dim + 2, *values.shape[1:])

    def design_batches(self, start: int, stop: int) -> Iterator[torch.Tensor]:
        """The design rows of points [start, stop), on the images' device, at most ``batch_size`` rows a batch."""
        dim = self.settings["grid_size"] ** 2
        per_batch = 1 << max(0, (self.batch_size // (dim + 2)).bit_length() - 1)
        a, b = sobol_points(dim, start, stop, self.seed)  # drawn once: a scrambled engine costs ms to build
        for first, last in point_chunks(start, stop, per_batch):
            design = torch.from_numpy(pick_freeze(a[first - start : last - start], b[first - start : last - start]))
            yield from design.to(self.coefficients.device).split(self.batch_size)

    @torch.inference_mode()
    def forward(self, image: int, rows: torch.Tensor) -> torch.Tensor:
        """The explained output of one image perturbed by each design row."""
        model = self.method.model
        rescale = rescaler(model, self.perturbation)
        images = perturb(self.coefficients[image], rows, self.levels, self.settings["approximation"], rescale,
                         self.cells[image])
        return self.explain(perturbed_logits(self.net, images), image)

    def explain(self, logits: torch.Tensor, image: int) -> torch.Tensor:
        """What is recorded of each perturbed image's logits (the benchmark records them all)."""
        return explained_output(logits, int(self.target[image]), self.settings["output"])


def rescaler(model: torch.nn.Module, perturbation: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """What ``perturb`` maps pixel images into the network's input space with: the model's normalisation for
    the reference perturbation (it perturbs pixels), None for the default (it perturbs the network's inputs)."""
    return model.normalize if perturbation == "reference" else None


def perturbed_logits(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The network's logits of a batch of perturbed images."""
    # channels-last takes oneDNN's faster convolution path on CPU (about 2x on ResNet-20), same values
    return net(images.contiguous(memory_format=torch.channels_last))


def ordered_map(function: Callable[[Any], Any], batches: Iterator, device: torch.device) -> Iterator:
    """function of each batch, in order; on a CPU the calls run side by side.

    Each of ``torch.get_num_threads()`` workers runs whole batches on one
    torch thread, which keeps the cores busier than one batch on all of them
    (ResNet-20's 66-image batches on 2 cores: 0.48 against 0.64 ms per image).
    A batch's values do not depend on the thread count that computed it (the
    same bits for ResNet-20; ``tests/test_wcam.py``), so neither do the maps.
    """
    if device.type == "cpu":
        keep_freed_memory()  # each batch allocates the same activations again
    workers = side_by_side_workers(device)
    if workers == 1:
        return map(function, batches)
    return bounded_map(one_thread_workers(workers, "wcam"), function, batches, 2 * workers)


def side_by_side_workers(device: torch.device) -> int:
    """How many batches ``ordered_map`` runs at once on ``device``: torch's thread count on a CPU whose thread
    count is per thread, else 1."""
    return side_by_side_threads() if device.type == "cpu" else 1


def bounded_map(pool: ThreadPoolExecutor, function: Callable, items: Iterator, ahead: int) -> Iterator:
    """pool.map, but submitting at most ``ahead`` items beyond the one awaited.

    Written here because ``Executor.map`` submits every item at once, and
    WCAM's batches at 224 px would then all sit in memory together.
    """
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


#: WCAM's time over the time of its perturbed batches (masks, inverse wavelet transform, model): the
#: estimator and the convergence bootstrap (bench_wcam.py, resnet20 at 32 px on 2 CPU threads)
OVERHEAD = 1.05
#: perturbed images timed on a CPU to measure the pipeline's pace (after one warm-up image): one batch of a
#: run, at most 64 at 32 px and 8 at 224 px
#: A GPU times one whole batch of ``batch_size``: it is fast there, and smaller batches underuse the device.
PROBE_PIXELS = 64 * 32 * 32
PROBE_REPEATS = 3
PROBE_SECONDS = 0.5


@dataclass(frozen=True)
class WCAMCost:
    """What a WCAM call will cost, said before it starts: forward passes and seconds, least and most.

    The least is the starting design (``nb_design``), the most every image
    refined up to ``max_design``. Seconds are the perturbed images at the
    pace just measured through WCAM's own pipeline on this model and device,
    times ``OVERHEAD`` for the estimator (measured by ``bench/bench_wcam.py``).
    """

    grid_size: int
    forward_passes: int
    max_forward_passes: int
    seconds_per_pass: float

    @property
    def seconds(self) -> float:
        return self.forward_passes * self.seconds_per_pass * OVERHEAD

    @property
    def max_seconds(self) -> float:
        return self.max_forward_passes * self.seconds_per_pass * OVERHEAD


@torch.inference_mode()
def estimate_cost(loaded: LoadedModel, n_images: int = 1, **options: Any) -> WCAMCost:
    """Forward passes and seconds that ``attribute(loaded, images, "wcam", **options)`` will take on n_images.

    Times batches of perturbed random images through WCAM's pipeline on the
    model's device, run as a WCAM runs them (a fraction of a second at 32 px,
    a few seconds for EfficientNet-Lite0 at 224 px on a CPU), so a page can
    say honestly what a run will cost. ``n_images`` is an integer from 1 to ``MAX_COST_IMAGES``; the options
    are checked as ``attribute`` checks them.
    """
    unknown = sorted(set(options) - set(WCAM.defaults()))
    if unknown:
        raise AttributionError(f"unknown option(s) {', '.join(unknown)} for wcam; options: {', '.join(WCAM.defaults())}")
    n_images = whole("n_images", n_images, 1, MAX_COST_IMAGES, AttributionError)
    options = {**WCAM.defaults(), **options}
    settings, batch_size = checked_settings(loaded, options)
    levels = options["levels"]
    start, cap = options["nb_design"], max(options["nb_design"], options["max_design"])
    rows = n_images * (settings["grid_size"] ** 2 + 2)
    per_pass = seconds_per_perturbed_image(loaded, levels, settings, options["perturbation"], batch_size)
    return WCAMCost(settings["grid_size"], start * rows, cap * rows, per_pass)


def seconds_per_perturbed_image(
    loaded: LoadedModel, levels: int, settings: dict[str, Any], perturbation: str, batch_size: int
) -> float:
    """Seconds per image of batches of random design rows on a random image, through a run's own ``forward``:
    masks, inverse transform, model.

    On a CPU each worker of ``ordered_map`` runs one batch, side by side, as
    in a run. The first round warms up (on a GPU it picks its kernels, and
    the timer waits for the device), so the pace is that of a run's batches;
    the median of up to ``PROBE_REPEATS`` rounds (while they take under
    ``PROBE_SECONDS`` together) ignores one slowed by a neighbour.
    """
    size, device = loaded.input_size, loaded.device
    on_gpu = device.type == "cuda"
    probe = batch_size if on_gpu else min(batch_size, max(8, PROBE_PIXELS // size**2))
    workers = side_by_side_workers(device)
    generator = torch.Generator().manual_seed(0)
    coefficients = wavedec(torch.rand(1, 3, size, size, generator=generator), levels).to(device)
    design = torch.rand(probe, settings["grid_size"] ** 2, generator=generator).to(device)
    run = DesignRun(WCAM(loaded), loaded.model.inference_net(), coefficients, torch.zeros(1, dtype=torch.long),
                    levels, perturbation, 0, settings, batch_size, None)

    def round_seconds(batches: list[torch.Tensor]) -> float:
        began = time.perf_counter()
        for _ in ordered_map(lambda rows: run.forward(0, rows), iter(batches), device):
            pass
        if on_gpu:
            torch.cuda.synchronize(device)
        return time.perf_counter() - began

    round_seconds([design if on_gpu else design[:1]] * workers)
    rounds: list[float] = []
    while len(rounds) < PROBE_REPEATS and sum(rounds) < PROBE_SECONDS:
        rounds.append(round_seconds([design] * workers))
    return statistics.median(rounds) / (probe * workers)
