"""The view: what every page looks at (model, variant, image, shift, severity, seed, methods, target) and how (for a
projector or not), as URL parameters.

A ``View`` is parsed from the page's query parameters and written back to
them on every run, so a copied URL opened in a fresh browser shows the same
view and changing page keeps it. Parsing never fails: an unknown or
malformed value falls back to its default and leaves a ``Replacement``
saying so, which the page shows (escaped: a URL is anyone's text). Every
value costs O(1) to check: its length is bounded before it is read, numbers
are ASCII digits of bounded length compared with the ends of their range.

Image references: ``cifar10-sample:37`` (the embedded sample),
``cifar10:1234`` (the full test set, when present), ``photo:coffee`` (a
photograph scikit-image ships, for the ImageNet models).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shiftlab.attribution import applicable_methods
from shiftlab.folders import folder_datasets
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
FIELDS = ("arch", "variant", "image", "shift", "severity", "seed", "methods", "target", "present")
#: the values of the presentation switch in a URL (``present=1`` on)
PRESENT = ("0", "1")
#: the longest URL value read: a longer one is refused before any parsing (a view's values are under 150 characters)
MAX_VALUE = 200
#: the seeds a view accepts (those a shift's random stream takes)
SEED_MIN, SEED_MAX = 0, 2**31 - 1
#: a whole number in a URL or an image reference: ASCII digits only (``int`` also takes "٣", " 3", "+3", "1_0")
_WHOLE = re.compile(r"[0-9]{1,10}")


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
        """``source:key`` checked against ``sizes`` (images per dataset source present here); ValueError if bad.

        The message never repeats the text: it may be anything, of any length.
        """
        source, _, key = text.partition(":")
        if source == PHOTO:
            if key not in PHOTOS:
                raise ValueError("no photograph of that name")
            return cls(source, key)
        if source not in sizes:
            raise ValueError("no image source of that name here")
        return cls(source, str(whole(key, 0, sizes[source] - 1, f"{source} has images")))


@dataclass(frozen=True)
class Replacement:
    """A URL value the view could not use: its key, the value given, the value shown instead, why, and the choices.

    ``given`` is the raw text from the URL: show it escaped (``text.plain``), never as Markdown.
    """

    key: str
    given: str
    shown: str
    reason: str
    choices: str


def shorten(value: str, limit: int = 40) -> str:
    """``repr`` of ``value`` cut to ``limit`` characters (line breaks and control characters visible as escapes)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value):,} characters)"


def whole(text: str, low: int, high: int, what: str) -> int:
    """``text`` as a whole number from ``low`` to ``high``: ASCII digits, at most 10, checked in O(1); else
    ValueError."""
    if not _WHOLE.fullmatch(text) or not low <= int(text) <= high:
        raise ValueError(f"{what} {low} to {high}")
    return int(text)


@dataclass(frozen=True)
class View:
    """What the pages show. ``target``: ``source`` explains the source's class in both images, ``own`` each its own;
    ``present``: presentation mode (developer detail hidden, figures larger)."""

    arch: str
    variant: str
    image: ImageRef
    shift: str = "gaussian_noise"
    severity: int = 3
    seed: int = 0
    methods: tuple[str, ...] = DEFAULT_METHODS
    target: str = "source"
    present: bool = False
    notes: tuple[Replacement, ...] = field(default=(), compare=False)

    def to_query(self) -> dict[str, str]:
        """The view as URL query parameters (``present`` only when on: a plain link stays as it was)."""
        query = {"arch": self.arch, "variant": self.variant, "image": str(self.image), "shift": self.shift,
                 "severity": str(self.severity), "seed": str(self.seed), "methods": ",".join(self.methods),
                 "target": self.target}
        return {**query, "present": PRESENT[1]} if self.present else query

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
    """Attribution methods that apply to ``arch`` (the rollouts need a ViT; Grad-CAM a layer to explain)."""
    spec = get_spec(arch)
    return applicable_methods(arch, spec.hooks(spec.config))


def default_image(arch: str) -> ImageRef:
    """The first sample image for a CIFAR model, the first image of the models file's first folder for a user's
    model (the coffee photo without one), the coffee photo for an ImageNet one."""
    spec = get_spec(arch)
    folders = list(folder_datasets())
    if spec.external and folders:
        return ImageRef(folders[0], "0")
    return ImageRef(SAMPLE, "0") if spec.dataset == FULL else ImageRef(PHOTO, "coffee")


def parse_view(query: Mapping[str, Any], sizes: Mapping[str, int]) -> View:
    """The view a URL asks for; each unknown or malformed value falls back to its default with a ``Replacement``.

    ``sizes`` gives the number of images of each dataset source present here
    (``cifar10-sample`` always, ``cifar10`` when the full test set is found).
    A key given more than once (a list) is read at its last value, as
    ``st.query_params`` does; keys that are not view fields are ignored.
    """
    notes: list[Replacement] = []
    choices = model_choices()
    archs = list(dict.fromkeys(a for a, _ in choices))
    arch = _pick(query, "arch", archs, choices[0][0], notes, "no model of that architecture here")
    variants = [v for a, v in choices if a == arch]
    variant = _pick(query, "variant", variants, "baseline" if "baseline" in variants else variants[0], notes,
                    f"no {arch} variant of that name here")
    image = _parse(query, "image", lambda text: ImageRef.parse(text, sizes), default_image(arch), notes,
                   _image_choices(sizes))
    shift = _pick(query, "shift", shift_choices(), View.shift, notes, "no class-preserving shift of that name")
    low, high = min(SEVERITIES), max(SEVERITIES)
    severity = _parse(query, "severity", lambda text: whole(text, low, high, "severities are"), View.severity, notes,
                      f"{low} to {high}")
    seed = _parse(query, "seed", lambda text: whole(text, SEED_MIN, SEED_MAX, "seeds are whole numbers from"),
                  View.seed, notes, f"{SEED_MIN} to {SEED_MAX}")
    allowed = methods_for(arch)
    methods = _parse(query, "methods", lambda text: _methods(text, allowed),
                     tuple(m for m in DEFAULT_METHODS if m in allowed), notes,
                     f"one or more of {', '.join(allowed)}, separated by commas")
    target = _pick(query, "target", list(TARGETS), View.target, notes, "not a target the maps can explain")
    present = _pick(query, "present", list(PRESENT), PRESENT[0], notes, "presentation is 0 (off) or 1 (on)")
    return View(arch, variant, image, shift, severity, seed, methods, target, present == PRESENT[1], tuple(notes))


def _image_choices(sizes: Mapping[str, int]) -> str:
    datasets = [f"{source}:0 to {source}:{n - 1}" for source, n in sizes.items()]
    return "; ".join([*datasets, ", ".join(f"{PHOTO}:{name}" for name in PHOTOS)])


def _pick(query: Mapping[str, Any], key: str, allowed: list[str], default: str, notes: list[Replacement],
          reason: str) -> str:
    def check(text: str) -> str:
        if text not in allowed:
            raise ValueError(reason)
        return text

    return _parse(query, key, check, default, notes, ", ".join(allowed))


def _parse(query: Mapping[str, Any], key: str, parse: Callable[[str], Any], default: Any,
           notes: list[Replacement], choices: str) -> Any:
    """``parse(query[key])``, or ``default`` (with a ``Replacement`` in ``notes``) when present but unusable."""
    if key not in query:
        return default
    given = _text(query[key])
    try:
        if given is None:
            raise ValueError("not text")
        if not given:
            raise ValueError("the value is empty")
        if len(given) > MAX_VALUE:
            raise ValueError(f"longer than {MAX_VALUE} characters")
        return parse(given)
    except ValueError as exc:
        shown = ",".join(default) if isinstance(default, tuple) else str(default)
        notes.append(Replacement(key, given or "", shown, str(exc), choices))
        return default


def _text(value: Any) -> str | None:
    """A query value as text (a repeated key's last value), None when it is not text."""
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    return value if isinstance(value, str) else None


def _methods(text: str, allowed: list[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names or any(name not in allowed for name in names):
        raise ValueError("not a list of this model's methods")
    return names
