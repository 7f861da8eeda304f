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
1,000 images, recognised by content (``REFERENCE_SHA256``), not by name;
figures on other data are kept under their own key (data with a reference's
name but other content get the start of their hash in the key) and never
shown as test-set figures.

Each suite's figures also name the SHA-256 of the weights they were measured
with (``weights_sha256``). A card read beside its weights is bound to them
(``bind_weights``): figures measured with other weights are not headline
figures, and ``weights_changed`` says so, so a swapped or retrained file
never shows the figures of the file it replaced.
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

#: what an arch, variant or dataset name may look like: it becomes a file or folder name, so no separators,
#: no leading dot, at most 64 characters
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")

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
#: the content of each reference data set (``shiftlab.data.fingerprint``'s SHA-256 of its pixels and labels), by
#: its data key: the CIFAR-10 test set and its first 1,000 images, as ``tests/test_hostile_cli.py`` recomputes them
REFERENCE_SHA256: dict[str, str] = {
    "cifar10/test": "e54a434ec35094516eacbaac0f2f9550358d985e9d1f71b47d41d333c15ba304",
    "cifar10/test (1000 of 10000)": "970081de537b57c64040520c751d650e64731341be62dd0e3209bd2235bead47",
}
#: the weights the shipped cards' figures were measured with, for the cards written before each suite recorded
#: ``weights_sha256``: (arch, variant, created) -> SHA-256 of the weights file (a card is found by its arch and
#: creation time, so a shipped card copied beside other weights, its variant renamed, is still recognised)
LEGACY_WEIGHTS_SHA256: dict[tuple[str, str, str], str] = {
    ("resnet20", "augmix", "2026-11-22T23:15:51+00:00"): "4cfcbba434bac69656f3bb29f3e1c46f17722ca7ef46262f0ff5c630671a828b",
    ("resnet20", "baseline", "2026-11-22T21:41:25+00:00"): "95aa767aa80785f6a892fe367cdceceeeab9be91d59206a197bc52f00b956449",
    ("resnet20", "fast_adv", "2026-11-22T23:07:45+00:00"): "29f2fb1bbdaa20623dffa5fb26d6adcdf39be564b1d3646209d5d2a1091517e2",
    ("resnet20", "free_adv", "2026-11-22T23:08:24+00:00"): "90cc08b7092944d979134ecf48ef963a90df364dd88e5f8186a591f786fa8134",
    ("resnet20", "pgd_adv", "2026-11-23T00:01:58+00:00"): "205df286a519f9cc784df7c7a8294fe705ade44fb941606c063e30502483b564",
    ("resnet20", "pixmix", "2026-11-22T23:34:35+00:00"): "11456551bbde620c952786317b2f29c026e998444a9079c9c59ea85b29d75f40",
    ("vit_tiny", "augmix", "2026-11-23T02:58:52+00:00"): "b19cbef6ebb4bd6f95c0a4392dcea51c23becf64cfa7429c392c9f5f26f43131",
    ("vit_tiny", "baseline", "2026-11-22T23:08:51+00:00"): "e8fb0c41e9405e25b5a68b480bf0042c9fe9a7c06dfcfca15a6541bb6f769703",
    ("vit_tiny", "fast_adv", "2026-11-23T01:48:10+00:00"): "635fcf71695e30d294cb776a094c9c420a1616210214913428ce2c7df26a4c19",
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
        for name in ("arch", "variant", "dataset"):
            if data.get(name) is not None and not NAME_PATTERN.fullmatch(data[name]):
                raise ModelCardError(f"{where}: field {name!r} must be letters, digits, '_' and '-' (at most 64, "
                                     f"starting with a letter or digit), got {data[name]!r:.80}")
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
        """Store an evaluation ``result`` (its ``dataset`` ``Fingerprint`` and figures, ``weights_sha256`` among
        them when known) under its data's key; returns the key.

        A suite measured again on the same data replaces the earlier figures; other data get their own key.
        """
        figures = {k: v for k, v in result.items() if k != "dataset"}
        key, data = data_key(result["dataset"]), result["dataset"].to_dict()
        entry = self.measurements.setdefault(key, {"data": data})
        if entry["data"] != data:  # same name, split and size but other images: the old figures are void
            self.measurements[key] = entry = {"data": data}
        entry[suite] = figures
        return key

    def data_of(self, key: str) -> Fingerprint:
        """The fingerprint of the data the figures under ``key`` were measured on."""
        return Fingerprint.from_dict(self.measurements[key]["data"])

    def measured(self) -> list[tuple[str, str]]:
        """Every (data key, suite) this card holds figures for."""
        return [(key, suite) for key, entry in self.measurements.items() for suite in SUITES if suite in entry]

    def reference_key(self, suite: str) -> str | None:
        """The key under which ``suite``'s headline figures are held, or None when none were measured on the
        reference data with the weights this card is bound to (see ``bind_weights``)."""
        return next((key for key in self._reference_keys(suite) if self._same_weights(self.measurements[key][suite])),
                    None)

    def _reference_keys(self, suite: str) -> list[str]:
        return [key for key, entry in self.measurements.items()
                if suite in entry and is_reference(self.data_of(key), suite, self.dataset)]

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

    def measured_with(self, figures: dict) -> str | None:
        """The SHA-256 of the weights ``figures`` were measured with: recorded with them, or for the shipped
        cards written before that, the shipped file's (``LEGACY_WEIGHTS_SHA256``); None when not known."""
        return figures.get("weights_sha256") or _LEGACY_BY_CREATION.get((self.arch, self.created or ""))

    def _same_weights(self, figures: dict) -> bool:
        current = self.weights_sha256
        recorded = self.measured_with(figures)
        return current is None or recorded is None or recorded == current

    @property
    def weights_changed(self) -> bool:
        """Whether the card holds reference figures, none of them measured with the file it is bound to (the
        weights were swapped or retrained under it): its pages say ``WEIGHTS_CHANGED`` instead of showing them.
        Figures a card keeps of weights it replaced (see ``shiftlab.zoo.publish``) are simply not shown."""
        held = [self.measurements[key][suite] for suite in SUITES for key in self._reference_keys(suite)]
        return bool(held) and not any(self._same_weights(figures) for figures in held)

    def suite(self, suite: str) -> dict | None:
        """``suite``'s figures on the reference data (see the module docstring), or None."""
        key = self.reference_key(suite)
        return None if key is None else self.measurements[key][suite]

    def reference_data(self, suite: str = "clean") -> Fingerprint | None:
        """The fingerprint of the data ``suite``'s headline figures were measured on, or None."""
        key = self.reference_key(suite)
        return None if key is None else self.data_of(key)

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


def data_key(data: Fingerprint) -> str:
    """The key of a data fingerprint: ``name/split`` for a whole split, ``name/split (n of N)`` for part of one;
    data named like a reference data set but of other content get ``[content <first 12 hex of its hash>]`` after
    it, so they never take the reference's key."""
    key = _named_key(data)
    differs = REFERENCE_SHA256.get(key, data.sha256) != data.sha256
    return f"{key} [content {data.sha256[:12]}]" if differs else key


def _named_key(data: Fingerprint) -> str:
    base = f"{data.name}/{data.split}"
    return base if data.n == data.of else f"{base} ({data.n} of {data.of})"


def impostor(data: Fingerprint) -> str | None:
    """Why ``data`` is not the reference data set it is named like (its content is another), or None."""
    key = _named_key(data)
    wanted = REFERENCE_SHA256.get(key)
    if wanted is None or wanted == data.sha256:
        return None
    return (f"the data measured on are named {key} but are not the reference {key}: their content (SHA-256 of "
            f"images and labels) is {data.sha256[:12]}…, the reference's {wanted[:12]}…")


def is_reference(data: Fingerprint, suite: str, dataset: str | None) -> bool:
    """Whether ``suite`` figures measured on ``data`` are a card's headline figures: the test split of the card's
    own dataset, whole, or for PGD its first ``REFERENCE_IMAGES['pgd']`` images, and of the reference content
    where ``REFERENCE_SHA256`` knows it."""
    wanted = REFERENCE_IMAGES[suite]
    n = data.of if wanted is None else min(wanted, data.of)
    return (data.name == dataset and data.split == "test" and data.n == n
            and REFERENCE_SHA256.get(_named_key(data), data.sha256) == data.sha256)


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
        measured_on = data_key(Fingerprint.from_dict(entry["data"]))
        if key != measured_on:
            raise ModelCardError(f"{at} holds figures measured on {measured_on!r}: "
                                 "every entry is keyed by the data it was measured on")
        unknown = sorted(set(entry) - {"data", *SUITES})
        if unknown:
            raise ModelCardError(f"{at} has unknown suites {unknown}; suites are {', '.join(SUITES)}")
        for suite in SUITES:
            if suite in entry and not isinstance(entry[suite], dict):
                raise ModelCardError(f"{at}.{suite} must be an object of figures")
            digest = entry.get(suite, {}).get("weights_sha256")
            if digest is not None and not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
                raise ModelCardError(f"{at}.{suite}.weights_sha256 must be 64 lowercase hex digits, got {digest!r:.80}")
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
    for key, suite in card.measured():
        card.measurements[key][suite].setdefault("weights_sha256", digest)
    write_card(card, card_path(weights))
    return weights

