"""Typed JSON objects inside a model card: fields read by attribute, types checked on reading, bytes kept on writing.

A card's parts (its training recipe, each epoch of its history, each suite's figures) are dataclasses deriving
from ``CardRecord``, as timm's ``PretrainedCfg`` types a pretrained model's settings. ``from_json`` refuses
unknown keys, missing required ones and values of another JSON type than the field's annotation, with a
``ModelCardError`` naming where. ``to_json`` gives back the keys a record was read with, in their order (a
``null`` stays ``null``, an absent key stays absent), then the fields set since, in declaration order: the
committed cards were written by several versions of the code, and a card read and written again keeps its bytes
(``tests/test_round_trip.py``). A record made in code writes its fields that are not None, and its ``STATED``
ones even when None.

The type check is hand-written (a few lines over ``typing``'s introspection) because the records are plain
dataclasses that must keep the bytes they read; a validation library would rewrite them in its own order.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from shiftlab.errors import ModelCardError


@dataclass(frozen=True)
class CardRecord:
    """Base of the typed JSON objects of a card. Subclasses are frozen dataclasses; fields named with a leading
    underscore are bookkeeping, never JSON."""

    #: fields written even when None by a record made in code
    STATED: ClassVar[tuple[str, ...]] = ()
    #: the keys the record was read with, in their order; None for a record made in code
    _keys: tuple[str, ...] | None = field(default=None, repr=False, compare=False, kw_only=True)

    @classmethod
    def from_json(cls, data: Any, where: str) -> Self:
        """The record of a JSON object; ``ModelCardError`` naming ``where`` and the key when it does not fit."""
        if not isinstance(data, dict):
            raise ModelCardError(f"{where} must be an object, got {data!r:.60}")
        hints = _json_fields(cls)
        unknown = [key for key in data if key not in hints]
        if unknown:
            raise ModelCardError(f"{where} has unknown fields {sorted(unknown)}; it holds {', '.join(hints)}")
        missing = [name for name in _required(cls) if name not in data]
        if missing:
            raise ModelCardError(f"{where} has no {missing[0]!r} field")
        cls.check_json(data, where)
        values = {name: _decode(value, hints[name], f"{where}.{name}") for name, value in data.items()}
        return cls(**values, _keys=tuple(data))

    @classmethod
    def check_json(cls, data: dict[str, Any], where: str) -> None:
        """Checks beyond the JSON types, before them (a subclass's formats and ranges); none by default."""

    def to_json(self) -> dict[str, Any]:
        """The JSON object: the keys read, in their order, then the fields set since (see the module docstring)."""
        read = self._keys or ()
        stated = self.STATED if self._keys is None else read
        order = [*read, *(name for name in _json_fields(type(self)) if name not in read)]
        return {
            name: encode(getattr(self, name)) for name in order if getattr(self, name) is not None or name in stated
        }


@functools.cache
def _json_fields(cls: type[CardRecord]) -> dict[str, Any]:
    """Field name -> resolved annotation, bookkeeping fields left out."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if not f.name.startswith("_")}


def _required(cls: type[CardRecord]) -> list[str]:
    """The fields a record cannot be made without (those with no default)."""
    return [f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


def _decode(value: Any, annotation: Any, where: str) -> Any:
    """``value`` checked against ``annotation``; objects of a record type become that record."""
    record = _record_type(annotation)
    if record is not None and isinstance(value, dict):
        return record.from_json(value, where)
    item = _record_type(typing.get_args(annotation)[0]) if typing.get_origin(annotation) is list else None
    if item is not None and isinstance(value, list):
        return [item.from_json(entry, f"{where}[{i}]") for i, entry in enumerate(value)]
    if not _conforms(value, annotation):
        raise ModelCardError(f"{where} must be {_spelled(annotation)}, got {value!r:.60}")
    return value


def _record_type(annotation: Any) -> type[CardRecord] | None:
    """The record class ``annotation`` names (alone or with None), if any."""
    for arg in _alternatives(annotation):
        if isinstance(arg, type) and issubclass(arg, CardRecord):
            return arg
    return None


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    union = typing.get_origin(annotation) in (types.UnionType, typing.Union)
    return typing.get_args(annotation) if union else (annotation,)


def _conforms(value: Any, annotation: Any) -> bool:
    """Whether a JSON ``value`` has the type ``annotation`` says: a float field takes whole numbers, no number
    field takes true or false, lists and objects are checked item by item, ``Any`` takes anything."""
    if len(_alternatives(annotation)) > 1:
        return any(_conforms(value, arg) for arg in _alternatives(annotation))
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if annotation is type(None) or annotation is bool:
        return value is None if annotation is type(None) else isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if annotation is float:
        return isinstance(value, int | float)
    if origin is list:
        return isinstance(value, list) and all(_conforms(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(_conforms(item, args[1]) for item in value.values())
    return isinstance(value, annotation)


def _spelled(annotation: Any) -> str:
    """An annotation as a reader of the card understands it: ``float | None`` -> ``a number or null``."""
    words = {float: "a number", int: "a whole number", str: "text", bool: "true or false", type(None): "null"}
    spelled = []
    for arg in _alternatives(annotation):
        origin = typing.get_origin(arg)
        spelled.append(words.get(arg) or {list: "a list", dict: "an object"}.get(origin, "an object"))
    return " or ".join(spelled)


def encode(value: Any) -> Any:
    """A field's JSON value: a typed record's (anything with ``to_json``) JSON, lists and objects item by item,
    anything else as it is."""
    to_json = getattr(value, "to_json", None)
    if to_json is not None:
        return to_json()
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    return value
