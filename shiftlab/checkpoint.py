"""Reading and writing model weights without executing code.

The project writes safetensors (with a model card beside them, see
``shiftlab.models.cards``). Foreign files (``.pt``,
``.pth``, ``.pth.tar`` from other releases) are read with
``torch.load(weights_only=True)``, which refuses any pickle that would call
code. Nested layouts that public releases use are unwrapped, and weights are
always loaded strictly: a missing, unexpected or mis-shaped key is an error,
and so are weights that hold NaN or infinite values.

A file is recognised by its first bytes, not its name: a file that is no
checkpoint at all (an HTML error page, a git-LFS pointer, an image, text) is
reported as such, and only a real pickle that imports code is called unsafe.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import pickletools
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from shiftlab.errors import CheckpointError, CheckpointMismatchError, ParameterError, UnsafeCheckpointError

#: container keys that public releases wrap their state dict in, tried in order
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net")
#: key prefixes added by DataParallel and by the robustness library's AttackerModel
STRIP_PREFIXES = ("module.model.", "module.", "model.")
#: sub-modules of the robustness library's AttackerModel that are not the classifier
DROP_PREFIXES = ("module.normalizer.", "module.attacker.", "normalizer.", "attacker.")

MAX_CHECKPOINT_BYTES = 2 * 1024**3
#: file endings of weights files, safetensors (this project's) first
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".pth.tar", ".ckpt", ".bin")


def strip_weight_suffix(name: str) -> str:
    """A weights file name without its ending (``x.pth.tar`` -> ``x``); other names unchanged."""
    for suffix in sorted(WEIGHT_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes: what ties a model card's figures to the weights they were measured with."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it to ``path``: a reader, a kill or a full
    disk leaves the old file or the new one, never half of one (the temporary file is removed on failure)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def check_output_folder(folder: str | os.PathLike, flag: str) -> Path:
    """``folder``, refused (``ParameterError`` naming ``flag``) before any work when it could not be written: a
    file or a broken link where it or a parent should be a folder, or a parent this process may not write in."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
        existing = existing.parent
    if existing.is_symlink() and not existing.exists():
        raise ParameterError(f"{flag} {folder}: {existing} is a broken link, not a folder")
    if existing.exists() and not existing.is_dir():
        raise ParameterError(f"{flag} {folder}: {existing} is a file, not a folder; choose a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f"{flag} {folder}: {existing} is read-only for this user; choose a folder you may write")
    return folder


def read_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a flat name -> tensor mapping from a checkpoint file, never running pickle code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint {path} is {size / 1e9:.1f} GB, more than the 2 GB limit")
    with open(path, "rb") as fh:
        head = fh.read(512)
    kind = sniff(head, size)
    if kind == "safetensors":
        return _read_safetensors(path)
    if kind in ("torch zip archive", "pickle"):
        return extract_state_dict(_read_torch_file(path, kind), source=str(path))
    raise CheckpointError(f"{path} is not a checkpoint: it looks like {kind}")


#: (what a file looks like, first bytes) for files people mistake for checkpoints
_FOREIGN_MAGIC = (
    ("a git-LFS pointer (the real file was never fetched: run `git lfs pull`)", b"version https://git-lfs"),
    ("a PNG image", b"\x89PNG"),
    ("a JPEG image", b"\xff\xd8\xff"),
    ("a GIF image", b"GIF8"),
    ("a gzip archive", b"\x1f\x8b"),
    ("a PDF document", b"%PDF"),
)


def sniff(head: bytes, size: int) -> str:
    """What a file is, from its first bytes: "safetensors", "torch zip archive", "pickle" or a description of
    another kind."""
    if len(head) >= 9 and head[8:9] == b"{" and 0 < struct.unpack("<Q", head[:8])[0] <= size - 8:
        return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        return "torch zip archive"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    for what, magic in _FOREIGN_MAGIC:
        if head.startswith(magic):
            return what
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page (a download that returned a web page instead of the file?)"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if not head:
        return "an empty file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data of no known checkpoint format (safetensors, PyTorch zip or pickle)"
    return "a text file"


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from exc


def _read_torch_file(path: Path, kind: str) -> object:
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        imports = _pickle_imports(path, kind)
        if not imports:
            raise CheckpointError(
                f"{path} is a corrupt {kind}: its bytes do not unpickle; re-download or re-export it"
            ) from exc
        raise UnsafeCheckpointError(
            f"{path} needs code execution to load (it imports {', '.join(imports[:5])}), so it was not loaded. "
            "Convert it to a plain state dict or safetensors on a machine you trust."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            struct.error, zipfile.BadZipFile) as exc:
        raise CheckpointError(
            f"{path} is a corrupt or truncated {kind}, not a readable PyTorch checkpoint: {exc}"
        ) from exc


#: modules whose globals torch's weights-only unpickler allows: not code a checkpoint asks to run
_TENSOR_MODULES = ("torch", "collections", "numpy", "_codecs")


def _pickle_imports(path: Path, kind: str) -> list[str]:
    """The globals (module.name) a pickle imports besides torch's tensor rebuilders, read with ``pickletools``
    (which never executes anything); empty when the bytes do not parse as a pickle."""
    if kind == "torch zip archive":
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            data = archive.read(name) if name else b""
    else:
        data = path.read_bytes()
    found = [name for name in _globals(data) if not name.startswith(_TENSOR_MODULES)]
    return list(dict.fromkeys(found))


def _globals(data: bytes) -> Iterator[str]:
    """module.name of every GLOBAL / STACK_GLOBAL in the pickles at the start of ``data`` (a legacy torch file
    is several pickles in a row); stops quietly at the first bytes that are not a pickle."""
    stream, strings = io.BytesIO(data), []
    try:
        while stream.tell() < len(data):
            for opcode, arg, _ in pickletools.genops(stream):
                if opcode.name == "GLOBAL":
                    yield arg.replace(" ", ".")
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    yield f"{strings[-2]}.{strings[-1]}"
                if isinstance(arg, str):
                    strings.append(arg)
    except (ValueError, EOFError, struct.error, UnicodeDecodeError):
        return


def extract_state_dict(obj: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Unwrap the layouts public releases use and return a bare state dict.

    Accepts a bare state dict, ``{'state_dict': ...}``, ``{'model': ...}`` (and a
    few synonyms), and keys prefixed ``module.`` or ``module.model.``; the
    robustness library's normaliser and attacker copies are dropped.
    """
    while isinstance(obj, Mapping) and not _is_state_dict(obj):
        inner = next((obj[k] for k in WRAPPER_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if inner is None:
            raise CheckpointError(f"{source}: no state dict found; top-level keys are {sorted(map(str, obj))[:10]}")
        obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source}: expected a state dict, found {type(obj).__name__}")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    return {_strip_prefix(k): v for k, v in tensors.items() if not k.startswith(DROP_PREFIXES)}


def _is_state_dict(obj: Mapping) -> bool:
    return len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def _strip_prefix(key: str) -> str:
    for prefix in STRIP_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def load_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Copy ``state_dict`` into ``module``; any key or shape difference raises ``CheckpointMismatchError``."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if state_dict[k].shape != expected[k].shape
    )
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(
            f"{source} does not match the architecture: "
            f"{len(missing)} missing keys {missing[:5]}, {len(unexpected)} unexpected keys {unexpected[:5]}, "
            f"{len(mismatched)} shape mismatches {mismatched[:3]}",
            missing,
            unexpected,
            mismatched,
        )
    _check_dtypes(expected, state_dict, source)
    broken = [k for k, v in state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise CheckpointError(f"{source} holds NaN or infinite weights in {len(broken)} tensors "
                              f"({', '.join(broken[:3])}): the training run diverged or the file is damaged; "
                              "use other weights")
    module.load_state_dict(state_dict, strict=True)


#: the dtypes a model's float parameters and buffers may be loaded from (copied into float32 without loss of meaning)
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _check_dtypes(expected: Mapping[str, torch.Tensor], state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """Refuse tensors whose dtype the model would silently cast: integers, booleans or float64 where the model
    holds floats, floats where it holds integer counters (``load_state_dict`` copies any dtype into any other)."""
    wrong = [f"{k} ({state_dict[k].dtype})" for k, v in expected.items()
             if (state_dict[k].dtype not in FLOAT_DTYPES if v.is_floating_point()
                 else state_dict[k].is_floating_point() or state_dict[k].dtype == torch.bool)]
    if wrong:
        raise CheckpointError(f"{source} holds {len(wrong)} tensors of a dtype the model does not take "
                              f"({', '.join(wrong[:3])}): weights must be float32, float16 or bfloat16, "
                              "counters integers; re-export the weights")
