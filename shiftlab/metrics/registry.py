"""The registry a family of measures keeps of itself: entries by name, in the order they were registered.

A measure registers where it is defined (``drift.register_drift_measure``,
``ood.register_ood_score``), and everything that lists the family (the
records' schema, the SQL that reads them, the app's text) iterates the
registry, so adding a measure changes its own definition and nothing else. A
second entry under a name, or under a value of a field the family keeps
unique (a record column), is refused with ``DuplicateNameError``: silently
replacing a measure would change stored figures without a word.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, TypeVar

from shiftlab.errors import DuplicateNameError


class Named(Protocol):
    """What a registry entry has: a name."""

    name: str


Entry = TypeVar("Entry", bound=Named)


class Registry(Mapping[str, Entry]):
    """A read-only mapping name -> entry in registration order, filled by ``register``.

    ``kind`` names the family in messages ("drift measure"); ``unique`` names
    the entry fields besides ``name`` that no two entries may share.
    """

    def __init__(self, kind: str, unique: tuple[str, ...] = ()):
        self.kind = kind
        self.unique = ("name", *unique)
        self._entries: dict[str, Entry] = {}

    def register(self, entry: Entry) -> Entry:
        """Add ``entry``; ``DuplicateNameError`` if its name or a ``unique`` field is already taken."""
        for field in self.unique:
            value = getattr(entry, field)
            holder = next((e for e in self._entries.values() if getattr(e, field) == value), None)
            if holder is not None:
                raise DuplicateNameError(f"{self.kind} {field} {value!r} is already registered (by {holder.name!r})")
        self._entries[entry.name] = entry
        return entry

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
