"""Digital and photometric corruptions: brightness, contrast, saturate, pixelate and JPEG compression.

Formulas after Hendrycks & Dietterich's make_cifar_c.py / make_imagenet_c.py
(parameters in ``params``).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from PIL import Image

from shiftlab.shifts.color import hsv_to_rgb, rgb_to_hsv
from shiftlab.shifts.resample import pil_box_resize_ops
from shiftlab.shifts.shift import Context, per_image


def brightness(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Brighter scene: HSV value + ``delta``, clipped to 1."""
    hsv = rgb_to_hsv(x)
    hsv[:, 2] = (hsv[:, 2] + p["delta"]).clamp(0, 1)
    return hsv_to_rgb(hsv)


def saturate(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Colour saturation changed: HSV saturation · ``scale`` + ``shift``, clipped to [0, 1]."""
    hsv = rgb_to_hsv(x)
    hsv[:, 1] = (hsv[:, 1] * p["scale"] + p["shift"]).clamp(0, 1)
    return hsv_to_rgb(hsv)


def contrast(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Lower contrast: each channel pulled towards its image mean by ``factor``."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (x - mean) * p["factor"] + mean


def _rounded(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels as Pillow stores each resampling pass."""
    return torch.round(x * 255) / 255


def pixelate(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Low resolution: Pillow BOX resize to ``factor`` of the size and back (width pass first, 8-bit in between)."""
    h, w = x.shape[-2:]
    down_h, up_h = pil_box_resize_ops(h, float(p["factor"]), x.device)
    down_w, up_w = pil_box_resize_ops(w, float(p["factor"]), x.device)
    # the width pass gathers columns: done as a row gather on the transposed batch (contiguous rows, same values)
    narrow = _rounded(down_w.along(x.transpose(-1, -2).contiguous(), -2)).transpose(-1, -2).contiguous()
    small = _rounded(down_h.along(narrow, -2))
    # Enlarging with BOX picks one pixel with weight 1: the passes back up are plain gathers, and their rounding
    # changes nothing (``small`` is on 8-bit levels already), so they are done as gathers: the same bytes, faster.
    return small.index_select(-1, up_w.index[0]).index_select(-2, up_h.index[0])


def _jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded if decoded.mode == "RGB" else decoded.convert("RGB"))


def jpeg_uint8(images: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
    """``jpeg_compression`` on uint8 N×H×W×3 images: the codec's bytes as they are, without a float round trip."""
    return np.stack(per_image(lambda image: _jpeg_roundtrip(image, int(p["quality"])), images))


def jpeg_compression(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """JPEG artefacts: encoded at ``quality`` and decoded again with Pillow (libjpeg), image by image."""
    images = torch.round(x * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return torch.from_numpy(jpeg_uint8(images, p)).to(x.device).permute(0, 3, 1, 2).float() / 255
