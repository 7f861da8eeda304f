"""What a model card holds of its evaluations: each suite's figures, keyed by the data they were measured on.

A card's ``measurements`` map a data key (``cifar10/test`` for a whole split, ``cifar10/test (1000 of 10000)``
for its first images) to a ``Measurement``: that data's fingerprint and the suites measured on it (``clean``,
``corruptions``, ``pgd``), each a typed record of figures. A card's headline figures (``Figures``) come only from
its reference data: the whole test split of its dataset, and for PGD its first 1,000 images, recognised by
content (``REFERENCE_SHA256``), not by name; figures on other data are kept under their own key (data with a
reference's name but other content get the start of their hash in the key) and never shown as test-set figures.
Each suite's figures also name the SHA-256 of the weights they were measured with (``weights_sha256``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shiftlab.data import Fingerprint
from shiftlab.errors import ModelCardError
from shiftlab.models.card_record import CardRecord

_SHA256 = re.compile(r"[0-9a-f]{64}")
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


@dataclass(frozen=True)
class SuiteFigures(CardRecord):
    """The figures of one suite; each subclass names its suite (``SUITE``) and ends with ``weights_sha256``."""

    SUITE: ClassVar[str]

    @classmethod
    def check_json(cls, data: dict[str, Any], where: str) -> None:
        digest = data.get("weights_sha256")
        if digest is not None and not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
            raise ModelCardError(f"{where}.weights_sha256 must be 64 lowercase hex digits, got {digest!r:.80}")


@dataclass(frozen=True)
class CleanFigures(SuiteFigures):
    """Accuracy, macro-F1, ECE (15 bins) and NLL on ``n`` clean images."""

    SUITE = "clean"

    accuracy: float | None = None
    macro_f1: float | None = None
    ece: float | None = None
    nll: float | None = None
    n: int | None = None
    seconds: float | None = None
    weights_sha256: str | None = None


@dataclass(frozen=True)
class CorruptionFigures(SuiteFigures):
    """Accuracy under each corruption at each severity, and their mean."""

    SUITE = "corruptions"

    mean_accuracy: float | None = None
    per_corruption: dict[str, list[float]] | None = None
    severities: list[int] | None = None
    seed: int | None = None
    seconds: float | None = None
    weights_sha256: str | None = None


@dataclass(frozen=True)
class PgdFigures(SuiteFigures):
    """Robust accuracy under PGD (L∞ ``eps``, ``steps`` steps of ``step_size``)."""

    SUITE = "pgd"

    accuracy: float | None = None
    eps: float | None = None
    step_size: float | None = None
    steps: int | None = None
    random_start: bool | None = None
    seed: int | None = None
    seconds: float | None = None
    weights_sha256: str | None = None


SUITE_FIGURES: dict[str, type[SuiteFigures]] = {
    kind.SUITE: kind for kind in (CleanFigures, CorruptionFigures, PgdFigures)
}


@dataclass(frozen=True)
class SuiteResult:
    """What an evaluation gives: one suite's figures and the fingerprint of the data they were measured on."""

    data: Fingerprint
    figures: SuiteFigures

    @property
    def suite(self) -> str:
        return self.figures.SUITE

    def with_weights(self, sha256: str | None) -> SuiteResult:
        """The result naming the SHA-256 of the weights it was measured with."""
        return dataclasses.replace(self, figures=dataclasses.replace(self.figures, weights_sha256=sha256))


@dataclass
class Measurement:
    """The figures measured on one data set: its fingerprint and each suite's figures (None: not measured)."""

    data: Fingerprint
    clean: CleanFigures | None = None
    corruptions: CorruptionFigures | None = None
    pgd: PgdFigures | None = None
    #: the suites in the order they were read or recorded, and the fingerprint's keys as read (``to_json``)
    _order: list[str] = field(default_factory=list, repr=False, compare=False)
    _data_keys: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def suite(self, name: str) -> SuiteFigures | None:
        """The figures of suite ``name`` (one of ``SUITES``), None when it was not measured here."""
        return getattr(self, name)

    def suites(self) -> list[str]:
        """The suites measured here, in ``SUITES`` order."""
        return [name for name in SUITES if self.suite(name) is not None]

    def bare(self) -> Measurement:
        """A measurement of the same data (written as this one's) with no figures yet."""
        return Measurement(self.data, _data_keys=self._data_keys)

    def put(self, figures: SuiteFigures) -> None:
        """Hold ``figures`` as their suite's, replacing any held."""
        setattr(self, figures.SUITE, figures)
        if figures.SUITE not in self._order:
            self._order.append(figures.SUITE)

    def to_json(self) -> dict[str, Any]:
        """The card's JSON object: the fingerprint under ``data``, then each suite, in the order they came."""
        data = self.data.to_dict()
        order = [*self._order, *(name for name in self.suites() if name not in self._order)]
        return {"data": {key: data[key] for key in self._data_keys or data},
                **{name: self.suite(name).to_json() for name in order if self.suite(name) is not None}}

    @classmethod
    def from_json(cls, key: str, entry: Any, where: str) -> Measurement:
        """The measurement a card holds under ``key``; ``ModelCardError`` when it is not keyed by its own data,
        holds an unknown suite or a figure of the wrong type."""
        at = f"{where}: measurements[{key!r}]"
        data = _fingerprint(entry, at)
        measured_on = data_key(data)
        if key != measured_on:
            raise ModelCardError(f"{at} holds figures measured on {measured_on!r}: "
                                 "every entry is keyed by the data it was measured on")
        unknown = sorted(set(entry) - {"data", *SUITES})
        if unknown:
            raise ModelCardError(f"{at} has unknown suites {unknown}; suites are {', '.join(SUITES)}")
        measurement = cls(data, _data_keys=tuple(entry["data"]))
        for name in (name for name in entry if name != "data"):
            measurement.put(SUITE_FIGURES[name].from_json(entry[name], f"{at}.{name}"))
        return measurement


def _fingerprint(entry: Any, at: str) -> Fingerprint:
    """The fingerprint under an entry's ``data``, each of its five fields checked."""
    if not isinstance(entry, dict) or not isinstance(entry.get("data"), dict):
        raise ModelCardError(f"{at} must be an object with a 'data' fingerprint")
    unknown = sorted(set(entry["data"]) - set(_DATA_FIELDS))
    if unknown:
        raise ModelCardError(f"{at}.data has unknown fields {unknown}; a fingerprint holds {', '.join(_DATA_FIELDS)}")
    for name, kind in _DATA_FIELDS.items():
        value = entry["data"].get(name)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ModelCardError(f"{at}.data.{name} must be a {kind.__name__}, got {value!r:.60}")
    return Fingerprint.from_dict(entry["data"])


def _source(suite: str, name: str) -> Any:
    return field(default=None, metadata={"source": (suite, name)})


@dataclass(frozen=True)
class Figures:
    """A card's headline figures, each measured on its reference data (None where it was not); each field's
    ``source`` metadata names the suite and the field of that suite's figures it is read from."""

    accuracy: float | None = _source("clean", "accuracy")
    macro_f1: float | None = _source("clean", "macro_f1")
    ece: float | None = _source("clean", "ece")
    nll: float | None = _source("clean", "nll")
    corruption_accuracy: float | None = _source("corruptions", "mean_accuracy")
    pgd20_accuracy: float | None = _source("pgd", "accuracy")


#: the headline figures of a card: name -> (suite, field of that suite's figures)
FIGURE_SOURCES: dict[str, tuple[str, str]] = {f.name: f.metadata["source"] for f in dataclasses.fields(Figures)}
FIGURES = tuple(FIGURE_SOURCES)


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
