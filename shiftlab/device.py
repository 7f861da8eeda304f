"""Choosing the torch device: CUDA when there is one, CPU otherwise."""

from __future__ import annotations

import torch

from shiftlab.errors import ParameterError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means the first CUDA GPU if one is visible, else the CPU; otherwise ``cpu`` or a visible ``cuda[:N]``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'") from exc
    if not isinstance(device, (str, torch.device)) or resolved.type not in ("cpu", "cuda"):
        raise ParameterError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device {device!r} was asked for but no CUDA GPU is visible: use 'cpu' or 'auto'")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ParameterError(f"device {device!r} was asked for but only {torch.cuda.device_count()} CUDA GPU(s) are visible")
    return resolved


def device_name(device: torch.device) -> str:
    """What a model card records as the hardware: ``"cpu"`` or the GPU's marketing name."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
