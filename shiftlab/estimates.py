"""What long work will take on this server now, said before it starts: a WCAM or its refinement, the maps of a
method that runs the model many times, a model's predictions over an image set.

Each estimate counts the work's units (perturbed images, gradient passes, images predicted) and prices them at
a pace from a ``shiftlab.pace.PaceBook``: a short probe of this model when the last measurement is stale,
replaced by the rate of the work that ran (``record_wcam``, ``record_maps``). A pace is kept per model and per
torch thread count, so that a probe taken for a job measures the work as the job's worker will run it
(``shiftlab.jobs.torch_threads``).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from shiftlab.attribution import get_method
from shiftlab.attribution.wcam import count_passes, seconds_per_pass
from shiftlab.attribution.wcam.cost import OVERHEAD
from shiftlab.inference import predict_logits, to_tensor
from shiftlab.models import LoadedModel
from shiftlab.pace import PaceBook, time_per_unit

#: work estimated at or under this many seconds runs at once; above it, the app says the estimate first and runs
#: the work in the job queue
QUICK_SECONDS = 2.0
#: images in a probe batch: this many pixels' worth (64 images at 32 px, 8 at 224 px) …
PROBE_PIXELS = 64 * 32 * 32
#: … and never fewer than this many images
PROBE_MIN_IMAGES = 2


@dataclass(frozen=True)
class WCAMEstimate:
    """A WCAM's forward passes, least (its starting design) and most (every image refined up to ``max_design``),
    and its seconds at the pace measured on this server: expected (``seconds``: as far as runs here refined, the
    most before any has run) and at most, on a ``grid_size`` grid."""

    grid_size: int
    passes: int
    max_passes: int
    expected_passes: int
    seconds: float
    max_seconds: float


def model_key(loaded: LoadedModel) -> tuple[Hashable, ...]:
    """What a pace depends on besides the work: the model, its device and this thread's torch thread count."""
    return loaded.arch, loaded.variant, loaded.input_size, str(loaded.device), torch.get_num_threads()


def _probe_images(loaded: LoadedModel) -> np.ndarray:
    """Random uint8 images at the model's size, as many as a probe batch holds."""
    count = max(PROBE_MIN_IMAGES, PROBE_PIXELS // loaded.input_size**2)
    return np.random.default_rng(0).integers(0, 256, (count, loaded.input_size, loaded.input_size, 3), np.uint8)


def forward_seconds(book: PaceBook, loaded: LoadedModel, n_images: int) -> float:
    """Seconds the model takes to predict ``n_images`` images here now (probe: one batch predicted)."""
    images = _probe_images(loaded)
    probe = lambda: time_per_unit(lambda: predict_logits(loaded.model, images, len(images)), len(images))  # noqa: E731
    return book.estimate(("forward", *model_key(loaded)), n_images, probe)


def _gradient_pass(loaded: LoadedModel) -> float:
    """Seconds per image of a forward and backward pass of a probe batch through the model."""
    x = to_tensor(_probe_images(loaded), loaded.device)

    def run() -> None:
        images = x.clone().requires_grad_(True)
        torch.autograd.grad(loaded.model(images)[:, 0].sum(), images)  # the input's gradient only, as a method takes

    return time_per_unit(run, len(x))


def map_seconds(book: PaceBook, loaded: LoadedModel, method: str, options: dict[str, Any], n_images: int) -> float:
    """Seconds ``method``'s maps of ``n_images`` images with ``options`` take here now: its passes
    (``AttributionMethod.passes``) at the pace its last maps ran at when recent, else at a probe's gradient
    pass; a WCAM by ``wcam_estimate``."""
    if method == "wcam":
        return wcam_estimate(book, loaded, n_images, options).seconds
    method_class = get_method(method)
    passes = n_images * method_class.passes({**method_class.defaults(), **options})
    measured = book.fresh(("maps", method, *model_key(loaded)))
    if measured is not None:
        return passes * measured
    return book.estimate(("gradient", *model_key(loaded)), passes, lambda: _gradient_pass(loaded))


def record_maps(book: PaceBook, loaded: LoadedModel, method: str, options: dict[str, Any], n_images: int,
                seconds: float) -> None:
    """What a run of ``method`` measured: ``n_images`` maps with ``options`` in ``seconds``."""
    method_class = get_method(method)
    passes = n_images * method_class.passes({**method_class.defaults(), **options})
    book.record(("maps", method, *model_key(loaded)), passes, seconds)


def _wcam_key(loaded: LoadedModel, options: dict[str, Any]) -> tuple[Hashable, ...]:
    """A WCAM pace's key: the model and the options a perturbed image's cost depends on."""
    shape = tuple(options.get(name) for name in ("levels", "grid_size", "perturbation", "batch_size"))
    return ("wcam", *shape, *model_key(loaded))


def _refinement_key(loaded: LoadedModel, options: dict[str, Any]) -> tuple[Hashable, ...]:
    """How far WCAMs of this model with these options refined here: its key (the design sizes and what a
    perturbed image costs)."""
    sizes = tuple(options.get(name) for name in ("nb_design", "max_design"))
    return ("wcam refinement", *sizes, *_wcam_key(loaded, options))


def wcam_estimate(book: PaceBook, loaded: LoadedModel, n_images: int, options: dict[str, Any],
                  designs_done: int = 0) -> WCAMEstimate:
    """What a WCAM of ``n_images`` images with ``options`` will take here now; with ``designs_done``, a run that
    resumes from that many design points per image (a refinement), whose points done are not run again.

    A run refines itself while its images are not stable: the expected passes are the least times how far the
    last run of this kind here refined, and before any has run, the most (``bench/bench_wcam.py``: every
    ResNet-20 image of the sample refines to the most)."""
    passes = count_passes(loaded, n_images, **options)
    least, most = passes.forward_passes, passes.max_forward_passes
    if designs_done:
        reused = count_passes(loaded, n_images, **{**options, "nb_design": designs_done, "max_design": designs_done})
        least, most = least - reused.forward_passes, most - reused.forward_passes
    refined = book.measurement(_refinement_key(loaded, options))
    expected = round(min(most, least * refined.seconds_per_unit)) if refined and not designs_done else most
    pace = OVERHEAD * book.seconds_per_unit(_wcam_key(loaded, options), lambda: seconds_per_pass(loaded, **options))
    return WCAMEstimate(passes.grid_size, least, most, expected, expected * pace, most * pace)


def record_wcam(book: PaceBook, loaded: LoadedModel, n_images: int, options: dict[str, Any], passes: int,
                seconds: float, resumed: bool = False) -> None:
    """What a WCAM run of ``n_images`` images measured: ``passes`` perturbed images (its estimator's time
    included) in ``seconds``, and, unless it ``resumed`` an earlier run, how far it refined."""
    book.record(_wcam_key(loaded, options), passes * OVERHEAD, seconds)
    if not resumed:  # "seconds per unit" here: passes run per pass of the starting design
        book.record(_refinement_key(loaded, options), count_passes(loaded, n_images, **options).forward_passes, passes)
