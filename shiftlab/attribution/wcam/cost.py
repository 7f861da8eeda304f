"""What a WCAM call will cost, said before it starts: forward passes, and seconds at a pace measured on the spot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from shiftlab.argcheck import whole
from shiftlab.attribution.base import AttributionError
from shiftlab.attribution.wavelets import wavedec
from shiftlab.attribution.wcam.design import DesignRun
from shiftlab.attribution.wcam.method import WCAM
from shiftlab.attribution.wcam.settings import checked_settings
from shiftlab.attribution.wcam.threads import ordered_map, side_by_side_workers
from shiftlab.models import LoadedModel
from shiftlab.pace import time_per_unit

#: the most images ``estimate_cost`` prices
MAX_COST_IMAGES = 100_000
#: WCAM's time over the time of its perturbed batches (masks, inverse wavelet transform, model): the
#: estimator and the convergence bootstrap (measured: docs/wcam.md#measured-constants)
OVERHEAD = 1.05
#: perturbed images timed on a CPU to measure the pipeline's pace (after one warm-up image): one batch of a
#: run, at most 64 at 32 px and 8 at 224 px
#: A GPU times one whole batch of ``batch_size``: it is fast there, and smaller batches underuse the device.
PROBE_PIXELS = 64 * 32 * 32


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


@dataclass(frozen=True)
class WCAMPasses:
    """The forward passes a WCAM call makes: from its starting design (``nb_design``) to every image refined up to
    ``max_design``, on a ``grid_size`` grid."""

    grid_size: int
    forward_passes: int
    max_forward_passes: int


def count_passes(loaded: LoadedModel, n_images: int = 1, **options: Any) -> WCAMPasses:
    """The forward passes ``attribute(loaded, images, "wcam", **options)`` makes on ``n_images`` images, counted:
    nothing runs. ``n_images`` is an integer from 1 to ``MAX_COST_IMAGES``; the options are checked as
    ``attribute`` checks them."""
    n_images = whole("n_images", n_images, 1, MAX_COST_IMAGES, AttributionError)
    options = _every_option(options)
    settings, _ = checked_settings(loaded, options)
    start, cap = options["nb_design"], max(options["nb_design"], options["max_design"])
    rows = n_images * (settings["grid_size"] ** 2 + 2)
    return WCAMPasses(settings["grid_size"], start * rows, cap * rows)


@torch.inference_mode()
def seconds_per_pass(loaded: LoadedModel, **options: Any) -> float:
    """Seconds per perturbed image through WCAM's pipeline with ``options`` on the model's device, measured now (a
    fraction of a second at 32 px, a few seconds for EfficientNet-Lite0 at 224 px on a CPU), run as a WCAM runs
    them on this thread's torch thread count."""
    options = _every_option(options)
    settings, batch_size = checked_settings(loaded, options)
    return seconds_per_perturbed_image(loaded, options["levels"], settings, options["perturbation"], batch_size)


def estimate_cost(loaded: LoadedModel, n_images: int = 1, **options: Any) -> WCAMCost:
    """Forward passes and seconds that ``attribute(loaded, images, "wcam", **options)`` will take on n_images.

    Times batches of perturbed random images through WCAM's pipeline on the
    model's device, run as a WCAM runs them (``seconds_per_pass``), so a page can
    say honestly what a run will cost. ``n_images`` is an integer from 1 to ``MAX_COST_IMAGES``; the options
    are checked as ``attribute`` checks them.
    """
    passes = count_passes(loaded, n_images, **options)
    return WCAMCost(passes.grid_size, passes.forward_passes, passes.max_forward_passes,
                    seconds_per_pass(loaded, **options))


def _every_option(options: dict[str, Any]) -> dict[str, Any]:
    """WCAM's defaults updated by ``options``; ``AttributionError`` naming any it does not take."""
    unknown = sorted(set(options) - set(WCAM.defaults()))
    if unknown:
        raise AttributionError(
            f"unknown option(s) {', '.join(unknown)} for wcam; options: {', '.join(WCAM.defaults())}"
        )
    return {**WCAM.defaults(), **options}


def seconds_per_perturbed_image(
    loaded: LoadedModel, levels: int, settings: dict[str, Any], perturbation: str, batch_size: int
) -> float:
    """Seconds per image of batches of random design rows on a random image, through a run's own ``forward``:
    masks, inverse transform, model.

    On a CPU each worker of ``ordered_map`` runs one batch, side by side, as
    in a run. The first round warms up on one row per worker (on a GPU, on a whole batch: it picks its kernels,
    and the timer waits for the device), so the pace is that of a run's batches
    (``shiftlab.pace.time_per_unit``: the median of a few rounds ignores one slowed by a neighbour).
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

    def one_round(batches: list[torch.Tensor]) -> None:
        for _ in ordered_map(lambda rows: run.forward(0, rows), iter(batches), device):
            pass
        if on_gpu:
            torch.cuda.synchronize(device)

    return time_per_unit(lambda: one_round([design] * workers), probe * workers,
                         warm_up=lambda: one_round([design if on_gpu else design[:1]] * workers))
