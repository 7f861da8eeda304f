"""The registry of all shifts, and ``apply``: the one entry point that checks, converts, chunks and runs them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from shiftlab.argcheck import choice, shown, whole
from shiftlab.device import resolve_device
from shiftlab.errors import ParameterError, UnknownShiftError
from shiftlab.shifts import corruptions, edits, ood
from shiftlab.shifts.batch import check_images, to_tensor, to_uint8
from shiftlab.shifts.shift import SEVERITIES, Context, Shift, in_parts

#: images of a batch are processed this many pixels at a time (bounds memory; results do not depend on it)
CHUNK_PIXELS = 64 * 224 * 224
#: shifts that run side by side (``Shift.side_by_side``) take a chunk this many pixels at a time: about 1.2 MB a
#: float batch, so that a part's intermediate tensors stay in the CPU's caches (zoom_blur on 16 images of 224 px:
#: 48 instead of 88 ms of CPU time)
PART_PIXELS = 2 * 224 * 224

_REGISTRY: dict[str, Shift] = {s.name: s for s in (*corruptions.SHIFTS, *edits.SHIFTS, *ood.SHIFTS)}
#: the kinds of shift, and their families, in registry order
KINDS = ("corruption", "edit", "dataset")
FAMILIES = (*dict.fromkeys(s.family for s in _REGISTRY.values()), ood.FOLDER_FAMILY)


def _shifts() -> dict[str, Shift]:
    """Every shift by name: the built-in ones, then those of the image folders registered now
    (``ood.folder_shifts``)."""
    return {**_REGISTRY, **{s.name: s for s in ood.folder_shifts()}}


def list_shifts(kind: str | None = None, family: str | None = None, available_only: bool = False) -> list[str]:
    """Names of the registered shifts, optionally only one ``kind`` (one of ``KINDS``) or ``family`` (one of
    ``FAMILIES``); any other kind or family is an ``UnknownOptionError`` listing them.

    ``available_only`` leaves out dataset shifts whose images are not here
    (CIFAR-100 and SVHN need the SHIFTLAB_DATA folder).
    """
    if kind is not None:
        choice("kind", kind, KINDS)
    if family is not None:
        choice("family", family, FAMILIES)
    if not isinstance(available_only, bool):
        raise ParameterError(f"available_only must be True or False, got {shown(available_only)}")
    return [
        s.name
        for s in _shifts().values()
        if (kind is None or s.kind == kind)
        and (family is None or s.family == family)
        and not (available_only and s.kind == "dataset" and not ood.available(s.name))
    ]


def get_shift(name: str) -> Shift:
    """The ``Shift`` record of ``name``: description, family, severity parameters, function."""
    try:
        return _REGISTRY[name] if name in _REGISTRY else _shifts()[name]
    except (KeyError, TypeError):
        raise UnknownShiftError(f"unknown shift {name!r}; known: {', '.join(_shifts())}") from None


def _check_severity(severity: object) -> int:
    return whole("severity", severity, SEVERITIES[0], SEVERITIES[-1])


def _check_seed(seed: object) -> int:
    """Any integer >= 0: numpy's seed sequences take integers of any size."""
    return whole("seed", seed, 0)


def _check_offset(offset: object) -> int:
    return whole("offset", offset, 0)


def _reference_tensor(shift: Shift, reference: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    if reference is None:
        return None
    if not shift.takes_reference:
        raise ParameterError(f"shift {shift.name!r} takes no reference images")
    return to_tensor(check_images(reference, "reference"), device)


def apply(
    name: str,
    images: np.ndarray,
    severity: int,
    seed: int = 0,
    *,
    device: str | torch.device = "auto",
    reference: np.ndarray | None = None,
    offset: int = 0,
) -> np.ndarray:
    """Shift a uint8 N×H×W×3 RGB batch by ``name`` at ``severity`` (1-5); returns uint8 of the same shape.

    The same (seed, image, position in the batch) gives the same bytes on a
    given device, whatever else is in the batch. ``device`` defaults to the
    GPU when there is one. ``reference`` (uint8 M×h×w×3, M = 1 or N) is the
    second image of shifts that take one (``amplitude_swap``). ``offset`` is
    the position of ``images[0]`` in a larger batch the caller splits up:
    ``apply(name, images[a:b], s, seed, offset=a)`` gives the bytes of
    ``apply(name, images, s, seed)[a:b]`` (a sweep processes a dataset in chunks).

    Raises UnknownShiftError for an unknown name, ParameterError for a bad
    severity, seed or reference, ImageInputError for a bad batch (all ShiftlabErrors).
    """
    shift = get_shift(name)
    severity, seed, offset = _check_severity(severity), _check_seed(seed), _check_offset(offset)
    batch = check_images(images)
    dev = resolve_device(device)
    ref = _reference_tensor(shift, reference, dev)
    n, h, w, _ = batch.shape
    if ref is not None and len(ref) not in (1, n):
        raise ParameterError(f"reference must hold 1 or {n} images, got {len(ref)}")
    params = shift.params_for(severity, h, w)
    step = max(1, CHUNK_PIXELS // (h * w))
    out = np.empty_like(batch)
    uint8 = shift.uint8_function is not None and dev.type == "cpu"

    def run(start: int, stop: int) -> None:
        if uint8:
            out[start:stop] = shift.uint8_function(batch[start:stop], params)
            return
        chunk_ref = ref if ref is None or len(ref) == 1 else ref[start:stop]
        ctx = Context(seed, name, stop - start, dev, chunk_ref, offset + start)
        out[start:stop] = _shifted(shift, to_tensor(batch[start:stop], dev), params, ctx)

    for start in range(0, n, step):
        stop = min(start + step, n)
        if shift.side_by_side and dev.type == "cpu":
            in_parts(run, start, stop, PART_PIXELS // (h * w))
        else:
            run(start, stop)
    return out


def _shifted(shift: Shift, x: torch.Tensor, params: Mapping[str, Any], ctx: Context) -> np.ndarray:
    """``shift.function`` of the float batch ``x``, checked to be finite, as uint8 images."""
    shifted = shift.function(x, params, ctx)
    if not torch.isfinite(shifted.sum()):  # a NaN or inf anywhere makes the sum one; cheaper than isfinite().all()
        raise RuntimeError(f"shift {shift.name!r} produced non-finite values (a bug in shiftlab.shifts)")
    return to_uint8(shifted)
