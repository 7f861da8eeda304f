"""The model card: what a set of weights is, how it was trained and what was measured on it.

A card is the JSON file beside a weights file (``baseline.safetensors`` ->
``baseline.json``). ``ModelCard`` is its one typed form and this module its
only reader and writer: training writes one, evaluation adds measured figures
to it, the registry reads it when it loads the weights, and the zoo tables
read every figure they show from it. A card that is not valid JSON, or whose
fields have the wrong types, is a ``ModelCardError`` naming the file and the
field, wherever it is read.
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

#: the figures a card's ``metrics`` may hold, each a number (or null when not measured)
FIGURES = ("accuracy", "macro_f1", "ece", "nll", "corruption_accuracy", "pgd20_accuracy")

#: JSON type each field must have (besides null for the optional ones)
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "arch": str, "variant": str, "dataset": str, "description": str, "config": dict, "classes": list,
    "input_size": int, "normalization": dict, "parameters": int, "recipe": dict, "data": dict,
    "git_commit": str, "created": str, "history": list, "metrics": dict, "robustness": dict,
    "weights": str, "source": str,
}


@dataclass
class ModelCard:
    """A model card. ``arch`` and ``variant`` are required; every other field may be absent.

    ``metrics`` holds the clean test-set figures (``FIGURES``) and the data
    they were measured on; ``robustness`` the corruption and PGD suites;
    ``recipe`` and ``history`` the training run (one dict per epoch);
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
    metrics: dict = field(default_factory=dict)
    robustness: dict = field(default_factory=dict)
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
        _check_figures(where, data.get("metrics") or {})
        if any(not isinstance(epoch, dict) for epoch in data.get("history") or []):
            raise ModelCardError(f"{where}: 'history' must be a list of objects, one per epoch")
        return cls(**{k: v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, fields in declaration order, absent (None or empty) fields left out."""
        return {f.name: value for f in dataclasses.fields(self) if (value := getattr(self, f.name)) not in (None, {}, [])}

    @property
    def name(self) -> str:
        return f"{self.arch}/{self.variant}"

    def figure(self, name: str) -> float | None:
        """A clean test-set figure of ``metrics`` (see ``FIGURES``), or None when it was not measured."""
        return self.metrics.get(name)

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


def _check_figures(where: str, metrics: dict) -> None:
    for name in FIGURES:
        value = metrics.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ModelCardError(f"{where}: metrics.{name} must be a number, got {value!r:.60}")


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
    """Write ``card`` as indented JSON (the same card always gives the same bytes)."""
    Path(path).write_text(json.dumps(card.to_dict(), indent=2) + "\n")


def save_checkpoint(net: nn.Module, card: ModelCard, stem: str | os.PathLike) -> Path:
    """Write ``net``'s weights to ``<stem>.safetensors`` and ``card`` beside them; returns the weights path."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.parent / f"{stem.name}.safetensors"
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(weights))
    write_card(card, card_path(weights))
    return weights

