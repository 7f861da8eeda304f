"""The design runner: every image's Sobol design points through the model, batch by batch, doubled until the
convergence figure says stop; and the outputs of an earlier run that a new one reuses (``resume``).

The design of n points is the first n points of the larger one, and batches
never straddle a power of two (``point_chunks``), so a run refined from n
points ends equal, to the bit, to a single run of the final design size.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from shiftlab.attribution.base import Attribution, AttributionError, AttributionMethod
from shiftlab.attribution.sobol import jansen_total_order, pick_freeze, sobol_points
from shiftlab.attribution.wcam.convergence import convergence
from shiftlab.attribution.wcam.perturbation import cell_images, explained_output, perturb, perturbed_logits, rescaler
from shiftlab.attribution.wcam.threads import ordered_map

Progress = Callable[[int, int], None]


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

def image_digest(image: torch.Tensor) -> str:
    """A fingerprint of one input image, so that ``resume`` refuses the outputs of another image."""
    return hashlib.sha256(image.detach().cpu().numpy().tobytes()).hexdigest()

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
    extras = resume.extras
    if not extras.resumable:
        raise AttributionError("resume holds no design outputs (a result read from a sweep store): run anew")
    mismatched += [k for k, v in settings.items() if extras.settings.get(k) != v]
    if mismatched:
        raise AttributionError(f"resume was computed with other {', '.join(mismatched)}; its designs cannot be reused")
    if extras.image_digest != digests or resume.target.tolist() != target.tolist():
        raise AttributionError("resume explains other images or other targets; its designs cannot be reused")
    return list(extras.design_outputs)

@dataclass
class DesignRun:
    """Runs design points of every image through the model and keeps the progress count."""

    method: AttributionMethod  # the WCAM that runs: its model perturbs and explains
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
