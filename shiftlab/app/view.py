"""The view: what every page looks at (model, variant, image, shift, severity, seed, methods, target), as URL parameters.

A ``View`` is parsed from the page's query parameters and written back to
them on every run, so a copied URL opened in a fresh browser shows the same
view and changing page keeps it. Parsing never fails: an unknown or
malformed value falls back to its default and leaves a note saying so,
which the page shows.

Image references: ``cifar10-sample:37`` (the embedded sample),
``cifar10:1234`` (the full test set, when present), ``photo:coffee`` (a
photograph scikit-image ships, for the ImageNet models).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shiftlab.attribution import METHODS
from shiftlab.models import get_spec, list_models, list_variants
from shiftlab.shifts import SEVERITIES, list_shifts

#: shift kinds that keep an image's class (dataset shifts replace images: the OOD page's business)
CLASS_PRESERVING = ("corruption", "edit")
DEFAULT_METHODS = ("saliency", "gradcam", "integrated_gradients")
TARGETS = ("source", "own")
SAMPLE = "cifar10-sample"
FULL = "cifar10"
PHOTO = "photo"
#: the photographs offered for ImageNet models: name -> scikit-image loader name
PHOTOS = {"coffee": "coffee", "cat": "chelsea", "rocket": "rocket", "astronaut": "astronaut"}
#: the view's fields in URL order
FIELDS = ("arch", "variant", "image", "shift", "severity", "seed", "methods", "target")


@dataclass(frozen=True)
class ImageRef:
    """One image: a source (``cifar10-sample``, ``cifar10`` or ``photo``) and an index or a photo's name."""

    source: str
    key: str

    def __str__(self) -> str:
        return f"{self.source}:{self.key}"

    @property
    def index(self) -> int:
        return int(self.key)

    @classmethod
    def parse(cls, text: str, sizes: Mapping[str, int]) -> ImageRef:
        """``source:key`` checked against ``sizes`` (images per dataset source present here); ValueError if bad."""
        source, _, key = text.partition(":")
        if source == PHOTO:
            if key not in PHOTOS:
                raise ValueError(f"no photo {key!r}; photos: {', '.join(PHOTOS)}")
            return cls(source, key)
        if source not in sizes:
            raise ValueError(f"image source {source!r} is not here; sources: {', '.join([*sizes, PHOTO])}")
        if not key.isdigit() or int(key) >= sizes[source]:
            raise ValueError(f"{source} has images 0 to {sizes[source] - 1}, not {key!r}")
        return cls(source, str(int(key)))


@dataclass(frozen=True)
class View:
    """What the pages show. ``target``: ``source`` explains the source's class in both images, ``own`` each its own."""

    arch: str
    variant: str
    image: ImageRef
    shift: str = "gaussian_noise"
    severity: int = 3
    seed: int = 0
    methods: tuple[str, ...] = DEFAULT_METHODS
    target: str = "source"
    notes: tuple[str, ...] = field(default=(), compare=False)

    def to_query(self) -> dict[str, str]:
        """The view as URL query parameters."""
        return {"arch": self.arch, "variant": self.variant, "image": str(self.image), "shift": self.shift,
                "severity": str(self.severity), "seed": str(self.seed), "methods": ",".join(self.methods),
                "target": self.target}

    def with_(self, **changes: Any) -> View:
        """A copy with ``changes``, notes cleared (they described the URL that was parsed)."""
        return replace(self, notes=(), **changes)

    @property
    def model(self) -> str:
        return f"{self.arch}/{self.variant}"


def model_choices() -> list[tuple[str, str]]:
    """(arch, variant) of every model with weights here: CIFAR-10 models first, then the ImageNet ones."""
    found = [(arch, variant) for arch in list_models() for variant in list_variants(arch)]
    return sorted(found, key=lambda model: get_spec(model[0]).dataset != FULL)


def shift_choices() -> list[str]:
    """Every class-preserving shift (corruptions, then edits)."""
    return [name for kind in CLASS_PRESERVING for name in list_shifts(kind=kind)]


def methods_for(arch: str) -> list[str]:
    """Attribution methods that apply to ``arch`` (the rollouts need a ViT)."""
    family = get_spec(arch).family
    return [name for name, method in METHODS.items() if family in method.families]


def default_image(arch: str) -> ImageRef:
    """The first sample image for a CIFAR model, the coffee photo for an ImageNet one."""
    return ImageRef(SAMPLE, "0") if get_spec(arch).dataset == FULL else ImageRef(PHOTO, "coffee")


def parse_view(query: Mapping[str, str], sizes: Mapping[str, int]) -> View:
    """The view a URL asks for; each unknown or malformed value falls back to its default with a note.

    ``sizes`` gives the number of images of each dataset source present here
    (``cifar10-sample`` always, ``cifar10`` when the full test set is found).
    """
    notes: list[str] = []
    choices = model_choices()
    arch = _pick(query, "arch", [a for a, _ in choices], choices[0][0], notes)
    variants = [v for a, v in choices if a == arch]
    variant = _pick(query, "variant", variants, "baseline" if "baseline" in variants else variants[0], notes)
    image = _parse(query, "image", lambda text: ImageRef.parse(text, sizes), default_image(arch), notes)
    shift = _pick(query, "shift", shift_choices(), View.shift, notes)
    severity = _parse(query, "severity", lambda text: _in_range(int(text), SEVERITIES), View.severity, notes)
    seed = _parse(query, "seed", lambda text: _in_range(int(text), range(0, 2**31)), View.seed, notes)
    methods = _parse(query, "methods", lambda text: _methods(text, methods_for(arch)),
                     tuple(m for m in DEFAULT_METHODS if m in methods_for(arch)), notes)
    target = _pick(query, "target", list(TARGETS), View.target, notes)
    return View(arch, variant, image, shift, severity, seed, methods, target, tuple(notes))


def _pick(query: Mapping[str, str], key: str, allowed: list[str], default: str, notes: list[str]) -> str:
    def check(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return _parse(query, key, check, default, notes)


def _parse(query: Mapping[str, str], key: str, parse: Callable[[str], Any], default: Any, notes: list[str]) -> Any:
    """``parse(query[key])``, or ``default`` (with a note) when absent or invalid."""
    if key not in query:
        return default
    try:
        return parse(str(query[key]))
    except ValueError as exc:
        shown = default if not isinstance(default, tuple) else ",".join(default)
        notes.append(f"URL parameter {key}={query[key]!r} ignored ({exc}); showing {key}={shown}.")
        return default


def _in_range(value: int, allowed: range | tuple[int, ...]) -> int:
    if value not in allowed:
        raise ValueError(f"{value} is out of range {min(allowed)} to {max(allowed)}")
    return value


def _methods(text: str, allowed: list[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise ValueError(f"methods must be a comma list of {', '.join(allowed)}")
    return names
