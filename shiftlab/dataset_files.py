"""The dataset file layouts ``shiftlab.data.load_dataset`` reads, each read with every size it declares checked.

* the ``.npz`` layout of the project's shared data folder (``<name>_<split>.npz``; the CIFAR-10 train split stores
  per-image PNG bytes), also the layout of the samples embedded in this package,
* torchvision's on-disk layouts (``cifar-10-batches-py``, ``cifar-100-python``, ``test_32x32.mat``).

Every size a file declares is checked before anything is inflated: a dataset
path must be a regular file (a FIFO would block forever); an ``.npz`` member's
``.npy`` header must declare at most ``MAX_ARRAY_BYTES``, never pickled objects,
and only the rows ``limit`` asks for are inflated; a PNG of the train layout
must declare at most ``MAX_DATASET_SIDE`` pixels a side; a CIFAR batch pickle
must be at most ``MAX_PICKLE_BYTES`` with every length it declares inside the
file; an SVHN ``.mat`` must declare arrays of at most ``MAX_ARRAY_BYTES``.
A reader returns the file's arrays (``FileArrays``); ``load_dataset`` checks them.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
import stat
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from shiftlab.errors import DatasetFormatError

#: the most bytes one array of a dataset file may declare (the largest read, CIFAR-10 train's PNG bytes, is 113 MB)
MAX_ARRAY_BYTES = 1_000_000_000
#: the most bytes of a CIFAR batch pickle (torchvision's are 31 MB)
MAX_PICKLE_BYTES = 200_000_000
#: the largest side of an image stored as PNG bytes in a dataset file (the datasets' images are 32 px)
MAX_DATASET_SIDE = 1024

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SVHN_CLASSES = [str(d) for d in range(10)]


class FileArrays(NamedTuple):
    """What a dataset file holds: images (uint8 N×H×W×3, only the first ``limit`` decoded), their labels, the
    class names, and how many images the whole split has."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    split_size: int


#: a layout's reader: (path, split, limit) -> the arrays it holds
Reader = Callable[[Path, str, "int | None"], FileArrays]


#: what numpy, zipfile, pickle, Pillow and scipy raise on a file that is truncated, garbage or of another layout
UNREADABLE = (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, pickle.UnpicklingError,
              zipfile.BadZipFile, zlib.error, NotImplementedError, Image.DecompressionBombError)


def candidate_files(name: str, split: str, base: Path) -> list[tuple[Path, Reader]]:
    """Every file layout that can hold (name, split), with its reader, in the order they are tried."""
    npz = (base / f"{name}_{split}.npz", read_shared_npz)
    if name == "cifar10":
        return [npz, (base / "cifar-10-batches-py", read_cifar10_batches)]
    if name == "cifar100":
        return [npz, (base / "cifar-100-python", read_cifar100_batches)]
    return [npz, (base / f"{split}_32x32.mat", read_svhn_mat), (base / "svhn" / f"{split}_32x32.mat", read_svhn_mat)]


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


def read_shared_npz(path: Path, split: str, limit: int | None) -> FileArrays:
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
    return FileArrays(images, labels[:n], classes, len(labels))


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


def read_cifar10_batches(folder: Path, split: str, limit: int | None) -> FileArrays:
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    batches = [_unpickle_batch(folder / f) for f in files]
    images = _rows_to_images(np.concatenate([b["data"] for b in batches]))
    labels = np.concatenate([np.asarray(b["labels"], np.int64) for b in batches])
    meta = folder / "batches.meta"
    classes = _decode_names(_unpickle_batch(meta)["label_names"]) if meta.exists() else list(CIFAR10_CLASSES)
    n = _take(limit, len(labels))
    return FileArrays(images[:n], labels[:n], classes, len(labels))


def read_cifar100_batches(folder: Path, split: str, limit: int | None) -> FileArrays:
    batch = _unpickle_batch(folder / split)
    classes = _decode_names(_unpickle_batch(folder / "meta")["fine_label_names"])
    labels = np.asarray(batch["fine_labels"], np.int64)
    n = _take(limit, len(labels))
    return FileArrays(_rows_to_images(batch["data"][:n]), labels[:n], classes, len(labels))


#: bytes per element of the MATLAB classes a dataset holds (anything else is counted as 8)
_MAT_ITEMSIZE = {"uint8": 1, "int8": 1, "logical": 1, "char": 2, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
                 "single": 4}


def read_svhn_mat(path: Path, split: str, limit: int | None) -> FileArrays:
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
    return FileArrays(images, labels[:n], list(SVHN_CLASSES), len(labels))
