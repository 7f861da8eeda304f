"""WCAM, the wavelet scale attribution method (Kasmi et al. 2023, "Assessment of the reliability of a
model's decision by generalizing attribution to the wavelet domain"): the method class and its results.

The image is Haar-transformed into its S×S dyadic coefficient array. Each
point of a scrambled Sobol pick-freeze design (``shiftlab.attribution.sobol``)
gives grid_size² + 2 masks of grid_size × grid_size cells, resized (nearest)
over the whole dyadic array; the coefficients are multiplied by a mask and
transformed back (``perturbation``), and the model's output for the target
class is recorded (``design``). Jansen's estimator turns the outputs into a
total-order Sobol index per grid cell: the WCAM, read in the wavelet domain,
with its convergence figure (``convergence``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from shiftlab.attribution.base import Attribution, AttributionMethod, register_method
from shiftlab.attribution.sobol import jansen_total_order
from shiftlab.attribution.wavelets import project_to_image, spectral_profile, wavedec
from shiftlab.attribution.wcam.convergence import cells_to_dyadic, convergence
from shiftlab.attribution.wcam.design import DesignRun, Progress, image_digest, reused_outputs
from shiftlab.attribution.wcam.extras import WCAMExtras
from shiftlab.attribution.wcam.settings import checked_settings, default_batch_size, resolved_settings


@register_method
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
    see ``perturbation``), ``approximation`` (False removes the approximation band
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
    the pixels it describes, summed over sub-bands. Extras (a ``WCAMExtras``, batched
    over images): ``wavelet_map`` (N×S×S WCAM in the dyadic layout of
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
    title = "WCAM (wavelet Sobol sensitivity)"
    description = (
        "Which wavelet coefficients — a position at a scale — the class probability depends on: Sobol sensitivity to "
        "random masks in the wavelet domain (Kasmi et al. 2023), shown here back in pixel space."
    )
    many_passes = True
    #: for a large-input model on a CPU: a 16-cell grid and 4 designs (about 1,000 passes an image) instead of
    #: the defaults' tens of thousands; "refine" doubles the designs from there
    large_input_options = {"grid_size": 16, "nb_design": 4, "max_design": 4}
    run_controls = ("progress", "resume")
    extras_type = WCAMExtras

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
    ) -> tuple[torch.Tensor, WCAMExtras]:
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
    ) -> tuple[torch.Tensor, WCAMExtras]:
        """The maps and extras of every image from its design outputs."""
        grid = settings["grid_size"]
        indices = np.stack([jansen_total_order(o) for o in outputs]).astype(np.float32)
        figures = [convergence(o, i, size, levels, seed) for o, i in zip(outputs, indices)]
        cells = torch.from_numpy(indices)
        wavelet_map = cells_to_dyadic(cells, size)
        per_level, per_subband = spectral_profile(wavelet_map, levels)
        extras = WCAMExtras(
            wavelet_map=wavelet_map.numpy(),
            sobol_indices=cells.view(-1, grid, grid).numpy(),
            spectral_levels=per_level.numpy(),
            spectral_subbands=per_subband.numpy(),
            map_agreement=np.array([f.map_agreement for f in figures]),
            profile_distance=np.array([f.profile_distance for f in figures]),
            stable=np.array([f.stable for f in figures]),
            spectral_levels_std=np.stack([f.levels_std for f in figures]),
            spectral_subbands_std=np.stack([f.subbands_std for f in figures]),
            sobol_std=np.stack([f.cells_std for f in figures]).reshape(-1, grid, grid).astype(np.float32),
            nb_design=np.array([len(o) for o in outputs]),
            forward_passes=np.array([o.size for o in outputs]),
            design_outputs=outputs,
            image_digest=digests,
            settings=settings,
        )
        return project_to_image(wavelet_map, levels), extras
