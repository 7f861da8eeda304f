"""The images a sweep runs on: a dataset (or its first ``limit`` images, or chosen ``indices``), fingerprinted.

The plan records the dataset's name, split, limit, indices and the SHA-256
of the swept pixels and labels; a resumed sweep re-loads them and refuses to
continue on different images (another copy of the dataset, a changed sample).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from shiftlab.data import ImageDataset, fingerprint, load_dataset
from shiftlab.errors import DatasetFormatError, ParameterError


@dataclass(frozen=True)
class Swept:
    """Swept images (uint8 N×H×W×3), their labels and their indices in the dataset."""

    images: np.ndarray
    labels: np.ndarray
    index: np.ndarray
    classes: list[str]


@dataclass(frozen=True)
class SweptData:
    """The plan's ``data`` entry: what to load (dataset ``name``, ``split``, the first ``limit`` images or the
    chosen ``indices``) and the fingerprint of what was loaded (``sha256`` of the pixels and labels, ``n`` images)."""

    name: str
    split: str
    limit: int | None
    indices: list[int] | None
    sha256: str
    n: int

    def __str__(self) -> str:  # messages show the entry as sweep.json holds it
        return str(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The entry as ``sweep.json`` holds it, keys in the order shiftlab writes them."""
        return {"name": self.name, "split": self.split, "limit": self.limit, "indices": self.indices,
                "sha256": self.sha256, "n": self.n}


def describe(name: str, split: str, limit: int | None, indices: list[int] | None, subset: ImageDataset) -> SweptData:
    """The plan's ``data`` entry: what to load, and the fingerprint of what was loaded."""
    return SweptData(name, split, limit, indices, fingerprint(subset).sha256, len(subset))


def load(name: str, split: str = "test", limit: int | None = None, indices: list[int] | None = None,
         root: str | os.PathLike | None = None) -> tuple[Swept, SweptData]:
    """The swept images and the plan's ``data`` entry describing them."""
    if limit is not None and indices is not None:
        raise ParameterError("give a limit or image indices, not both")
    dataset = load_dataset(name, split, root=root, limit=limit)
    index = np.arange(len(dataset)) if indices is None else np.asarray(indices, np.int64)
    if len(index) and (index.min() < 0 or index.max() >= len(dataset)):
        raise ParameterError(f"image indices must lie in [0, {len(dataset)}), got {indices}")
    subset = dataset.subset(index)
    swept = Swept(subset.images, subset.labels, index, subset.classes)
    return swept, describe(name, split, limit, None if indices is None else [int(i) for i in index], subset)


def reload(data: SweptData, root: str | os.PathLike | None = None) -> Swept:
    """The swept images of a saved plan's ``data`` entry, checked against its fingerprint."""
    swept, found = load(data.name, data.split, data.limit, data.indices, root)
    if found.sha256 != data.sha256:
        raise DatasetFormatError(f"the images of {data.name} {data.split} here differ from those the sweep "
                                 f"was made on (SHA-256 {found.sha256[:12]}… vs {data.sha256[:12]}…)")
    return swept
