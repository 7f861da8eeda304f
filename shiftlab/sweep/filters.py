"""The filters every ``SweepResults`` query takes, checked: model, variant and shift names, and severities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shiftlab.errors import ParameterError

#: a name filter: one name, a list of names, or None for all
Names = str | Sequence[str] | None
#: a severity filter: one level from 0 to 5, a list of them, or None for all
Severities = int | Sequence[int] | None


def is_int(value: object) -> bool:
    """Whether ``value`` is a whole number (a Python or numpy integer, not a bool)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def names(value: Names, what: str = "model, variant and shift") -> set[str] | None:
    """A filter's names: None (all), a name or a list of names; ``ParameterError`` for anything else."""
    if value is None:
        return None
    if isinstance(value, str):
        return {value}
    if isinstance(value, Sequence | set | np.ndarray) and all(isinstance(v, str) for v in value):
        return set(value)
    raise ParameterError(f"{what} filters are a name or a list of names, got {value!r:.80}")


def levels(severity: Severities) -> list[int] | None:
    """A severity filter as a list of ints from 0 to 5 (None: all); 3.9 or "3" are refused, not rounded."""
    if severity is None:
        return None
    levels = [severity] if is_int(severity) else severity
    if isinstance(levels, Sequence | np.ndarray) and not isinstance(levels, str) and all(
            is_int(v) and 0 <= v <= 5 for v in levels):
        return [int(v) for v in levels]
    raise ParameterError(f"severity is a whole number from 0 to 5 or a list of them, got {severity!r:.80}")
