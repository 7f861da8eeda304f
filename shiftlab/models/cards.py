"""The model card: what a set of weights is, how it was trained and what was measured on it.

A card is the JSON file beside a weights file (``baseline.safetensors`` ->
``baseline.json``). ``ModelCard`` is its one typed form and this module its
only reader and writer: training writes one, evaluation adds measured figures
to it, the registry reads it when it loads the weights, and the zoo tables
read every figure they show from it. A card that is not valid JSON, or whose
fields have the wrong types, is a ``ModelCardError`` naming the file and the
field, wherever it is read.

Every measured figure is keyed by the data it was measured on:
``measurements`` maps a data key (``cifar10/test`` for a whole split,
``cifar10/test (1000 of 10000)`` for its first images) to that data's
fingerprint and the suites measured on it (``clean``, ``corruptions``,
``pgd``). A card's headline figures (``figure``) come only from its
reference data: the whole test split of its dataset, and for PGD its first
1,000 images; figures on other data are kept under their own key and never
shown as test-set figures.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import nn

from shiftlab.checkpoint import strip_weight_suffix
from shiftlab.errors import ModelCardError

#: the headline figures of a card: name -> (suite, field of that suite's record)
FIGURE_SOURCES: dict[str, tuple[str, str]] = {
    "accuracy": ("clean", "accuracy"),
    "macro_f1": ("clean", "macro_f1"),
    "ece": ("clean", "ece"),
    "nll": ("clean", "nll"),
    "corruption_accuracy": ("corruptions", "mean_accuracy"),
    "pgd20_accuracy": ("pgd", "accuracy"),
}
FIGURES = tuple(FIGURE_SOURCES)
#: the evaluation suites, each with the number of leading test images its reference figures use (None: all)
REFERENCE_IMAGES: dict[str, int | None] = {"clean": None, "corruptions": None, "pgd": 1000}
SUITES = tuple(REFERENCE_IMAGES)
#: what identifies the data a suite was measured on
_DATA_FIELDS = {"name": str, "split": str, "n": int, "of": int, "sha256": str}

#: JSON type each field must have (besides null for the optional ones)
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "arch": str, "variant": str, "dataset": str, "description": str, "config": dict, "classes": list,
    "input_size": int, "normalization": dict, "parameters": int, "recipe": dict, "data": dict,
    "git_commit": str, "created": str, "history": list, "measurements": dict, "weights": str, "source": str,
}


@dataclass
class ModelCard:
    """A model card. ``arch`` and ``variant`` are required; every other field may be absent.

    ``measurements`` holds every evaluation, keyed by the data it ran on
    (``data_key``); ``recipe`` and ``history`` the training run (one dict per epoch);
    ``weights`` and ``source`` describe a foreign file this project did not train.
    """

    arch: str
    variant: str
    dataset: str | None = None
    description: str | None = None
    config: dict = field(default_factory=dict)
    classes: list = field(default_factory=list)
    input_size: int | None = None
    normalization: dict = field(default_factory=dict)
    parameters: int | None = None
    recipe: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    git_commit: str | None = None
    created: str | None = None
    history: list = field(default_factory=list)
    measurements: dict = field(default_factory=dict)
    weights: str | None = None
    source: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "model card") -> ModelCard:
        """A card from its JSON object; a ``ModelCardError`` naming ``where`` and the field when it is malformed."""
        if not isinstance(data, dict):
            raise ModelCardError(f"{where} is not a JSON object but a {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELD_TYPES))
        if unknown:
            raise ModelCardError(f"{where} has unknown fields {unknown}; a card holds {', '.join(_FIELD_TYPES)}")
        for name in ("arch", "variant"):
            if name not in data:
                raise ModelCardError(f"{where} has no {name!r} field")
        for name, value in data.items():
            _check_type(where, name, value)
        _check_measurements(where, data.get("measurements") or {})
        if any(not isinstance(epoch, dict) for epoch in data.get("history") or []):
            raise ModelCardError(f"{where}: 'history' must be a list of objects, one per epoch")
        return cls(**{k: v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, fields in declaration order, absent (None or empty) fields left out."""
        return {f.name: value for f in dataclasses.fields(self) if (value := getattr(self, f.name)) not in (None, {}, [])}

    @property
    def name(self) -> str:
        return f"{self.arch}/{self.variant}"

    def record(self, suite: str, result: dict) -> str:
        """Store an evaluation ``result`` (its ``dataset`` fingerprint and figures) under its data's key; returns the key.

        A suite measured again on the same data replaces the earlier figures; other data get their own key.
        """
        figures = {k: v for k, v in result.items() if k != "dataset"}
        key = data_key(result["dataset"])
        entry = self.measurements.setdefault(key, {"data": result["dataset"]})
        if entry["data"] != result["dataset"]:  # same name, split and size but other images: the old figures are void
            self.measurements[key] = entry = {"data": result["dataset"]}
        entry[suite] = figures
        return key

    def measured(self) -> list[tuple[str, str]]:
        """Every (data key, suite) this card holds figures for."""
        return [(key, suite) for key, entry in self.measurements.items() for suite in SUITES if suite in entry]

    def reference_key(self, suite: str) -> str | None:
        """The key under which ``suite``'s headline figures are held, or None when none were measured on the reference data."""
        return next((key for key, entry in self.measurements.items()
                     if suite in entry and is_reference(entry["data"], suite, self.dataset)), None)

    def suite(self, suite: str) -> dict | None:
        """``suite``'s figures on the reference data (see the module docstring), or None."""
        key = self.reference_key(suite)
        return None if key is None else self.measurements[key][suite]

    def reference_data(self, suite: str = "clean") -> dict | None:
        """The fingerprint of the data ``suite``'s headline figures were measured on, or None."""
        key = self.reference_key(suite)
        return None if key is None else self.measurements[key]["data"]

    def figure(self, name: str) -> float | None:
        """A headline figure (see ``FIGURES``) measured on the reference data, or None when it was not."""
        suite, field_name = FIGURE_SOURCES[name]
        return (self.suite(suite) or {}).get(field_name)

    def figures(self) -> dict[str, float | None]:
        """Every headline figure by name (None where not measured on the reference data)."""
        return {name: self.figure(name) for name in FIGURES}

    @property
    def epochs_done(self) -> int | None:
        return self.recipe.get("epochs_done")

    @property
    def train_hours(self) -> float | None:
        """Wall time of the training run in hours (two decimals), None when not recorded."""
        seconds = self.recipe.get("wall_time_s")
        return None if seconds is None else round(seconds / 3600, 2)

    def training_devices(self) -> str | None:
        """The hardware the run trained on: per epoch when recorded (a resumed run may have moved)."""
        per_epoch = [epoch["device"] for epoch in self.history if "device" in epoch]
        if not per_epoch:
            return self.recipe.get("device")
        counts = {name: per_epoch.count(name) for name in dict.fromkeys(per_epoch)}
        return " + ".join(f"{name} ({n} ep.)" for name, n in counts.items()) if len(counts) > 1 else per_epoch[0]

    def start(self) -> str:
        """"scratch", or which weights a fine-tuning run started from (with that run's epochs and device when known)."""
        init = self.recipe.get("init")
        if not init:
            return "scratch"
        parent = init.get("from_card")
        origin = f" ({parent['arch']}/{parent['variant']}, {parent['epochs']} epochs on {parent['device']})" if parent else ""
        return f"fine-tuned from {init['checkpoint']}{origin}"

    def origin(self) -> str:
        """``start`` in a few words: "scratch", or "fine-tuned from <arch/variant>" (or from the file's name)."""
        init = self.recipe.get("init")
        if not init:
            return "scratch"
        parent = init.get("from_card")
        return f"fine-tuned from {parent['arch']}/{parent['variant']}" if parent else f"fine-tuned from {init['checkpoint']}"

    def lineage(self) -> dict[str, Any]:
        """What a fine-tuning run records of the card of the weights it starts from."""
        return {"arch": self.arch, "variant": self.variant, "epochs": self.epochs_done,
                "device": self.recipe.get("device"), "git_commit": self.git_commit,
                "accuracy": self.figure("accuracy")}


def _check_type(where: str, name: str, value: Any) -> None:
    expected = _FIELD_TYPES[name]
    if value is None and name not in ("arch", "variant"):
        return
    if isinstance(value, bool) or not isinstance(value, expected):
        kind = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        raise ModelCardError(f"{where}: field {name!r} must be a {kind}, got {value!r:.60}")


def data_key(data: dict) -> str:
    """The key of a data fingerprint: ``name/split`` for a whole split, ``name/split (n of N)`` for part of one."""
    base = f"{data['name']}/{data['split']}"
    return base if data["n"] == data["of"] else f"{base} ({data['n']} of {data['of']})"


def is_reference(data: dict, suite: str, dataset: str | None) -> bool:
    """Whether ``suite`` figures measured on ``data`` are a card's headline figures: the test split of the card's
    own dataset, whole, or for PGD its first ``REFERENCE_IMAGES['pgd']`` images."""
    wanted = REFERENCE_IMAGES[suite]
    n = data["of"] if wanted is None else min(wanted, data["of"])
    return data["name"] == dataset and data["split"] == "test" and data["n"] == n


def _check_measurements(where: str, measurements: dict) -> None:
    """Each entry: a data fingerprint under its own key, and suites that are objects of numbers and lists."""
    for key, entry in measurements.items():
        at = f"{where}: measurements[{key!r}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), dict):
            raise ModelCardError(f"{at} must be an object with a 'data' fingerprint")
        for name, kind in _DATA_FIELDS.items():
            value = entry["data"].get(name)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ModelCardError(f"{at}.data.{name} must be a {kind.__name__}, got {value!r:.60}")
        if key != data_key(entry["data"]):
            raise ModelCardError(f"{at} holds figures measured on {data_key(entry['data'])!r}: "
                                 "every entry is keyed by the data it was measured on")
        unknown = sorted(set(entry) - {"data", *SUITES})
        if unknown:
            raise ModelCardError(f"{at} has unknown suites {unknown}; suites are {', '.join(SUITES)}")
        for suite in SUITES:
            if suite in entry and not isinstance(entry[suite], dict):
                raise ModelCardError(f"{at}.{suite} must be an object of figures")
    for name, (suite, field_name) in FIGURE_SOURCES.items():
        for key, entry in measurements.items():
            value = entry.get(suite, {}).get(field_name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ModelCardError(f"{where}: measurements[{key!r}].{suite}.{field_name} ({name}) must be a number, "
                                     f"got {value!r:.60}")


def card_path(weights: str | os.PathLike) -> Path:
    """Where the card of a weights file lives: beside it, same name, ``.json`` (``x.pth.tar`` -> ``x.json``)."""
    weights = Path(weights)
    return weights.parent / f"{strip_weight_suffix(weights.name)}.json"


def read_card(path: str | os.PathLike) -> ModelCard:
    """Read and check a card file; a ``ModelCardError`` says what is wrong with it."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelCardError(f"model card {path} is unreadable: {exc}") from exc
    return ModelCard.from_dict(data, where=f"model card {path}")


def write_card(card: ModelCard, path: str | os.PathLike) -> None:
    """Write ``card`` as indented JSON (the same card always gives the same bytes), atomically: readers see the
    old card or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    tmp.replace(path)


def save_checkpoint(net: nn.Module, card: ModelCard, stem: str | os.PathLike) -> Path:
    """Write ``net``'s weights to ``<stem>.safetensors`` and ``card`` beside them; returns the weights path."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.parent / f"{stem.name}.safetensors"
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(weights))
    write_card(card, card_path(weights))
    return weights

