"""What a sweep computes: models × shifts × severities × seeds × images, split into partitions and work units.

A ``SweepPlan`` is built from the command line's words (``resnet20/*``,
``corruptions``, ``1-5``, ``cifar10:test``) and saved as ``sweep.json`` in the
sweep folder, so that a resumed sweep, another engine and ``results.open``
all see the same plan. The store holds up to three products, each partitioned by
model, variant and shift (hive layout, ``key=value`` folders):

* ``predictions``: one record per (model, variant, shift, severity, seed, image), always;
* ``attributions/method=NAME``: the drift of the method's map against the
  clean image's, and the map itself with ``store_maps``;
* ``faithfulness/method=NAME``: deletion/insertion areas against the random
  order and ROAD of the method's map (``products`` names it).

The per-method products a plan records are its ``products`` (``attributions``
alone by default, the only one before ``faithfulness`` existed: a plan of it
alone writes no ``products`` key, so older ``sweep.json`` files keep their bytes).

The clean images are the shift ``source`` at severity 0 (seed 0), swept once per model.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from shiftlab.errors import ParameterError, SweepStoreError, UnknownModelError
from shiftlab.folders import folder_datasets
from shiftlab.models import get_spec, list_models, list_variants
from shiftlab.models.user import USER_DATASET
from shiftlab.shifts import SEVERITIES, get_shift, list_shifts
from shiftlab.sweep.swept import SweptData

#: the shift name and severity of the clean images
SOURCE = "source"
SOURCE_SEVERITY = 0
#: shift groups the command line accepts besides shift names
SHIFT_GROUPS = {"corruptions": "corruption", "edits": "edit"}
MANIFEST = "sweep.json"
FORMAT = 1
#: seeds are stored as int32 and are those the app's URL takes: 0 <= seed < 2**31
SEED_RANGE = range(0, 2**31)
#: at most this many seeds in one sweep (each multiplies every shifted partition)
MAX_SEEDS = 1000
#: model, variant, shift and method names as a saved plan may hold them: they become folder names under the store
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")
#: a sweep.json larger than this is not a plan (the largest shipped one is a few kB)
MAX_MANIFEST_BYTES = 16 * 2**20
#: what a sweep can record per attribution method, in the order of their partitions (predictions are always recorded)
PRODUCTS = ("attributions", "faithfulness")
DEFAULT_PRODUCTS = ("attributions",)


@dataclass(frozen=True)
class Partition:
    """One Parquet partition: a product for one (model, variant, shift), and the method for attributions."""

    product: str  # "predictions", or one of PRODUCTS
    model: str
    variant: str
    shift: str
    method: str | None = None

    def path(self, root: Path) -> Path:
        """The partition's folder under the sweep folder ``root``."""
        base = Path(root) / self.product
        if self.method is not None:
            base = base / f"method={self.method}"
        return base / f"model={self.model}" / f"variant={self.variant}" / f"shift={self.shift}"


@dataclass(frozen=True)
class Unit:
    """One piece of work: images ``start:stop`` of one partition at one severity and seed."""

    partition: Partition
    severity: int
    seed: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class SweepPlan:
    """Everything that determines a sweep's records (not how or where it runs)."""

    models: tuple[tuple[str, str], ...]
    shifts: tuple[str, ...]
    severities: tuple[int, ...]
    seeds: tuple[int, ...]
    data: SweptData  # load_dataset's name, split and limit, and the images' fingerprint
    methods: tuple[str, ...] = ()
    store_maps: bool = False
    method_options: dict = field(default_factory=dict)  # method -> options passed to attribute()
    products: tuple[str, ...] = DEFAULT_PRODUCTS  # what is recorded per method, in PRODUCTS order

    def partitions(self) -> list[Partition]:
        """Every partition of the plan: predictions first, then each attribution method, model by model, then the
        faithfulness of every method condition by condition (the methods of one condition share a random reference,
        computed once when their partitions follow each other)."""
        shifts = (SOURCE, *self.shifts)
        parts = [Partition("predictions", m, v, s) for m, v in self.models for s in shifts]
        if "attributions" in self.products:
            parts += [
                Partition("attributions", m, v, s, k) for k in self.methods for m, v in self.models for s in shifts
            ]
        if "faithfulness" in self.products:
            parts += [
                Partition("faithfulness", m, v, s, k) for m, v in self.models for s in shifts for k in self.methods
            ]
        return parts

    def conditions(self, shift: str) -> list[tuple[int, int]]:
        """(severity, seed) pairs swept for ``shift``; the clean images once, at severity 0 and seed 0."""
        if shift == SOURCE:
            return [(SOURCE_SEVERITY, 0)]
        return [(severity, seed) for severity in self.severities for seed in self.seeds]

    def units(self, partition: Partition, n_images: int, chunk: int) -> list[Unit]:
        """The partition's work in chunks of at most ``chunk`` images, severity by severity."""
        return [Unit(partition, severity, seed, start, min(start + chunk, n_images))
                for severity, seed in self.conditions(partition.shift) for start in range(0, n_images, chunk)]

    def to_json(self) -> dict:
        raw = {"format": FORMAT, **asdict(self), "data": self.data.to_dict()}
        if self.products == DEFAULT_PRODUCTS:
            del raw["products"]  # the bytes of every plan written before products existed
        return raw

    @staticmethod
    def from_json(raw: object) -> SweepPlan:
        """The plan saved as ``raw`` (parsed JSON), every field checked: ``ValueError`` says which is wrong."""
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(f"not a format-{FORMAT} sweep plan")
        models = _listed(raw, "models", lambda m: isinstance(m, list) and len(m) == 2 and all(map(_is_name, m)))
        options = raw.get("method_options", {})
        if not (isinstance(options, dict) and all(_is_name(k) and isinstance(v, dict) for k, v in options.items())):
            raise ValueError("method_options must map method names to option objects")
        if not isinstance(raw.get("store_maps", False), bool):
            raise ValueError("store_maps must be true or false")
        return SweepPlan(models=tuple(tuple(m) for m in models), shifts=_listed(raw, "shifts", _is_name),
                         severities=parse_severities(_listed(raw, "severities", _is_int)),
                         seeds=check_seeds(_listed(raw, "seeds", _is_int)), data=_checked_data(raw.get("data")),
                         methods=_listed(raw, "methods", _is_name, ()), store_maps=raw.get("store_maps", False),
                         method_options=options, products=_checked_products(raw))

    def merged(self, other: SweepPlan) -> SweepPlan:
        """This plan extended by ``other``'s models, shifts and methods, when both sweep the same images the same way.

        This is how a sweep folder grows (a new variant, another attribution
        method); a folder of other images, severities or seeds is refused. The
        methods' options are listed in the order of the methods, so that
        recomputing one method leaves ``sweep.json`` as it was.
        """
        for name in ("severities", "seeds", "data"):
            if getattr(self, name) != getattr(other, name):
                raise ParameterError(f"the sweep folder holds a sweep with other {name} "
                                     f"({getattr(self, name)} there, {getattr(other, name)} asked): use another --out")
        for method, options in other.method_options.items():
            if method in self.methods and self.method_options.get(method, {}) != options:
                raise ParameterError(f"the sweep folder holds {method} attributions with options "
                                     f"{self.method_options.get(method, {})}, not {options}: use another --out")
        methods = _union(self.methods, other.methods)
        options = {**other.method_options, **self.method_options}
        return replace(self, models=_union(self.models, other.models), shifts=_union(self.shifts, other.shifts),
                       methods=methods, store_maps=self.store_maps or other.store_maps,
                       method_options={m: options[m] for m in methods if m in options},
                       products=_merged_products(self, other))


def _merged_products(first: SweepPlan, second: SweepPlan) -> tuple[str, ...]:
    """The products of two merged plans, in ``PRODUCTS`` order: those of each plan that has methods (a plan
    without methods records nothing per method, whatever its products say), the default when neither has."""
    asked = {p for plan in (first, second) if plan.methods for p in plan.products}
    return tuple(p for p in PRODUCTS if p in asked) or DEFAULT_PRODUCTS


def _checked_products(raw: dict) -> tuple[str, ...]:
    """A saved plan's ``products``: distinct names of ``PRODUCTS`` in their order (the default when absent)."""
    products = _listed(raw, "products", lambda p: p in PRODUCTS, DEFAULT_PRODUCTS)
    if not products or list(products) != [p for p in PRODUCTS if p in products]:
        raise ValueError(f"products must list some of {', '.join(PRODUCTS)}, in that order")
    return products


def _union(first: tuple, second: tuple) -> tuple:
    return tuple(dict.fromkeys((*first, *second)))


def _is_name(value: object) -> bool:
    return isinstance(value, str) and NAME.fullmatch(value) is not None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _listed(raw: dict, key: str, check, default: tuple | None = None) -> tuple:
    """``raw[key]`` as a tuple of distinct items that pass ``check``; ``ValueError`` naming ``key`` otherwise."""
    value = raw.get(key, default)
    if not isinstance(value, list | tuple) or not all(map(check, value)):
        raise ValueError(f"{key} must be a list of names (or numbers) as shiftlab writes them")
    items = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if len(set(items)) != len(items):
        raise ValueError(f"{key} lists an entry twice")
    return tuple(value)


def _checked_data(data: object) -> SweptData:
    """The plan's ``data`` entry, each field of the type ``swept.describe`` writes."""
    if not isinstance(data, dict):
        raise ValueError("data must be an object")
    indices = data.get("indices")
    fields = {
        "name": _is_name(data.get("name")), "split": _is_name(data.get("split")),
        "limit": data.get("limit") is None or (_is_int(data["limit"]) and data["limit"] >= 1),
        "indices": indices is None or (isinstance(indices, list) and all(_is_int(i) and i >= 0 for i in indices)),
        "sha256": isinstance(data.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", data["sha256"]) is not None,
        "n": _is_int(data.get("n")) and data["n"] >= 0,
    }
    wrong = [name for name, ok in fields.items() if not ok]
    if wrong:
        raise ValueError(f"data.{wrong[0]} is missing or of the wrong type ({data.get(wrong[0])!r})")
    return SweptData(data["name"], data["split"], data.get("limit"), indices, data["sha256"], data["n"])


def read_plan(root: Path) -> SweepPlan | None:
    """The plan saved in sweep folder ``root``, or None where there is none yet.

    A ``sweep.json`` that is not a regular file, is over ``MAX_MANIFEST_BYTES``,
    is not JSON or has a field of the wrong type is a ``SweepStoreError`` naming
    it (read without following a FIFO or reading a huge file whole).
    """
    path = Path(root) / MANIFEST
    try:
        if not path.exists() and not path.is_symlink():
            return None
        if not path.is_file():
            raise ValueError("not a regular file")
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"larger than {MAX_MANIFEST_BYTES} bytes")
        return SweepPlan.from_json(json.loads(path.read_bytes()))
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise SweepStoreError(f"{path}: not a readable sweep plan ({exc}); move the folder aside or rerun the "
                              "sweep into a new one") from None


def write_plan(root: Path, plan: SweepPlan) -> None:
    """Save ``plan`` as ``root/sweep.json`` (written to a temporary file and renamed: never half-written)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(plan.to_json(), indent=1))
    tmp.replace(root / MANIFEST)


def expand_models(patterns: list[str], dataset: str) -> tuple[tuple[str, str], ...]:
    """(arch, variant) pairs matching ``arch/variant`` glob patterns among the available models of ``dataset``.

    A pattern without ``/`` means every variant (``resnet20`` = ``resnet20/*``).
    Every pattern must match something: a typo is an error, not an empty sweep.
    """
    available = [(arch, v) for arch in list_models() if get_spec(arch).dataset == dataset for v in list_variants(arch)]
    found: list[tuple[str, str]] = []
    for pattern in patterns:
        arch_pattern, _, variant_pattern = pattern.partition("/")
        matches = [(a, v) for a, v in available
                   if fnmatch.fnmatchcase(a, arch_pattern) and fnmatch.fnmatchcase(v, variant_pattern or "*")]
        if not matches:
            known = ", ".join(f"{a}/{v}" for a, v in available) or "none"
            raise UnknownModelError(f"no {dataset} model with weights matches {pattern!r}; available: {known}")
        found += matches
    return tuple(dict.fromkeys(found))


def expand_shifts(words: list[str]) -> tuple[str, ...]:
    """Shift names from names and the groups ``corruptions`` and ``edits`` (amplitude_swap, which needs a
    second image per image, is left out of ``edits``)."""
    names: list[str] = []
    for word in words:
        if word in SHIFT_GROUPS:
            names += [n for n in list_shifts(kind=SHIFT_GROUPS[word]) if not get_shift(n).takes_reference]
        elif word == SOURCE:
            continue  # always swept
        else:
            names.append(get_shift(word).name)  # UnknownShiftError for a typo
    return tuple(dict.fromkeys(names))


def parse_severities(text: str | int | Sequence[int]) -> tuple[int, ...]:
    """``"1-5"``, ``"3"`` or ``"1,3,5"`` (or an int, or a list of ints) -> severities (each from 1 to 5).

    A range is checked by its ends before it is expanded, so ``1-99999999`` is
    refused at once instead of being listed.
    """
    low_end, high_end = SEVERITIES[0], SEVERITIES[-1]
    if isinstance(text, int | np.integer) and not isinstance(text, bool):
        text = str(int(text))
    elif isinstance(text, list | tuple) and all(_is_int(v) or isinstance(v, np.integer) for v in text):
        text = ",".join(str(int(v)) for v in text)
    if not isinstance(text, str) or not 0 < len(text) <= 100:
        raise ParameterError(f"severities are like 1-5, 3 or 1,3,5 (at most 100 characters); got {text!r}")
    values: set[int] = set()
    for piece in text.split(","):
        match = re.fullmatch(r"\s*(\d{1,12})\s*(?:-\s*(\d{1,12})\s*)?", piece)
        if not match:
            raise ParameterError(f"severities are like 1-5, 3 or 1,3,5; got {text!r}")
        low, high = int(match[1]), int(match[2] or match[1])
        if not (low_end <= low <= high <= high_end):
            raise ParameterError(f"severities must lie in {low_end}-{high_end} (a range going up), "
                                 f"got {piece.strip()!r} in {text!r}")
        values.update(range(low, high + 1))
    return tuple(sorted(values))


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    """``seeds`` as a tuple of ints, each in ``SEED_RANGE`` and given once (a repeated seed would store every record
    again), at most ``MAX_SEEDS`` of them."""
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence | np.ndarray):
        raise ParameterError(f"seeds are a list of integers, got {seeds!r}")
    if not 0 < len(seeds) <= MAX_SEEDS:
        raise ParameterError(f"a sweep takes 1 to {MAX_SEEDS} seeds, got {len(seeds)}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) not in SEED_RANGE:
            raise ParameterError(f"each seed is an integer from 0 to {SEED_RANGE.stop - 1}, got {seed!r}")
    repeated = sorted(seed for seed, count in Counter(int(s) for s in seeds).items() if count > 1)
    if repeated:
        raise ParameterError(f"seeds must be distinct; {', '.join(map(str, repeated))} given more than once")
    return tuple(int(s) for s in seeds)


def parse_data(text: str) -> tuple[str, str]:
    """``"cifar10:test"`` or ``"cifar10-sample"`` -> (dataset name, split); the split defaults to test."""
    name, _, split = text.partition(":")
    return name, split or "test"


def model_dataset(data_name: str) -> str:
    """The dataset the models of a sweep on ``data_name`` were trained on (``cifar10-sample`` -> ``cifar10``; a
    models file's image folder -> its models', ``user``)."""
    if data_name in folder_datasets():
        return USER_DATASET
    return data_name.removesuffix("-sample")
