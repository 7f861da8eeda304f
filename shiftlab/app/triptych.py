"""The triptych (the WCAM paper's figure 4): a source image, a shifted copy the model still gets right, one it flips.

For one image and one shift, every severity 1-5 and every seed 0-7 (one
seed for a shift without randomness) is tried in one batch. "Kept" is the
most severe version whose top-1 class equals the source's, "flipped" the
least severe one whose top-1 class differs: the two closest to the edge of
the model's robustness from either side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shiftlab.app.experiment import model_inputs
from shiftlab.inference import predict_logits
from shiftlab.models import LoadedModel
from shiftlab.shifts import SEVERITIES, apply, get_shift

SEEDS = tuple(range(8))


@dataclass(frozen=True)
class Candidate:
    """One shifted version tried: its severity, seed, model-sized pixels and logits."""

    severity: int
    seed: int
    image: np.ndarray
    logits: np.ndarray


@dataclass(frozen=True)
class TriptychSearch:
    """The source (model-sized) with its logits, every candidate tried, and the kept and flipped picks (or None)."""

    source: np.ndarray
    source_logits: np.ndarray
    candidates: list[Candidate]
    kept: Candidate | None
    flipped: Candidate | None


def candidates_grid(shift: str) -> list[tuple[int, int]]:
    """(severity, seed) pairs to try: every severity, with every seed only when the shift is random."""
    seeds = SEEDS if get_shift(shift).random else (0,)
    return [(severity, seed) for severity in SEVERITIES for seed in seeds]


def search(loaded: LoadedModel, image: np.ndarray, shift: str, offset: int = 0) -> TriptychSearch:
    """Try every (severity, seed) of ``shift`` on ``image`` (``Picture.offset`` in its dataset) and pick the
    kept and the flipped version."""
    grid = candidates_grid(shift)
    shifted = np.concatenate([apply(shift, image[None], severity, seed, offset=offset) for severity, seed in grid])
    batch = model_inputs(np.concatenate([image[None], shifted]), loaded.input_size)
    logits = predict_logits(loaded.model, batch)
    source_class = int(logits[0].argmax())
    candidates = [Candidate(sev, seed, batch[i + 1], logits[i + 1]) for i, (sev, seed) in enumerate(grid)]
    kept = [c for c in candidates if int(c.logits.argmax()) == source_class]
    flipped = [c for c in candidates if int(c.logits.argmax()) != source_class]
    return TriptychSearch(
        batch[0], logits[0], candidates,
        max(kept, key=lambda c: (c.severity, -c.seed)) if kept else None,
        min(flipped, key=lambda c: (c.severity, c.seed)) if flipped else None,
    )
