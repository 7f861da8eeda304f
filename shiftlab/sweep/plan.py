"""What a sweep computes: models × shifts × severities × seeds × images, split into partitions and work units.

A ``SweepPlan`` is built from the command line's words (``resnet20/*``,
``corruptions``, ``1-5``, ``cifar10:test``) and saved as ``sweep.json`` in the
sweep folder, so that a resumed sweep, another engine and ``results.open``
all see the same plan. The store holds two products, each partitioned by
model, variant and shift (hive layout, ``key=value`` folders):

* ``predictions``: one record per (model, variant, shift, severity, seed, image);
* ``attributions/method=NAME``: the drift of the method's map against the
  clean image's, and the map itself with ``store_maps``.

The clean images are the shift ``source`` at severity 0 (seed 0), swept once per model.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from shiftlab.errors import ParameterError, UnknownModelError
from shiftlab.models import get_spec, list_models, list_variants
from shiftlab.shifts import SEVERITIES, get_shift, list_shifts

#: the shift name and severity of the clean images
SOURCE = "source"
SOURCE_SEVERITY = 0
#: shift groups the command line accepts besides shift names
SHIFT_GROUPS = {"corruptions": "corruption", "edits": "edit"}
MANIFEST = "sweep.json"
FORMAT = 1


@dataclass(frozen=True)
class Partition:
    """One Parquet partition: a product for one (model, variant, shift), and the method for attributions."""

    product: str  # "predictions" or "attributions"
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
    data: dict  # load_dataset's name, split and limit, and the images' fingerprint
    methods: tuple[str, ...] = ()
    store_maps: bool = False
    method_options: dict = field(default_factory=dict)  # method -> options passed to attribute()

    def partitions(self) -> list[Partition]:
        """Every partition of the plan: predictions first, then each attribution method, model by model."""
        shifts = (SOURCE, *self.shifts)
        parts = [Partition("predictions", m, v, s) for m, v in self.models for s in shifts]
        return parts + [Partition("attributions", m, v, s, k) for k in self.methods for m, v in self.models for s in shifts]

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
        return {"format": FORMAT, **asdict(self)}

    @staticmethod
    def from_json(raw: dict) -> SweepPlan:
        return SweepPlan(models=tuple(tuple(m) for m in raw["models"]), shifts=tuple(raw["shifts"]),
                         severities=tuple(raw["severities"]), seeds=tuple(raw["seeds"]), data=raw["data"],
                         methods=tuple(raw.get("methods", ())), store_maps=bool(raw.get("store_maps", False)),
                         method_options=raw.get("method_options", {}))

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
                       method_options={m: options[m] for m in methods if m in options})


def _union(first: tuple, second: tuple) -> tuple:
    return tuple(dict.fromkeys((*first, *second)))


def read_plan(root: Path) -> SweepPlan | None:
    """The plan saved in sweep folder ``root``, or None where there is none yet."""
    path = Path(root) / MANIFEST
    return SweepPlan.from_json(json.loads(path.read_text())) if path.is_file() else None


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


def parse_severities(text: str) -> tuple[int, ...]:
    """``"1-5"``, ``"3"`` or ``"1,3,5"`` -> severities (each from 1 to 5)."""
    values: list[int] = []
    for piece in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", piece)
        if not match:
            raise ParameterError(f"severities are like 1-5, 3 or 1,3,5; got {text!r}")
        low, high = int(match[1]), int(match[2] or match[1])
        values += range(low, high + 1)
    if not values or any(v not in SEVERITIES for v in values):
        raise ParameterError(f"severities must lie in 1-5, got {text!r}")
    return tuple(sorted(set(values)))


def parse_data(text: str) -> tuple[str, str]:
    """``"cifar10:test"`` or ``"cifar10-sample"`` -> (dataset name, split); the split defaults to test."""
    name, _, split = text.partition(":")
    return name, split or "test"


def model_dataset(data_name: str) -> str:
    """The dataset the models of a sweep on ``data_name`` were trained on (``cifar10-sample`` -> ``cifar10``)."""
    return data_name.removesuffix("-sample")
