"""The ``Shift`` record the registry holds, and the ``Context`` a shift function runs in.

A shift function takes a float32 batch N×3×H×W in [0, 1] on the chosen device,
the parameter values of one severity (already resolved for the image size) and
a ``Context``, and returns a batch of the same shape (values outside [0, 1] are
clipped afterwards). Keeping every shift on that one signature lets the
registry validate, convert and quantise in a single place.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from shiftlab.device import one_thread_workers, side_by_side_threads
from shiftlab.shifts.params import table_for

SEVERITIES = (1, 2, 3, 4, 5)
_UINT32_MAX = 2**32 - 1


def per_image(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """``[fn(item) for item in items]``, spread over ``torch.get_num_threads()`` threads.

    The per-image work of the shifts (numpy's random fills, Pillow's JPEG codec,
    SciPy's distance transform) runs in C and releases the GIL, so threads give
    a near-linear speed-up; with one torch thread this is a plain loop. Each
    thread takes one contiguous run of the items (one task per thread, not per
    image: 32 px images take less time than a task's hand-over). Results keep
    the input order, so the output does not depend on the thread count.
    """
    items = list(items)
    threads = min(torch.get_num_threads(), len(items))
    if threads <= 1:
        return [fn(item) for item in items]
    bounds = np.linspace(0, len(items), threads + 1).astype(int)
    runs = [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    pool = one_thread_workers(threads, "shiftlab-shift")
    return [result for run in pool.map(lambda run: [fn(item) for item in run], runs) for result in run]


def in_parts(fn: Callable[[int, int], Any], start: int, stop: int, size: int) -> None:
    """``fn(a, b)`` over consecutive parts a..b of start..stop of about ``size`` items, the same number of parts
    for each torch thread, run side by side on workers that run torch on one thread each (in turn in the caller
    when torch has one thread or its thread count is process-wide).

    For batch work whose values depend neither on the thread count nor on how the batch is cut: parts side by
    side keep the cores busy without handing every operation over to OpenMP's threads, which a shared machine
    makes slow (each parallel operation waits for its slowest thread), and a small part's intermediate tensors
    stay in the CPU's caches.
    """
    threads = side_by_side_threads()
    count = max(1, -(-(stop - start) // max(size, 1)))
    count = min(stop - start, -(-count // threads) * threads)
    bounds = np.linspace(start, stop, count + 1).astype(int).tolist()
    parts = range(len(bounds) - 1)
    if threads <= 1:
        for part in parts:
            fn(bounds[part], bounds[part + 1])
        return
    per_image(lambda part: fn(bounds[part], bounds[part + 1]), parts)


@dataclass(frozen=True)
class Context:
    """What a shift function may use besides the pixels: seeded random streams and an optional reference batch.

    Image ``i`` of a call draws from ``np.random.default_rng([seed, key, part, i])``,
    where ``key`` is derived from the shift's name and ``part`` numbers the
    independent random quantities of one shift. The draws therefore depend on
    (seed, shift, position in the batch) only: not on the batch size, on the
    other images, on the severity or on the device.
    """

    seed: int
    name: str
    n: int
    device: torch.device
    reference: torch.Tensor | None = None
    start: int = 0  # position of this chunk's first image in the caller's batch

    @property
    def key(self) -> int:
        return zlib.crc32(self.name.encode())

    def generator(self, index: int, part: int = 0) -> np.random.Generator:
        """The random stream of image ``index`` for random quantity ``part``.

        The entropy goes in as a uint32 array when every word fits (twice as
        fast as a list, which numpy converts int by int into the same words:
        the same stream), as a list otherwise.
        """
        entropy = [self.seed, self.key, part, self.start + index]
        if max(entropy) <= _UINT32_MAX:
            return np.random.default_rng(np.array(entropy, np.uint32))
        return np.random.default_rng(entropy)

    def values(self, fn: Callable[[np.random.Generator, int], Any], part: int = 0) -> np.ndarray:
        """Stack ``fn(generator, i)`` over the images of the batch (numpy, on the CPU)."""
        return np.stack(per_image(lambda i: np.asarray(fn(self.generator(i, part), i)), range(self.n)))

    def draw(self, fn: Callable[[np.random.Generator, int], Any], part: int = 0) -> torch.Tensor:
        """``values`` as a float32 tensor on the device."""
        return torch.from_numpy(self.values(fn, part).astype(np.float32, copy=False)).to(self.device)


ShiftFunction = Callable[[torch.Tensor, Mapping[str, Any], Context], torch.Tensor]


def freeze(params: Mapping[int, Mapping[str, Any]]) -> Mapping[int, Mapping[str, Any]]:
    """Read-only copy of a severity table, nested dicts included."""

    def _freeze(value: Any) -> Any:
        if isinstance(value, Mapping):
            return MappingProxyType({k: _freeze(v) for k, v in value.items()})
        return value

    return _freeze(params)


@dataclass(frozen=True)
class Shift:
    """One distribution shift: what it is (for the UI's "what is this") and how to apply it.

    ``params`` maps each severity 1..5 to the parameter values it uses. For a
    resolution-aware shift (the corruptions) each severity holds one dict per
    parameter table, ``{"cifar": {...}, "imagenet": {...}}``; ``params_for``
    picks the one an image size gets.
    """

    name: str
    kind: str  # "corruption", "edit" or "dataset"
    family: str
    description: str
    params: Mapping[int, Mapping[str, Any]]
    function: ShiftFunction
    random: bool
    resolution_aware: bool = False
    takes_reference: bool = False
    #: the same shift on uint8 N×H×W×3 numpy images, giving the same bytes faster where the shift is a uint8
    #: operation (JPEG) or ends with one (pixelate's enlarging): ``apply`` uses it on the CPU
    uint8_function: Callable[[np.ndarray, Mapping[str, Any]], np.ndarray] | None = None
    #: the bytes do not depend on torch's thread count, so on a CPU ``apply`` runs parts of a batch side by side
    #: on one-thread workers (``in_parts``)
    side_by_side: bool = False

    def params_for(self, severity: int, height: int, width: int) -> Mapping[str, Any]:
        """The parameter values used at ``severity`` on images of ``height``×``width`` pixels."""
        values = self.params[severity]
        return values[table_for(height, width)] if self.resolution_aware else values
