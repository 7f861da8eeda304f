"""Image datasets as plain numpy arrays.

``load_dataset`` returns every dataset in one shape: ``images`` uint8
N×H×W×3 RGB, ``labels`` int64 and ``classes``. It reads

* the ``.npz`` layout of the project's shared data folder (``<name>_<split>.npz``;
  the CIFAR-10 train split stores per-image PNG bytes),
* torchvision's on-disk layouts (``cifar-10-batches-py``, ``cifar-100-python``,
  ``test_32x32.mat``),
* the samples embedded in this package (``cifar10-sample``, ``cifar100-sample``),

and, only when the caller passes ``download=True``, torchvision's downloader.
A file that exists but cannot be used (truncated, garbage, float images,
labels outside the class range) is a ``DatasetFormatError`` naming the file.

Every size a file declares is checked before anything is inflated: a dataset
path must be a regular file (a FIFO would block forever); an ``.npz`` member's
``.npy`` header must declare at most ``MAX_ARRAY_BYTES``, never pickled objects,
and only the rows ``limit`` asks for are inflated; a PNG of the train layout
must declare at most ``MAX_DATASET_SIDE`` pixels a side; a CIFAR batch pickle
must be at most ``MAX_PICKLE_BYTES`` with every length it declares inside the
file; an SVHN ``.mat`` must declare arrays of at most ``MAX_ARRAY_BYTES``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import pickle
import pickletools
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from shiftlab.errors import DatasetFormatError, DatasetNotFoundError, ParameterError, UnknownDatasetError
from shiftlab.folders import FolderDataset, FolderImages, folder_datasets

SAMPLE_DIR = Path(__file__).parent / "_sample"
#: the most bytes one array of a dataset file may declare (the largest read, CIFAR-10 train's PNG bytes, is 113 MB)
MAX_ARRAY_BYTES = 1_000_000_000
#: the most bytes of a CIFAR batch pickle (torchvision's are 31 MB)
MAX_PICKLE_BYTES = 200_000_000
#: the largest side of an image stored as PNG bytes in a dataset file (the datasets' images are 32 px)
MAX_DATASET_SIDE = 1024
DATA_ENV_VAR = "SHIFTLAB_DATA"

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SVHN_CLASSES = [str(d) for d in range(10)]

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
        return _read_checked(_read_shared_npz, SAMPLE_DIR / f"{name.replace('-', '_')}.npz", name, split, limit)

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


def _read_folder(folder: FolderDataset, limit: int | None) -> ImageDataset:
    """A registered image folder: listed now, its images decoded when asked for (``FolderImages``)."""
    listing = folder.listing()
    n = len(listing.files) if limit is None else min(limit, len(listing.files))
    if n == 0:
        raise DatasetFormatError(f"{folder.folder}: no images (PNG, JPEG, GIF, BMP, TIFF or WebP) found")
    images = FolderImages(listing.files[:n], folder.side)
    return ImageDataset(folder.name, FOLDER_SPLITS[0], images, listing.labels[:n], listing.classes,  # type: ignore[arg-type]
                        split_size=len(listing.files))


#: what numpy, zipfile, pickle, Pillow and scipy raise on a file that is truncated, garbage or of another layout
_UNREADABLE = (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, pickle.UnpicklingError,
               zipfile.BadZipFile, zlib.error, NotImplementedError, Image.DecompressionBombError)


def _read_checked(reader: Reader, path: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    """Run ``reader`` and check what it read; an unreadable file or unusable arrays are a ``DatasetFormatError``."""
    try:
        dataset = reader(path, name, split, limit)
    except DatasetFormatError:
        raise
    except _UNREADABLE as exc:
        raise DatasetFormatError(f"{path} is unreadable as {name} {split} (truncated, corrupt or another layout): "
                                 f"{type(exc).__name__}: {exc}") from exc
    return _checked_arrays(path, dataset)


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


#: the first bytes of a zip archive (an ``.npz`` is one); np.load would take anything else for a pickle
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
#: how numpy stores the members of an .npz
_NPZ_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _regular_file(path: Path) -> Path:
    """``path`` itself if it is a regular file (links followed); a FIFO, device, socket or folder is refused before
    it is opened: reading a FIFO waits for a writer forever."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
        raise DatasetFormatError(f"{path} is {kind}, not a dataset file")
    return path


def _refuse_pickles(path: Path) -> DatasetFormatError:
    return DatasetFormatError(f"{path}: this npz holds pickled objects, which shiftlab refuses to load "
                              "(save the arrays with numeric or string dtypes)")


def _read_shared_npz(path: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    with open(_regular_file(path), "rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80" or (head == b"\x93NUM" and _npy_holds_objects(path)):  # a pickle, or np.save's pickle
        raise _refuse_pickles(path)
    if head not in _ZIP_MAGIC:
        raise ValueError(f"not an .npz archive (a zip file starts with PK, this one with {head!r})")
    with zipfile.ZipFile(path) as archive:
        classes = [str(c) for c in _npz_array(archive, path, "classes")]
        labels = _npz_array(archive, path, "labels")
        if labels.ndim != 1:
            raise ValueError(f"labels must be a 1-D array, got shape {labels.shape}")
        n = _take(limit, len(labels))
        if _npz_member(archive, "images") is not None:
            images = np.ascontiguousarray(_npz_array(archive, path, "images", rows=n))
        else:
            offsets = _npz_array(archive, path, "png_offsets", rows=n + 1)
            if offsets.ndim != 1 or len(offsets) < n + 1 or not np.issubdtype(offsets.dtype, np.integer):
                raise ValueError(
                    f"png_offsets must hold at least {n + 1} integer offsets, got {offsets.dtype} {offsets.shape}"
                )
            images = _decode_png_array(_npz_array(archive, path, "png", rows=max(0, int(offsets[n]))), offsets, n)
    return ImageDataset(name, split, images, labels[:n], classes, len(labels))


def _npy_holds_objects(path: Path) -> bool:
    """Whether the .npy file at ``path`` (a single array, not an .npz) declares a dtype that needs pickle."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        return read_header(fh)[2].hasobject


def _npz_member(archive: zipfile.ZipFile, key: str) -> zipfile.ZipInfo | None:
    """The member holding array ``key`` (``key.npy``, as np.savez names it, or ``key``), or None."""
    names = archive.NameToInfo
    return names.get(f"{key}.npy") or names.get(key)


def _npz_array(archive: zipfile.ZipFile, path: Path, key: str, rows: int | None = None) -> np.ndarray:
    """Array ``key`` of an .npz, or its first ``rows`` rows, as np.load reads it; the member's declared size and
    its ``.npy`` header are checked before any data is inflated, and only the rows asked for are inflated."""
    info = _npz_member(archive, key)
    if info is None:
        raise KeyError(f"{key} is not in the archive")
    if info.flag_bits & 0x1 or info.compress_type not in _NPZ_COMPRESSION:
        raise ValueError(f"member {info.filename} is encrypted or compressed by a method numpy does not use")
    if info.file_size > MAX_ARRAY_BYTES + 65536:
        raise _too_large(path, key, f"a member of {info.file_size / 1e6:.0f} MB")
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"member {info.filename} is .npy format {version}, not 1.0 or 2.0")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(fh)
        if dtype.hasobject:
            raise _refuse_pickles(path)
        declared = math.prod(shape) * dtype.itemsize
        if declared > MAX_ARRAY_BYTES:
            raise _too_large(path, key, f"shape {shape} of {dtype} ({declared / 1e6:.0f} MB)")
        if rows is not None and shape and not fortran_order:
            shape = (min(rows, shape[0]), *shape[1:])
        array = np.empty(shape[::-1] if fortran_order else shape, dtype)
        _read_into(fh, array, info.filename)
    return array.transpose() if fortran_order else array


def _too_large(path: Path, key: str, what: str) -> DatasetFormatError:
    return DatasetFormatError(
        f"{path}: array {key} declares {what}; the limit is {MAX_ARRAY_BYTES / 1e6:.0f} MB an array"
    )


def _read_into(fh, array: np.ndarray, member: str) -> None:
    """Fill the C-contiguous ``array`` with the next bytes of ``fh``; fewer bytes than it holds is a truncated
    member."""
    view = memoryview(array.reshape(-1).view(np.uint8)) if array.nbytes else memoryview(b"")
    done = 0
    while done < len(view):
        count = fh.readinto(view[done:])
        if not count:
            raise ValueError(f"member {member} is truncated: {done} of {len(view)} bytes of data")
        done += count


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
        if max(img.size) > MAX_DATASET_SIDE:
            raise ValueError(
                f"an image declares {img.size[0]}×{img.size[1]} pixels, more than {MAX_DATASET_SIDE} a side"
            )
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
    """A CIFAR batch's dict, unpickled only once the file's size and every length it declares were checked."""
    size = _regular_file(path).stat().st_size
    if size > MAX_PICKLE_BYTES:
        raise DatasetFormatError(
            f"{path} is {size / 1e6:.0f} MB; a CIFAR batch file is at most {MAX_PICKLE_BYTES / 1e6:.0f} MB"
        )
    data = path.read_bytes()
    for _ in pickletools.genops(data):  # raises on a declared length past the end, before the unpickler allocates it
        pass
    raw = _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    if not isinstance(raw, dict):
        raise ValueError(f"a CIFAR batch is a pickled dict, this one holds a {type(raw).__name__}")
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
    return ImageDataset(name, split, images[:n], labels[:n], classes, len(labels))


def _read_cifar100_batches(folder: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    batch = _unpickle_batch(folder / split)
    classes = _decode_names(_unpickle_batch(folder / "meta")["fine_label_names"])
    labels = np.asarray(batch["fine_labels"], np.int64)
    n = _take(limit, len(labels))
    return ImageDataset(name, split, _rows_to_images(batch["data"][:n]), labels[:n], classes, len(labels))


#: bytes per element of the MATLAB classes a dataset holds (anything else is counted as 8)
_MAT_ITEMSIZE = {"uint8": 1, "int8": 1, "logical": 1, "char": 2, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
                 "single": 4}


def _read_svhn_mat(path: Path, name: str, split: str, limit: int | None) -> ImageDataset:
    """The official SVHN format-2 file: X is 32×32×3×N, y is N×1 with 10 meaning digit 0."""
    from scipy.io import loadmat, whosmat
    from scipy.io.matlab import MatReadError

    try:
        for variable, shape, kind in whosmat(_regular_file(path)):
            declared = math.prod(shape) * _MAT_ITEMSIZE.get(kind, 8)
            if declared > MAX_ARRAY_BYTES:
                raise _too_large(path, variable, f"shape {shape} of {kind} ({declared / 1e6:.0f} MB)")
        mat = loadmat(path, variable_names=["X", "y"])
    except MatReadError as exc:  # not an OSError or ValueError
        raise ValueError(str(exc)) from exc
    labels = mat["y"].reshape(-1).astype(np.int64) % 10
    n = _take(limit, len(labels))
    images = np.ascontiguousarray(mat["X"][..., :n].transpose(3, 0, 1, 2))
    return ImageDataset(name, split, images, labels[:n], list(SVHN_CLASSES), len(labels))


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
