"""Image datasets as plain numpy arrays.

``load_dataset`` returns every dataset in one shape: ``images`` uint8
N×H×W×3 RGB, ``labels`` int64 and ``classes``. It reads

* the ``.npz`` layout of the project's shared data folder (``<name>_<split>.npz``;
  the CIFAR-10 train split stores per-image PNG bytes),
* torchvision's on-disk layouts (``cifar-10-batches-py``, ``cifar-100-python``,
  ``test_32x32.mat``),
* the samples embedded in this package (``cifar10-sample``, ``cifar100-sample``),

and, only when the caller passes ``download=True``, torchvision's downloader.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from shiftlab.errors import DatasetFormatError, DatasetNotFoundError, ParameterError, UnknownDatasetError

SAMPLE_DIR = Path(__file__).parent / "_sample"
DATA_ENV_VAR = "SHIFTLAB_DATA"

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SVHN_CLASSES = [str(d) for d in range(10)]

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

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray | list[int]) -> ImageDataset:
        """The images at ``indices``, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        return ImageDataset(self.name, self.split, self.images[idx], self.labels[idx], self.classes)

    def first_per_class(self, k: int) -> np.ndarray:
        """Indices of the first ``k`` images of every class, class by class (in class order, then dataset order)."""
        picked = [np.flatnonzero(self.labels == c)[:k] for c in np.unique(self.labels)]
        return np.concatenate(picked).astype(np.int64) if picked else np.zeros(0, np.int64)


def fingerprint(dataset: ImageDataset) -> dict:
    """Name, split, size and a SHA-256 over pixels and labels: identifies exactly which images were used."""
    digest = hashlib.sha256(np.ascontiguousarray(dataset.images).tobytes())
    digest.update(np.ascontiguousarray(dataset.labels).tobytes())
    return {"name": dataset.name, "split": dataset.split, "n": len(dataset), "sha256": digest.hexdigest()}


def list_datasets() -> dict[str, tuple[str, ...]]:
    """Dataset names ``load_dataset`` accepts, with their splits."""
    return dict(DATASET_SPLITS)


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
    if name not in DATASET_SPLITS:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASET_SPLITS)}")
    if split not in DATASET_SPLITS[name]:
        raise UnknownDatasetError(f"dataset {name!r} has no split {split!r}; it has: {', '.join(DATASET_SPLITS[name])}")
    if limit is not None and limit < 0:
        raise ParameterError(f"limit must be non-negative, got {limit}")
    if name.endswith("-sample"):
        return _read_shared_npz(SAMPLE_DIR / f"{name.replace('-', '_')}.npz", name, split, limit)

    base = _resolve_root(root)
    tried: list[Path] = []
    if base is not None:
        for path, reader in _candidate_files(name, split, base):
            if path.exists():
                return _read_checked(reader, path, name, split, limit)
            tried.append(path)
        if download:
            _download_with_torchvision(name, split, base)
            return load_dataset(name, split, base, limit, download=False)
    raise DatasetNotFoundError(_not_found_message(name, split, base, tried))


def _read_checked(reader: Reader, path: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    """Run ``reader`` and turn any failure to parse the file into a ``DatasetFormatError``."""
    try:
        dataset = reader(path, name, split, limit)
    except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        raise DatasetFormatError(f"{path} could not be read as {name} {split}: {exc}") from exc
    if dataset.images.ndim != 4 or dataset.images.shape[-1] != 3 or len(dataset.images) != len(dataset.labels):
        raise DatasetFormatError(f"{path} holds images of shape {dataset.images.shape} and {len(dataset.labels)} labels")
    return dataset


def _resolve_root(root: str | os.PathLike | None) -> Path | None:
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV_VAR)
    return Path(env).expanduser() if env else None


Reader = Callable[[Path, str, str, "int | None"], ImageDataset]


def _candidate_files(name: str, split: str, base: Path) -> list[tuple[Path, Reader]]:
    """Every file layout that can hold (name, split), in the order they are tried."""
    npz = (base / f"{name}_{split}.npz", _read_shared_npz)
    if name == "cifar10":
        return [npz, (base / "cifar-10-batches-py", _read_cifar10_batches)]
    if name == "cifar100":
        return [npz, (base / "cifar-100-python", _read_cifar100_batches)]
    return [npz, (base / f"{split}_32x32.mat", _read_svhn_mat), (base / "svhn" / f"{split}_32x32.mat", _read_svhn_mat)]


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


def _take(limit: int | None, n: int) -> int:
    return n if limit is None else min(limit, n)


def _read_shared_npz(path: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    with np.load(path, allow_pickle=False) as archive:
        classes = [str(c) for c in archive["classes"]]
        labels = archive["labels"].astype(np.int64)
        n = _take(limit, len(labels))
        if "images" in archive:
            images = np.ascontiguousarray(archive["images"][:n])
        else:
            images = _decode_png_array(archive["png"], archive["png_offsets"], n)
    return ImageDataset(name, split, images.astype(np.uint8, copy=False), labels[:n], classes)


def _decode_png_array(png: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:
    """Decode the first ``n`` images of a concatenated-PNG array."""
    if n == 0:
        return np.zeros((0, 32, 32, 3), np.uint8)
    first = _decode_png(png[offsets[0] : offsets[1]])
    images = np.empty((n, *first.shape), np.uint8)
    images[0] = first
    for i in range(1, n):
        images[i] = _decode_png(png[offsets[i] : offsets[i + 1]])
    return images


def _decode_png(data: np.ndarray) -> np.ndarray:
    with Image.open(io.BytesIO(data.tobytes())) as img:
        return np.asarray(img.convert("RGB"))


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler for torchvision's CIFAR batch files that can only build numpy arrays.

    The batches are pickles; a plain ``pickle.load`` would run whatever a
    tampered file asks for. Only numpy's array-rebuilding functions are allowed,
    any other global is refused. Written by hand: no library reads these files
    without full pickle.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle hook
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def _unpickle_batch(path: Path) -> dict:
    with open(path, "rb") as fh:
        raw = _ArrayOnlyUnpickler(fh, encoding="bytes").load()
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _rows_to_images(rows: np.ndarray) -> np.ndarray:
    """CIFAR rows (N×3072, channel-major) to N×32×32×3."""
    return np.ascontiguousarray(np.asarray(rows, np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _decode_names(names: list) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _read_cifar10_batches(folder: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    batches = [_unpickle_batch(folder / f) for f in files]
    images = _rows_to_images(np.concatenate([b["data"] for b in batches]))
    labels = np.concatenate([np.asarray(b["labels"], np.int64) for b in batches])
    meta = folder / "batches.meta"
    classes = _decode_names(_unpickle_batch(meta)["label_names"]) if meta.exists() else list(CIFAR10_CLASSES)
    n = _take(limit, len(labels))
    return ImageDataset(name, split, images[:n], labels[:n], classes)


def _read_cifar100_batches(folder: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    batch = _unpickle_batch(folder / split)
    classes = _decode_names(_unpickle_batch(folder / "meta")["fine_label_names"])
    labels = np.asarray(batch["fine_labels"], np.int64)
    n = _take(limit, len(labels))
    return ImageDataset(name, split, _rows_to_images(batch["data"][:n]), labels[:n], classes)


def _read_svhn_mat(path: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    """The official SVHN format-2 file: X is 32×32×3×N, y is N×1 with 10 meaning digit 0."""
    from scipy.io import loadmat

    mat = loadmat(path)
    labels = mat["y"].reshape(-1).astype(np.int64) % 10
    n = _take(limit, len(labels))
    images = np.ascontiguousarray(mat["X"][..., :n].transpose(3, 0, 1, 2)).astype(np.uint8)
    return ImageDataset(name, split, images, labels[:n], list(SVHN_CLASSES))


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
