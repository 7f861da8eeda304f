"""The work of a sweep, engine-independent: a ``SweepWorker`` turns one ``Unit`` into a table of records.

Both engines call it (the local loop directly, Ray once per actor), so they
compute the same bytes. Shifted images come from ``shiftlab.shifts.apply``
with each image's index in the dataset as its ``offset``, which makes a
chunk's images (or chosen images') those of ``apply`` on the whole dataset:
the accuracy of a sweep equals ``shiftlab evaluate``'s. Loaded models and the clean images' attributions
are cached, since every unit of a model needs them, and so is each condition's random-order reference, which
the faithfulness of every method of the condition shares.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import torch

from shiftlab.device import resolve_device
from shiftlab.inference import predict_logits
from shiftlab.models import LoadedModel, load_model
from shiftlab.shifts import apply
from shiftlab.sweep.plan import SOURCE, SweepPlan, Unit
from shiftlab.sweep.records import attribution_table, faithfulness_table, prediction_table

if TYPE_CHECKING:
    from shiftlab.attribution import Attribution
    from shiftlab.metrics.faithfulness import RandomReference

#: images per batch on the CPU at 32×32 px, scaled by pixel count for larger inputs (best measured on 2 cores)
CPU_BATCH_PIXELS = 256 * 32 * 32
#: starting point on a GPU; halved until a batch fits
GPU_BATCH_PIXELS = 4096 * 32 * 32
#: images per work unit at 32×32 px (scaled by pixel count): shifted and attributed in one call
CHUNK_PIXELS = 2048 * 32 * 32


def chunk_size(images: np.ndarray) -> int:
    """Images per work unit for images of this size."""
    return max(1, CHUNK_PIXELS // (images.shape[1] * images.shape[2]))


def auto_batch_size(loaded: LoadedModel) -> int:
    """A batch size for inference: fixed by pixel count on the CPU, the largest that fits (halving) on a GPU."""
    pixels = loaded.input_size**2
    if loaded.device.type != "cuda":
        return max(8, CPU_BATCH_PIXELS // pixels)
    size = max(8, GPU_BATCH_PIXELS // pixels)
    while size > 8:
        try:
            with torch.no_grad():
                loaded.model(torch.zeros(size, 3, loaded.input_size, loaded.input_size, device=loaded.device))
            return size
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            size //= 2
    return size


class SweepWorker:
    """Computes the records of units of one plan on the swept images (N×H×W×3 uint8), their labels and their
    indices in the dataset (what the records call ``image``); a unit's ``start:stop`` are positions in these arrays."""

    def __init__(self, plan: SweepPlan, images: np.ndarray, labels: np.ndarray, index: np.ndarray,
                 device: str = "auto", batch_size: int | None = None):
        self.plan = plan
        self.images = images
        self.labels = np.asarray(labels, np.int64)
        self.index = np.asarray(index, np.int64)
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self._model = lru_cache(maxsize=4)(self._load)
        self._clean = lru_cache(maxsize=256)(self._clean_attribution)
        self._reference = lru_cache(maxsize=16)(self._random_reference)

    def _load(self, arch: str, variant: str) -> tuple[LoadedModel, int]:
        loaded = load_model(arch, variant, device=self.device)
        return loaded, self.batch_size or auto_batch_size(loaded)

    def shifted(self, unit: Unit) -> np.ndarray:
        """The unit's images under its shift (the clean images for ``source``).

        Each image's random stream starts at its index in the dataset, so a
        sweep of chosen images gives each the bytes it gets in a sweep (or an
        evaluation) of the whole set; consecutive indices are shifted as one batch.
        """
        shift = unit.partition.shift
        if shift == SOURCE:
            return self.images[unit.start : unit.stop]
        index = self.index[unit.start : unit.stop]
        runs = np.split(np.arange(unit.start, unit.stop), np.flatnonzero(np.diff(index) != 1) + 1)
        return np.concatenate([apply(shift, self.images[run[0] : run[-1] + 1], unit.severity, unit.seed,
                                     device=self.device, offset=int(self.index[run[0]])) for run in runs])

    def logits(self, arch: str, variant: str, images: np.ndarray) -> np.ndarray:
        loaded, batch_size = self._model(arch, variant)
        return predict_logits(loaded.model, images, batch_size)

    def compute(self, unit: Unit) -> pa.Table:
        """The records of ``unit``: predictions, attributions or faithfulness, as its partition's product says."""
        products = {"predictions": self.predictions, "attributions": self.attributions,
                    "faithfulness": self.faithfulness}
        return products[unit.partition.product](unit)

    def predictions(self, unit: Unit) -> pa.Table:
        p = unit.partition
        logits = self.logits(p.model, p.variant, self.shifted(unit))
        labels = self.labels[unit.start : unit.stop]
        return prediction_table(unit.severity, unit.seed, self.index[unit.start : unit.stop], labels, logits)

    def _targets(self, arch: str, variant: str, start: int, stop: int) -> np.ndarray:
        """The classes the maps of images ``start:stop`` explain: the model's predictions on the clean images."""
        return self.logits(arch, variant, self.images[start:stop]).argmax(1)

    def _attribute(self, arch: str, variant: str, method: str, images: np.ndarray, targets: np.ndarray) -> Attribution:
        """``method``'s attribution of ``images`` for ``targets``, with the plan's options for it."""
        # imported here: a predictions-only worker (a Ray actor) does not pay for captum's import
        from shiftlab.attribution import attribute

        loaded, _ = self._model(arch, variant)
        return attribute(loaded, images, method, target=targets, **self.plan.method_options.get(method, {}))

    def _clean_attribution(
        self, arch: str, variant: str, method: str, start: int, stop: int
    ) -> tuple[np.ndarray, Attribution]:
        """(targets, attribution) of the clean images ``start:stop``: each explains the model's clean prediction."""
        targets = self._targets(arch, variant, start, stop)
        return targets, self._attribute(arch, variant, method, self.images[start:stop], targets)

    def attributions(self, unit: Unit) -> pa.Table:
        p = unit.partition
        targets, clean = self._clean(p.model, p.variant, p.method, unit.start, unit.stop)
        if p.shift == SOURCE:
            shifted = clean
        else:
            shifted = self._attribute(p.model, p.variant, p.method, self.shifted(unit), targets)
        index = self.index[unit.start : unit.stop]
        return attribution_table(unit.severity, unit.seed, index, targets, clean.maps, shifted, self.plan.store_maps)

    def _random_reference(self, condition: Unit) -> list[RandomReference]:
        """The random-order deletion/insertion reference of each image of ``condition`` (a unit with no method),
        each image alone: it depends on the image and its target, not on a map, so every method shares it."""
        from shiftlab.metrics.faithfulness import random_reference

        p = condition.partition
        loaded, _ = self._model(p.model, p.variant)
        pixels, targets = self.shifted(condition), self._targets(p.model, p.variant, condition.start, condition.stop)
        return [random_reference(loaded, pixels[i : i + 1], targets[i : i + 1]) for i in range(condition.size)]

    def faithfulness(self, unit: Unit) -> pa.Table:
        """Deletion/insertion against the random order, and ROAD, of the method's map of each image of ``unit``
        (for the clean image's predicted class, as the attributions), at the metrics' defaults. Each image is
        measured alone, so that its record does not depend on the other images swept (or chunked) with it: the
        metrics' random draws are seeded per call."""
        from shiftlab.metrics.faithfulness import deletion_insertion, road

        p = unit.partition
        loaded, _ = self._model(p.model, p.variant)
        targets, clean = self._clean(p.model, p.variant, p.method, unit.start, unit.stop)
        pixels = self.shifted(unit)
        maps = clean.maps if p.shift == SOURCE else self._attribute(p.model, p.variant, p.method, pixels, targets).maps
        references = self._reference(replace(unit, partition=replace(p, method=None)))
        one = [slice(i, i + 1) for i in range(unit.size)]
        curves = [deletion_insertion(loaded, pixels[i], maps[i], targets[i], reference=reference)
                  for i, reference in zip(one, references)]
        removal = [road(loaded, pixels[i], maps[i], targets[i]) for i in one]
        indices = self.index[unit.start : unit.stop]
        return faithfulness_table(unit.severity, unit.seed, indices, targets, curves, removal)
