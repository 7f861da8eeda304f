"""Distribution shifts of uint8 N×H×W×3 RGB image batches: corruptions, edits and dataset (OOD) shifts.

``list_shifts()`` names them, ``get_shift(name)`` describes one (family,
description, severity parameters), ``apply(name, images, severity, seed=0)``
applies it.
"""

from shiftlab.shifts.registry import apply, get_shift, list_shifts
from shiftlab.shifts.shift import SEVERITIES, Shift

__all__ = ["SEVERITIES", "Shift", "apply", "get_shift", "list_shifts"]
