"""Choosing the torch device: CUDA when there is one, CPU otherwise."""

from __future__ import annotations

import torch

from shiftlab.errors import ParameterError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means the first CUDA GPU if one is visible, else the CPU; anything else is passed to torch."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ParameterError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device {device!r} was asked for but no CUDA GPU is visible")
    return resolved


def device_name(device: torch.device) -> str:
    """What a model card records as the hardware: ``"cpu"`` or the GPU's marketing name."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
