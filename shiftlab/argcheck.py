"""Checks of the Python API's arguments: integers and real numbers in a stated range, and named choices.

Each public entry point runs these on its arguments before any work is done, at O(1) cost, and raises its
own typed error (``ParameterError``, ``MetricInputError``, ``AttributionError`` ...) with a message naming the
argument, the value it got and the range it takes. One function per kind of value, so the messages read
the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from shiftlab.errors import ParameterError, ShiftlabError, UnknownOptionError

#: values are shown in messages up to this many characters
_SHOWN = 60


def shown(value: object) -> str:
    """``repr(value)`` cut to a readable length (a huge integer is described, not printed: Python refuses to
    print one of more than 4,300 digits)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and abs(int(value)) >= 10**_SHOWN:
        return f"an integer of {int(value).bit_length()} bits"
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}… ({type(value).__name__})"


def is_integer(value: object) -> bool:
    """Whether ``value`` is an integer (Python or numpy), bools excluded."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def whole(name: str, value: object, low: int, high: int | None = None,
          error: type[ShiftlabError] = ParameterError) -> int:
    """``value`` as an int if it is an integer from ``low`` to ``high`` (None: no upper bound), else ``error``."""
    if not is_integer(value) or value < low or (high is not None and value > high):
        span = f">= {low}" if high is None else f"from {low} to {high}"
        raise error(f"{name} must be an integer {span}, got {shown(value)}")
    return int(value)


def real(name: str, value: object, low: float, high: float, *, low_open: bool = False, high_open: bool = False,
         error: type[ShiftlabError] = ParameterError) -> float:
    """``value`` as a float if it is a finite real number in the interval from ``low`` to ``high`` (each end
    closed unless said open), else ``error``."""
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    inside = (number and (is_integer(value) or math.isfinite(value))
              and (low < value if low_open else low <= value) and (value < high if high_open else value <= high))
    if not inside:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise error(f"{name} must be a finite number in {interval}, got {shown(value)}")
    return float(value)


def choice(name: str, value: object, choices: Sequence[str], error: type[ShiftlabError] = UnknownOptionError) -> str:
    """``value`` if it is one of the strings ``choices``, else ``error`` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise error(f"{name} must be one of {', '.join(choices)}; got {shown(value)}")
    return value
