"""The checks of a sweep's arguments, made before anything is loaded or written, each at O(1) cost per value.

A sweep refused here leaves no trace: no ``sweep.json``, no folder. Each
check raises a ``ShiftlabError`` naming the value and what is accepted.
Lists of names (models, shifts, methods, seeds) may be given as the app's URL
takes them, comma-separated, as well as one per word.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shiftlab.attribution import get_method
from shiftlab.errors import ParameterError, SweepStoreError, UnknownOptionError
from shiftlab.sweep.lock import LOCK_FILE
from shiftlab.sweep.plan import MANIFEST, SEED_RANGE
from shiftlab.sweep.store import STAGING

#: at most this many words in a list flag, this many characters in a word (a name, a pattern, an option)
MAX_WORDS, MAX_WORD = 1000, 200
#: bounds of --batch-size and of --limit / the number of --indices
MAX_BATCH, MAX_IMAGES = 65_536, 10_000_000
#: the bounds of a method option's value in a sweep (``seed`` options take any shift seed): the sweep runs the method
#: on every image, so an option's cost is bounded here; a method's own checks then take the value or refuse it
MAX_OPTION_INT, MAX_OPTION_FLOAT = 4096, 1e6
#: options a sweep cannot pass on: a run to resume, a progress bar per call
RUN_OPTIONS = ("resume", "progress")
#: what a sweep writes in its folder besides the plan and the partitions
OWN_FILES = {LOCK_FILE, STAGING, f".{MANIFEST}.tmp"}
#: the separator of a comma list, and of KEY=VALUE pairs (a comma followed by ``KEY=``, so ``levels=[1,2]`` stays one)
COMMA, OPTION_COMMA = re.compile(","), re.compile(r",(?=\s*[A-Za-z_]\w*=)")


def words(value: str | Sequence[str], what: str, dedupe: bool = True, comma: re.Pattern = COMMA) -> list[str]:
    """The names in ``value``: a string or a list of strings, each a name or a comma list of names (``"a,b"``),
    in order, repeats dropped (as the app's URL reads a list) unless ``dedupe`` is False; ``comma`` is the
    separator (``OPTION_COMMA`` for KEY=VALUE pairs, whose values may hold commas)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not all(isinstance(item, str) for item in items):
        raise ParameterError(f"{what} are names (a list of strings or a comma list), got {value!r:.100}")
    names = [name.strip() for item in items[:MAX_WORDS] for name in comma.split(item) if name.strip()]
    if len(items) > MAX_WORDS or len(names) > MAX_WORDS or any(len(name) > MAX_WORD for name in names):
        raise ParameterError(f"{what}: at most {MAX_WORDS} names of at most {MAX_WORD} characters each")
    return list(dict.fromkeys(names)) if dedupe else names


def parse_seeds(texts: Sequence[str]) -> list[int]:
    """Seeds from the command line's words (``0 1 2`` or ``0,1,2``); ``plan.check_seeds`` checks their range."""
    seeds = []
    for text in words(texts, "seeds", dedupe=False):
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            raise ParameterError(
                f"seeds are whole numbers from {SEED_RANGE.start} to {SEED_RANGE.stop - 1}, got {text!r}"
            )
        seeds.append(int(text))
    return seeds


def count(name: str, value: int | None, maximum: int) -> int | None:
    """``value`` unless it is not None or a whole number from 1 to ``maximum`` (--limit, --batch-size)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer)
                              or not 1 <= value <= maximum):
        raise ParameterError(f"{name} must be a whole number from 1 to {maximum} (or left out), got {value!r}")
    return None if value is None else int(value)


def check_indices(indices: Sequence[int] | None) -> list[int] | None:
    """Image indices as a list of distinct non-negative ints (their upper bound is the dataset's size)."""
    if indices is None:
        return None
    if (isinstance(indices, str | bytes) or not isinstance(indices, Sequence | np.ndarray)
            or not 0 < len(indices) <= MAX_IMAGES):
        raise ParameterError(f"indices are a list of 1 to {MAX_IMAGES} image positions, got {indices!r:.80}")
    if not all(isinstance(i, int | np.integer) and not isinstance(i, bool) and i >= 0 for i in indices):
        raise ParameterError(f"indices are whole numbers >= 0, got {indices!r:.80}")
    if len(set(int(i) for i in indices)) != len(indices):
        raise ParameterError("indices must be distinct (a repeated image would be stored twice)")
    return [int(i) for i in indices]


def check_flag(name: str, value: object) -> bool:
    """``value`` if it is True or False (``store_maps``, ``progress``)."""
    if not isinstance(value, bool | np.bool_):
        raise ParameterError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_out(out: str | os.PathLike) -> Path:
    """The sweep folder ``out`` if a sweep can write it: named, not a file, a sweep folder or empty or new, in a
    folder this process may write. Checked, not created."""
    text = os.fspath(out) if isinstance(out, str | os.PathLike) else None
    if not isinstance(text, str) or not text.strip() or "\0" in text or len(text) > 4096:
        raise ParameterError(f"the sweep folder (--out) is a folder path of 1 to 4096 characters, got {out!r:.100}")
    root = Path(text)
    if root.is_symlink() and not root.exists():
        raise SweepStoreError(f"{root}: a link to nothing; give --out a new or a sweep folder")
    if root.exists():
        if not root.is_dir():
            raise SweepStoreError(f"{root}: is a file, not a folder; give --out a new or a sweep folder")
        if not (root / MANIFEST).exists() and not (root / MANIFEST).is_symlink() and _holds_files(root):
            raise SweepStoreError(f"{root}: holds files but no {MANIFEST}, so it is not a sweep folder; "
                                  "give --out a new or an empty folder")
        usable = root
    else:
        usable = next(p for p in root.absolute().parents if p.exists())
        if not usable.is_dir():
            raise SweepStoreError(f"{root}: cannot be made, {usable} is a file")
    if not os.access(usable, os.W_OK | os.X_OK):
        raise SweepStoreError(f"{root}: cannot be written ({usable} is read-only for this user)")
    return root


def _holds_files(folder: Path) -> bool:
    """Whether ``folder`` holds anything besides what a sweep writes in passing (looks at entries until one)."""
    try:
        with os.scandir(folder) as entries:
            return any(entry.name not in OWN_FILES for entry in entries)
    except OSError as exc:
        raise SweepStoreError(f"{folder}: cannot be read ({exc.strerror or exc})") from None


def check_method_options(method: str, options: object) -> dict[str, Any]:
    """``options`` of ``method`` for a sweep: known keys (not the run controls), JSON scalars within the bounds."""
    known = {k: v for k, v in get_method(method).defaults().items() if k not in RUN_OPTIONS}
    if not isinstance(options, dict):
        raise ParameterError(f"the options of {method} are a mapping of option names to values, got {options!r:.100}")
    for key, value in options.items():
        if key not in known:
            raise UnknownOptionError(f"{method} has no sweep option {key!r}; options: {', '.join(known) or 'none'}")
        _check_option_value(method, key, value)
    return dict(options)


def _check_option_value(method: str, key: str, value: object) -> None:
    """One option value: None, True/False, a bounded number or a short text."""
    bounds = SEED_RANGE if key == "seed" else range(-MAX_OPTION_INT, MAX_OPTION_INT + 1)
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if value not in bounds:
            raise ParameterError(f"{method} option {key} must lie in {bounds.start} to {bounds.stop - 1} in a sweep, "
                                 f"got {value}")
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_OPTION_FLOAT:
            raise ParameterError(
                f"{method} option {key} must be a finite number within ±{MAX_OPTION_FLOAT:g}, got {value}"
            )
    elif not isinstance(value, str) or len(value) > MAX_WORD:
        raise ParameterError(f"{method} option {key} takes a number, a text of at most {MAX_WORD} characters, true, "
                             f"false or null; got {value!r:.100}")
