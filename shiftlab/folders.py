"""A folder of a user's photos as a dataset: listed at once, decoded only when an image is asked for.

Three layouts:

* class sub-folders (``photos/cat/1.jpg``): each sub-folder a class, named like the model's classes;
* a flat folder and a CSV of labels (``file,label`` rows, label a class name; a header row is allowed);
* a flat folder alone: no labels (the pages then show agreement instead of accuracy).

Listing reads directory entries and each file's first bytes (its format's signature), so a 10,000-image
folder opens in well under two seconds; a file that is no image is reported in ``skipped`` and left out.
Pixels are decoded by ``shiftlab.images.load_image`` — the same size limits, mode conversion, EXIF
orientation and first-frame rule as uploads — and fitted to ``side`` × ``side`` (shorter side resized,
centre cropped), a few hundred images kept decoded at a time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shiftlab.errors import DatasetFormatError, DuplicateNameError, ImageInputError
from shiftlab.images import load_image

#: the first bytes of each image format the folder reader accepts
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
#: RIFF files are images only when the format says WEBP at bytes 8-12
WEBP = (b"RIFF", b"WEBP")
#: the most images a folder may hold (beyond it a sweep would not finish in a working day on a CPU)
MAX_FOLDER_IMAGES = 100_000
#: the largest labels CSV read
MAX_LABELS_BYTES = 20_000_000
#: decoded images kept per folder (224 px: 150 kB each, so 60 MB at most)
DECODED_KEPT = 400
#: the most bytes of pixels decoded into one array at once (np.asarray of a whole folder: a corruption suite)
MAX_DECODED_BYTES = 1_000_000_000
#: what a class name may hold (a folder's, a labels file's, a models file's): the pages show it inside their
#: Markdown, so none of the characters that open a link, code, HTML or a colour there
#: ([, ], *, `, <, >, #, |, \, $, ~, :)
CLASS_NAME = re.compile(r"[\w .,'()&/+-]{1,100}")
#: the label of an image in an unlabelled folder
NO_LABEL = -1


@dataclass(frozen=True)
class Skipped:
    """A file left out of a folder dataset, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class FolderListing:
    """The images of a folder, in a stable order (class, then file name), with their labels and the files left out."""

    folder: Path
    files: tuple[Path, ...]
    labels: np.ndarray  # int64, NO_LABEL throughout for an unlabelled folder
    classes: list[str]
    skipped: tuple[Skipped, ...]

    @property
    def labelled(self) -> bool:
        return bool(self.classes)


def list_folder(folder: str | os.PathLike, labels_csv: str | os.PathLike | None = None,
                class_order: Sequence[str] | None = None) -> FolderListing:
    """List ``folder``'s images (see the module docstring for the layouts).

    ``class_order``, when given and naming every class found, is the class list (a model's classes, so that its
    predictions and the labels share indices, even when the folder lacks some); otherwise the classes found,
    sorted by name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetFormatError(f"{folder}: no such folder")
    if labels_csv is not None:
        named = _csv_labels(folder, Path(labels_csv))
    else:
        subfolders = sorted((e for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")),
                            key=lambda e: e.name)
        named = (_class_folders(folder, subfolders) if subfolders else
                 [(path, None) for path in _image_candidates(folder)])
    return _listing(folder, named, class_order)


def _image_candidates(folder: Path) -> list[Path]:
    """The regular, visible files directly in ``folder``, by name."""
    return sorted(Path(e.path) for e in os.scandir(folder) if e.is_file() and not e.name.startswith("."))


def _class_folders(folder: Path, subfolders: list[os.DirEntry]) -> list[tuple[Path, str | None]]:
    return [(path, entry.name) for entry in subfolders for path in _image_candidates(Path(entry.path))]


def _csv_labels(folder: Path, labels_csv: Path) -> list[tuple[Path, str | None]]:
    """(file, class name) of each CSV row; the files are relative to ``folder``."""
    try:
        if not labels_csv.is_file():  # a FIFO would block the read forever
            raise DatasetFormatError(f"{labels_csv}: not a regular file")
        if labels_csv.stat().st_size > MAX_LABELS_BYTES:
            raise DatasetFormatError(f"{labels_csv}: a labels file holds at most {MAX_LABELS_BYTES:,} bytes")
        rows = list(csv.reader(io.StringIO(labels_csv.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetFormatError(f"{labels_csv}: cannot be read as a CSV of file,label rows: {error}") from None
    if rows and [cell.strip().lower() for cell in rows[0]] == ["file", "label"]:
        rows = rows[1:]
    bad = next((i for i, row in enumerate(rows) if len(row) != 2 or not row[0].strip() or not row[1].strip()), None)
    if bad is not None:
        raise DatasetFormatError(f"{labels_csv}: row {bad + 1} is not \"file,label\": {rows[bad]!r:.100}")
    named = []
    for file, label in rows:
        path = (folder / file.strip()).resolve()
        if not path.is_relative_to(folder.resolve()):
            raise DatasetFormatError(f"{labels_csv}: {file!r:.100} lies outside {folder}")
        named.append((path, label.strip()))
    return named


def _listing(folder: Path, named: list[tuple[Path, str | None]], class_order: Sequence[str] | None) -> FolderListing:
    if len(named) > MAX_FOLDER_IMAGES:
        raise DatasetFormatError(f"{folder}: {len(named):,} files; a folder dataset holds at most "
                                 f"{MAX_FOLDER_IMAGES:,} images")
    kept, skipped = [], []
    for path, label in named:
        reason = _not_an_image(path)
        (skipped.append(Skipped(path, reason)) if reason else kept.append((path, label)))
    found = sorted({label for _, label in kept if label is not None})
    bad = next((name for name in found if not CLASS_NAME.fullmatch(name)), None)
    if bad is not None:
        raise DatasetFormatError(f"{folder}: class {bad!r:.80} is not a class name (letters, digits, spaces and "
                                 ".,'()&/+- only, at most 100)")
    classes = list(class_order) if class_order is not None and set(found) <= set(class_order) else found
    index = {name: i for i, name in enumerate(classes)}
    labels = np.array([index[label] if label is not None else NO_LABEL for _, label in kept], dtype=np.int64)
    return FolderListing(folder, tuple(path for path, _ in kept), labels, classes, tuple(skipped))


def _not_an_image(path: Path) -> str | None:
    """Why ``path`` is not an image file the reader takes (None when its first bytes are an image signature)."""
    try:  # os.open/os.read: half the cost of open() for 10,000 small reads
        descriptor = os.open(path, os.O_RDONLY)
        try:
            head = os.read(descriptor, 12)
        finally:
            os.close(descriptor)
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if head.startswith(SIGNATURES) or (head[:4] == WEBP[0] and head[8:12] == WEBP[1]):
        return None
    return "not a PNG, JPEG, GIF, BMP, TIFF or WebP image"


class FolderImages:
    """The images of a ``FolderListing`` as a read-only N×side×side×3 uint8 array, decoded on access.

    Indexing with an integer gives one image; with a slice, a list or an index array, a stacked batch. The
    last ``DECODED_KEPT`` decoded images are kept. A file that fails to decode raises ``ImageInputError``
    naming it.
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, files: Sequence[Path], side: int):
        self.files = tuple(files)
        self.side = side
        self._decoded: OrderedDict[int, np.ndarray] = OrderedDict()

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.files), self.side, self.side, 3)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self._image(int(index)).copy()  # the kept one stays read-only; the caller's may change
        positions = np.arange(len(self))[index]
        stacked = np.empty((len(positions), self.side, self.side, 3), np.uint8)
        for row, position in enumerate(positions):
            stacked[row] = self._image(int(position))
        return stacked

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Every image decoded into one array, refused (``DatasetFormatError``) above ``MAX_DECODED_BYTES``."""
        if len(self) * self.side * self.side * 3 > MAX_DECODED_BYTES:
            raise DatasetFormatError(f"{len(self):,} images of {self.side}×{self.side} px would take more than "
                                     f"{MAX_DECODED_BYTES / 1e9:g} GB decoded at once: take fewer (a limit, a subset)")
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)

    def _image(self, position: int) -> np.ndarray:
        position = range(len(self))[position]  # negative positions, and IndexError past the end
        if position in self._decoded:
            self._decoded.move_to_end(position)
            return self._decoded[position]
        try:
            image = load_image(self.files[position], self.side)
        except ImageInputError as error:
            raise ImageInputError(f"{self.files[position]}: {error}") from None
        image.setflags(write=False)
        self._decoded[position] = image
        if len(self._decoded) > DECODED_KEPT:
            self._decoded.popitem(last=False)
        return image

    def digest(self) -> str:
        """SHA-256 over every file's name (relative to the folder listing order) and bytes: identifies the images
        without decoding them."""
        digest = hashlib.sha256()
        for path in self.files:
            digest.update(path.name.encode() + b"\0")
            with open(path, "rb") as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(chunk)
        return digest.hexdigest()


@dataclass(frozen=True)
class FolderDataset:
    """An image folder registered as a dataset (``shiftlab.data.load_dataset(name)`` reads it): its labels CSV,
    the class order to use when the classes match, and the side its images are fitted to."""

    name: str
    folder: Path
    labels_csv: Path | None
    class_order: tuple[str, ...] | None
    side: int

    def listing(self) -> FolderListing:
        return list_folder(self.folder, self.labels_csv, self.class_order)


_FOLDERS: dict[str, FolderDataset] = {}


def register_folder_dataset(dataset: FolderDataset) -> None:
    """Make ``dataset`` known by its name (a models file's ``[datasets.<name>]``); a taken name is refused."""
    if dataset.name in _FOLDERS:
        raise DuplicateNameError(f"dataset {dataset.name!r} is already registered ({_FOLDERS[dataset.name].folder})")
    _FOLDERS[dataset.name] = dataset


def unregister_folder_dataset(name: str) -> None:
    """Forget the folder dataset ``name`` (a models file being replaced)."""
    _FOLDERS.pop(name, None)


def folder_datasets() -> dict[str, FolderDataset]:
    """The registered folder datasets by name."""
    return dict(_FOLDERS)
