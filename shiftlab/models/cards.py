"""The model card: what a set of weights is, how it was trained and what was measured on it.

A card is the JSON file beside a weights file (``baseline.safetensors`` ->
``baseline.json``). ``ModelCard`` is its one typed form and this module its
only reader and writer: training writes one, evaluation adds measured figures
to it, the registry reads it when it loads the weights, and the zoo tables
read every figure they show from it. A card that is not valid JSON, or whose
fields have the wrong types, is a ``ModelCardError`` naming the file and the
field, wherever it is read.

Every measured figure is keyed by the data it was measured on, and names the
weights it was measured with (see ``shiftlab.models.measurements``); the
training run is recorded as typed records too (``shiftlab.models.training_record``).
A card read beside its weights is bound to them (``bind_weights``): figures
measured with other weights are not headline figures, and ``weights_changed``
says so, so a swapped or retrained file never shows the figures of the file
it replaced.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import nn

from shiftlab.checkpoint import file_sha256, strip_weight_suffix, write_atomically
from shiftlab.data import Fingerprint
from shiftlab.errors import ModelCardError
from shiftlab.models.card_record import encode
from shiftlab.models.measurements import (
    FIGURE_SOURCES,
    FIGURES,
    SUITES,
    Figures,
    Measurement,
    SuiteFigures,
    SuiteResult,
    data_key,
    is_reference,
)
from shiftlab.models.training_record import EpochRecord, Lineage, Recipe

#: what an arch, variant or dataset name may look like: it becomes a file or folder name, so no separators,
#: no leading dot, at most 64 characters
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")

#: the weights the shipped cards' figures were measured with, for the cards written before each suite recorded
#: ``weights_sha256``: (arch, variant, created) -> SHA-256 of the weights file (a card is found by its arch and
#: creation time, so a shipped card copied beside other weights, its variant renamed, is still recognised)
LEGACY_WEIGHTS_SHA256: dict[tuple[str, str, str], str] = {
    ("resnet20", "augmix", "2026-11-22T23:15:51+00:00"):
        "4cfcbba434bac69656f3bb29f3e1c46f17722ca7ef46262f0ff5c630671a828b",
    ("resnet20", "baseline", "2026-11-22T21:41:25+00:00"):
        "95aa767aa80785f6a892fe367cdceceeeab9be91d59206a197bc52f00b956449",
    ("resnet20", "fast_adv", "2026-11-22T23:07:45+00:00"):
        "29f2fb1bbdaa20623dffa5fb26d6adcdf39be564b1d3646209d5d2a1091517e2",
    ("resnet20", "free_adv", "2026-11-22T23:08:24+00:00"):
        "90cc08b7092944d979134ecf48ef963a90df364dd88e5f8186a591f786fa8134",
    ("resnet20", "pgd_adv", "2026-11-23T00:01:58+00:00"):
        "205df286a519f9cc784df7c7a8294fe705ade44fb941606c063e30502483b564",
    ("resnet20", "pixmix", "2026-11-22T23:34:35+00:00"):
        "11456551bbde620c952786317b2f29c026e998444a9079c9c59ea85b29d75f40",
    ("vit_tiny", "augmix", "2026-11-23T02:58:52+00:00"):
        "b19cbef6ebb4bd6f95c0a4392dcea51c23becf64cfa7429c392c9f5f26f43131",
    ("vit_tiny", "baseline", "2026-11-22T23:08:51+00:00"):
        "e8fb0c41e9405e25b5a68b480bf0042c9fe9a7c06dfcfca15a6541bb6f769703",
    ("vit_tiny", "fast_adv", "2026-11-23T01:48:10+00:00"):
        "635fcf71695e30d294cb776a094c9c420a1616210214913428ce2c7df26a4c19",
}
_LEGACY_BY_CREATION = {(arch, created): sha for (arch, _, created), sha in LEGACY_WEIGHTS_SHA256.items()}
#: what a page shows instead of the figures of a card whose weights are not the ones they were measured with
WEIGHTS_CHANGED = "weights changed since these figures were measured: re-run shiftlab evaluate"

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
    (``data_key``); ``recipe`` and ``history`` the training run (one record per epoch);
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
    recipe: Recipe = field(default_factory=Recipe)
    data: dict = field(default_factory=dict)
    git_commit: str | None = None
    created: str | None = None
    history: list[EpochRecord] = field(default_factory=list)
    measurements: dict[str, Measurement] = field(default_factory=dict)
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
        for name in ("arch", "variant", "dataset"):
            if data.get(name) is not None and not NAME_PATTERN.fullmatch(data[name]):
                raise ModelCardError(f"{where}: field {name!r} must be letters, digits, '_' and '-' (at most 64, "
                                     f"starting with a letter or digit), got {data[name]!r:.80}")
        if any(not isinstance(epoch, dict) for epoch in data.get("history") or []):
            raise ModelCardError(f"{where}: 'history' must be a list of objects, one per epoch")
        values = {k: v for k, v in data.items() if v is not None}
        values["recipe"] = Recipe.from_json(data.get("recipe") or {}, f"{where}: recipe")
        values["history"] = [EpochRecord.from_json(epoch, f"{where}: history[{i}]")
                             for i, epoch in enumerate(data.get("history") or [])]
        values["measurements"] = {key: Measurement.from_json(key, entry, where)
                                  for key, entry in (data.get("measurements") or {}).items()}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, fields in declaration order, absent (None or empty) fields left out."""
        values = {f.name: encode(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {name: value for name, value in values.items() if value not in (None, {}, [])}

    @property
    def name(self) -> str:
        return f"{self.arch}/{self.variant}"

    def record(self, result: SuiteResult) -> str:
        """Store an evaluation ``result`` (its suite's figures, ``weights_sha256`` among them when known) under the
        key of the data it was measured on; returns the key.

        A suite measured again on the same data replaces the earlier figures; other data get their own key.
        """
        key = data_key(result.data)
        entry = self.measurements.get(key)
        # same name, split and size but other images: the old figures are void
        if entry is None or entry.data != result.data:
            entry = self.measurements[key] = Measurement(result.data)
        entry.put(result.figures)
        return key

    def data_of(self, key: str) -> Fingerprint:
        """The fingerprint of the data the figures under ``key`` were measured on."""
        return self.measurements[key].data

    def measured(self) -> list[tuple[str, str]]:
        """Every (data key, suite) this card holds figures for."""
        return [(key, suite) for key, entry in self.measurements.items() for suite in entry.suites()]

    def reference_key(self, suite: str) -> str | None:
        """The key under which ``suite``'s headline figures are held, or None when none were measured on the
        reference data with the weights this card is bound to (see ``bind_weights``)."""
        return next((key for key in self._reference_keys(suite)
                     if self._same_weights(self.measurements[key].suite(suite))), None)

    def _reference_keys(self, suite: str) -> list[str]:
        return [key for key, entry in self.measurements.items()
                if entry.suite(suite) is not None and is_reference(entry.data, suite, self.dataset)]

    def bind_weights(self, weights: str | os.PathLike) -> ModelCard:
        """Tie this card to the weights file it describes: its headline figures are then only those measured
        with that file's bytes (its SHA-256 is read when first needed). Returns the card."""
        self._weights_file, self._weights_digest = Path(weights), None
        return self

    @property
    def weights_sha256(self) -> str | None:
        """SHA-256 of the bound weights file (see ``bind_weights``); None when unbound, unreadable or not a file."""
        weights = getattr(self, "_weights_file", None)
        if weights is not None and self._weights_digest is None:
            try:
                info = weights.stat()
                if stat.S_ISREG(info.st_mode):
                    self._weights_digest = _sha256_of(str(weights), (info.st_ino, info.st_size, info.st_mtime_ns))
            except OSError:
                return None
        return getattr(self, "_weights_digest", None)

    def measured_with(self, figures: SuiteFigures) -> str | None:
        """The SHA-256 of the weights ``figures`` were measured with: recorded with them, or for the shipped
        cards written before that, the shipped file's (``LEGACY_WEIGHTS_SHA256``); None when not known."""
        return figures.weights_sha256 or _LEGACY_BY_CREATION.get((self.arch, self.created or ""))

    def _same_weights(self, figures: SuiteFigures) -> bool:
        current = self.weights_sha256
        recorded = self.measured_with(figures)
        return current is None or recorded is None or recorded == current

    @property
    def weights_changed(self) -> bool:
        """Whether the card holds reference figures, none of them measured with the file it is bound to (the
        weights were swapped or retrained under it): its pages say ``WEIGHTS_CHANGED`` instead of showing them.
        Figures a card keeps of weights it replaced (see ``shiftlab.zoo.publish``) are simply not shown."""
        held = [self.measurements[key].suite(suite) for suite in SUITES for key in self._reference_keys(suite)]
        return bool(held) and not any(self._same_weights(figures) for figures in held)

    def suite(self, suite: str) -> SuiteFigures | None:
        """``suite``'s figures on the reference data (see ``shiftlab.models.measurements``), or None."""
        key = self.reference_key(suite)
        return None if key is None else self.measurements[key].suite(suite)

    def reference_data(self, suite: str = "clean") -> Fingerprint | None:
        """The fingerprint of the data ``suite``'s headline figures were measured on, or None."""
        key = self.reference_key(suite)
        return None if key is None else self.data_of(key)

    def figure(self, name: str) -> float | None:
        """A headline figure (see ``FIGURES``) measured on the reference data, or None when it was not."""
        suite, field_name = FIGURE_SOURCES[name]
        figures = self.suite(suite)
        return None if figures is None else getattr(figures, field_name)

    def figures(self) -> Figures:
        """Every headline figure (None where not measured on the reference data)."""
        return Figures(**{name: self.figure(name) for name in FIGURES})

    @property
    def epochs_done(self) -> int | None:
        return self.recipe.epochs_done

    @property
    def train_hours(self) -> float | None:
        """Wall time of the training run in hours (two decimals), None when not recorded."""
        seconds = self.recipe.wall_time_s
        return None if seconds is None else round(seconds / 3600, 2)

    def training_devices(self) -> str | None:
        """The hardware the run trained on: per epoch when recorded (a resumed run may have moved)."""
        per_epoch = [epoch.device for epoch in self.history if epoch.device is not None]
        if not per_epoch:
            return self.recipe.device
        counts = {name: per_epoch.count(name) for name in dict.fromkeys(per_epoch)}
        return " + ".join(f"{name} ({n} ep.)" for name, n in counts.items()) if len(counts) > 1 else per_epoch[0]

    def start(self) -> str:
        """"scratch", or which weights a fine-tuning run started from (with that run's epochs and device when known)."""
        init = self.recipe.init
        if init is None:
            return "scratch"
        parent = init.from_card
        origin = f" ({parent.arch}/{parent.variant}, {parent.epochs} epochs on {parent.device})" if parent else ""
        return f"fine-tuned from {init.checkpoint}{origin}"

    def origin(self) -> str:
        """``start`` in a few words: "scratch", or "fine-tuned from <arch/variant>" (or from the file's name)."""
        init = self.recipe.init
        if init is None:
            return "scratch"
        parent = init.from_card
        return f"fine-tuned from {parent.arch}/{parent.variant}" if parent else f"fine-tuned from {init.checkpoint}"

    def lineage(self) -> Lineage:
        """What a fine-tuning run records of the card of the weights it starts from."""
        return Lineage(self.arch, self.variant, self.epochs_done, self.recipe.device, self.git_commit,
                       self.figure("accuracy"))


@functools.lru_cache(maxsize=256)
def _sha256_of(path: str, stamp: tuple[int, int, int]) -> str:
    """``file_sha256`` once per file version (inode, size, modification time): pages list the zoo on every rerun."""
    return file_sha256(path)


def _check_type(where: str, name: str, value: Any) -> None:
    expected = _FIELD_TYPES[name]
    if value is None and name not in ("arch", "variant"):
        return
    if isinstance(value, bool) or not isinstance(value, expected):
        kind = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        raise ModelCardError(f"{where}: field {name!r} must be a {kind}, got {value!r:.60}")


def card_path(weights: str | os.PathLike) -> Path:
    """Where the card of a weights file lives: beside it, same name, ``.json`` (``x.pth.tar`` -> ``x.json``)."""
    weights = Path(weights)
    return weights.parent / f"{strip_weight_suffix(weights.name)}.json"


#: the largest card file read (the shipped ones are under 20 kB; a card is never worth more memory than this)
MAX_CARD_BYTES = 1024**2


def read_card(path: str | os.PathLike) -> ModelCard:
    """Read and check a card file (at most ``MAX_CARD_BYTES``, a regular file); a ``ModelCardError`` says what is
    wrong with it."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_CARD_BYTES:
            raise ModelCardError(f"model card {path} is not a regular file of at most {MAX_CARD_BYTES:,} bytes "
                                 f"({info.st_size:,} bytes)")
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelCardError(f"model card {path} is unreadable: {type(exc).__name__}: {exc}") from exc
    return ModelCard.from_dict(data, where=f"model card {path}")


def write_card(card: ModelCard, path: str | os.PathLike) -> None:
    """Write ``card`` as indented JSON (the same card always gives the same bytes), atomically: readers see the
    old card or the new one, never half of one."""
    text = json.dumps(card.to_dict(), indent=2) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text))


def save_checkpoint(net: nn.Module, card: ModelCard, stem: str | os.PathLike) -> Path:
    """Write ``net``'s weights to ``<stem>.safetensors`` and ``card`` beside them, each atomically; returns the
    weights path. Figures the card holds without a weights digest were measured on ``net``: they are tied to
    the written file's SHA-256."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.parent / f"{stem.name}.safetensors"
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    write_atomically(weights, lambda tmp: save_file(tensors, str(tmp)))
    digest = file_sha256(weights)
    for entry in card.measurements.values():
        for figures in map(entry.suite, entry.suites()):
            if figures.weights_sha256 is None:
                entry.put(dataclasses.replace(figures, weights_sha256=digest))
    write_card(card, card_path(weights))
    return weights

