"""Reading and writing model weights without executing code.

The project writes safetensors (with a model card beside them, see
``shiftlab.models.cards``). Foreign files (``.pt``,
``.pth``, ``.pth.tar`` from other releases) are read with
``torch.load(weights_only=True)``, which refuses any pickle that would call
code. Nested layouts that public releases use are unwrapped, and weights are
always loaded strictly: a missing, unexpected or mis-shaped key is an error.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from shiftlab.errors import CheckpointError, CheckpointMismatchError, UnsafeCheckpointError

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


def read_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a flat name -> tensor mapping from a checkpoint file, never running pickle code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint {path} is {size / 1e9:.1f} GB, more than the 2 GB limit")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    return extract_state_dict(_read_torch_file(path), source=str(path))


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from exc


def _read_torch_file(path: Path) -> object:
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"{path} needs code execution to load (weights_only refused it), so it was not loaded. "
            "Convert it to a plain state dict or safetensors on a machine you trust."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc}") from exc


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
    module.load_state_dict(state_dict, strict=True)
