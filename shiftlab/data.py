"""Image datasets as plain numpy arrays.

``load_dataset`` returns every dataset in one shape: ``images`` uint8
N×H×W×3 RGB, ``labels`` int64 and ``classes``. It reads the file layouts of
``shiftlab.dataset_files`` (the shared data folder's ``.npz``, torchvision's
CIFAR batches and SVHN ``.mat``, every declared size checked before anything is
inflated), the samples embedded in this package (``cifar10-sample``,
``cifar100-sample``), the image folders of a models file, and, only when the
caller passes ``download=True``, torchvision's downloader. A file that exists
but cannot be used (truncated, garbage, float images, labels outside the class
range) is a ``DatasetFormatError`` naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shiftlab.dataset_files import UNREADABLE, Reader, candidate_files, read_shared_npz
from shiftlab.errors import DatasetFormatError, DatasetNotFoundError, ParameterError, UnknownDatasetError
from shiftlab.folders import FolderDataset, FolderImages, folder_datasets

SAMPLE_DIR = Path(__file__).parent / "_sample"
DATA_ENV_VAR = "SHIFTLAB_DATA"

#: the one split of a registered image folder
FOLDER_SPLITS = ("test",)
#: dataset name -> splits it has
DATASET_SPLITS: dict[str, tuple[str, ...]] = {
    "cifar10": ("train", "test"),
    "cifar100": ("test",),
    "svhn": ("test",),
    "cifar10-sample": ("test",),
    "cifar100-sample": ("test",),
}


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image set held in memory."""

    name: str
    split: str
    images: np.ndarray  # uint8, N×H×W×3, RGB
    labels: np.ndarray  # int64, N
    classes: list[str]
    #: images in the whole split; more than ``len(self)`` when loaded with a limit or taken as a subset
    split_size: int | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def whole_split(self) -> bool:
        """Whether this holds every image of its split (a figure measured on it is a full test-set figure)."""
        return self.split_size is None or len(self) == self.split_size

    def subset(self, indices: np.ndarray | list[int]) -> ImageDataset:
        """The images at ``indices``, in that order (still a part of the same split)."""
        idx = np.asarray(indices, dtype=np.int64)
        return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx])

    def first_per_class(self, k: int) -> np.ndarray:
        """Indices of the first ``k`` images of every class, class by class (in class order, then dataset order)."""
        picked = [np.flatnonzero(self.labels == c)[:k] for c in np.unique(self.labels)]
        return np.concatenate(picked).astype(np.int64) if picked else np.zeros(0, np.int64)


@dataclass(frozen=True)
class Fingerprint:
    """Exactly which images were used: the dataset's name and split, ``n`` images of the split's ``of``, and a
    SHA-256 over their pixels and labels. Model cards key every measured figure by it (``shiftlab.models.cards``)."""

    name: str
    split: str
    n: int
    of: int
    sha256: str

    def to_dict(self) -> dict:
        """The JSON object a card holds: name, split, n, of, sha256."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Fingerprint:
        """The fingerprint of a JSON object holding its five fields, in any order (its reader checks their types)."""
        return cls(data["name"], data["split"], data["n"], data["of"], data["sha256"])


def fingerprint(dataset: ImageDataset) -> Fingerprint:
    """Name, split, size (of the split: ``of``) and a SHA-256 over pixels and labels: identifies exactly which
    images were used, and whether they were the whole split."""
    if isinstance(dataset.images, FolderImages):  # its files' bytes: hashing decoded pixels would decode them all
        digest = hashlib.sha256(dataset.images.digest().encode())
    else:
        digest = hashlib.sha256(np.ascontiguousarray(dataset.images).tobytes())
    digest.update(np.ascontiguousarray(dataset.labels).tobytes())
    return Fingerprint(
        dataset.name, dataset.split, len(dataset), dataset.split_size or len(dataset), digest.hexdigest()
    )


def list_datasets() -> dict[str, tuple[str, ...]]:
    """Dataset names ``load_dataset`` accepts, with their splits (a registered image folder has one: test)."""
    return {**DATASET_SPLITS, **{name: FOLDER_SPLITS for name in folder_datasets()}}


def load_dataset(
    name: str,
    split: str = "test",
    root: str | os.PathLike | None = None,
    limit: int | None = None,
    download: bool = False,
) -> ImageDataset:
    """Load ``split`` of dataset ``name``.

    ``root`` defaults to the ``SHIFTLAB_DATA`` environment variable. ``limit``
    keeps the first ``limit`` images (decoding only those where the format
    allows). ``download=True`` lets torchvision fetch a missing dataset into
    ``root`` (needs network access).
    """
    known = list_datasets()
    if not isinstance(name, str) or name not in known:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(known)}")
    if not isinstance(split, str) or split not in known[name]:
        raise UnknownDatasetError(f"dataset {name!r} has no split {split!r}; it has: {', '.join(known[name])}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ParameterError(f"limit must be a positive whole number of images, or None for all of them; got {limit!r}")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise ParameterError(f"root must be a folder path or None, got {type(root).__name__}")
    if not isinstance(download, bool):
        raise ParameterError(f"download must be True or False, got {download!r:.60}")
    if name in folder_datasets():
        return _read_folder(folder_datasets()[name], limit)
    if name.endswith("-sample"):
        return _read_checked(read_shared_npz, SAMPLE_DIR / f"{name.replace('-', '_')}.npz", name, split, limit)

    base = _resolve_root(root)
    tried: list[Path] = []
    if base is not None:
        for path, reader in candidate_files(name, split, base):
            if path.exists():
                return _read_checked(reader, path, name, split, limit)
            tried.append(path)
        if download:
            _download_with_torchvision(name, split, base)
            return load_dataset(name, split, base, limit, download=False)
    raise DatasetNotFoundError(_not_found_message(name, split, base, tried))


def _read_folder(folder: FolderDataset, limit: int | None) -> ImageDataset:
    """A registered image folder: listed now, its images decoded when asked for (``FolderImages``)."""
    listing = folder.listing()
    n = len(listing.files) if limit is None else min(limit, len(listing.files))
    if n == 0:
        raise DatasetFormatError(f"{folder.folder}: no images (PNG, JPEG, GIF, BMP, TIFF or WebP) found")
    images = FolderImages(listing.files[:n], folder.side)
    return ImageDataset(folder.name, FOLDER_SPLITS[0], images, listing.labels[:n], listing.classes,  # type: ignore[arg-type]
                        split_size=len(listing.files))


def _read_checked(reader: Reader, path: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    """Run ``reader`` and check what it read; an unreadable file or unusable arrays are a ``DatasetFormatError``."""
    try:
        arrays = reader(path, split, limit)
    except DatasetFormatError:
        raise
    except UNREADABLE as exc:
        raise DatasetFormatError(f"{path} is unreadable as {name} {split} (truncated, corrupt or another layout): "
                                 f"{type(exc).__name__}: {exc}") from exc
    return _checked_arrays(path, ImageDataset(name, split, *arrays))


def _checked_arrays(path: Path, dataset: ImageDataset) -> ImageDataset:
    """Refuse arrays that would load as silently wrong data: non-uint8 images, non-integer or out-of-range labels."""
    images, labels, n_classes = dataset.images, dataset.labels, len(dataset.classes)
    if images.dtype != np.uint8:
        hint = " (float images in [0, 1] must be multiplied by 255 and rounded)" if images.dtype.kind == "f" else ""
        raise DatasetFormatError(f"{path}: images are {images.dtype}, expected uint8 in 0-255{hint}")
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) != len(labels):
        raise DatasetFormatError(f"{path} holds images of shape {images.shape} and {len(labels)} labels; "
                                 "expected N×H×W×3 images and N labels")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetFormatError(f"{path}: labels must be a 1-D array of integer class indices, got {labels.dtype} "
                                 f"of shape {labels.shape}")
    outside = np.unique(labels[(labels < 0) | (labels >= n_classes)])
    if len(outside):
        raise DatasetFormatError(f"{path}: labels must lie in 0..{n_classes - 1} ({n_classes} classes); "
                                 f"found {', '.join(map(str, outside[:5]))}")
    return dataclasses.replace(dataset, labels=labels.astype(np.int64))


def _resolve_root(root: str | os.PathLike | None) -> Path | None:
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV_VAR)
    return Path(env).expanduser() if env else None


def _not_found_message(name: str, split: str, base: Path | None, tried: list[Path]) -> str:
    where = (
        "no data folder was given (pass root=... or set the SHIFTLAB_DATA environment variable)"
        if base is None
        else "looked for:\n  " + "\n  ".join(str(p) for p in tried)
    )
    return (
        f"dataset {name!r} split {split!r} not found; {where}.\n"
        f"Supply it by pointing SHIFTLAB_DATA (or root=) at a folder holding {name}_{split}.npz "
        "or torchvision's layout of the dataset, or call load_dataset(..., download=True) "
        "when online to let torchvision fetch it."
    )


def _download_with_torchvision(name: str, split: str, base: Path) -> None:
    """Let torchvision fetch the dataset into ``base`` in its own layout (network needed)."""
    import torchvision.datasets as tvd

    base.mkdir(parents=True, exist_ok=True)
    try:
        if name == "cifar10":
            tvd.CIFAR10(str(base), train=split == "train", download=True)
        elif name == "cifar100":
            tvd.CIFAR100(str(base), train=split == "train", download=True)
        else:
            tvd.SVHN(str(base), split=split, download=True)
    except Exception as exc:  # torchvision raises URLError, RuntimeError, ... when offline
        raise DatasetNotFoundError(f"could not download {name} {split} into {base}: {exc}") from exc
