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

from shiftlab.shifts.batch import to_tensor, to_uint8
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


def _pixelate_down(x: torch.Tensor, factor: float) -> torch.Tensor:
    """The small image of ``pixelate``: Pillow's BOX resize to ``factor`` of the size, width pass first, 8-bit levels."""
    h, w = x.shape[-2:]
    down_h, _ = pil_box_resize_ops(h, factor, x.device)
    down_w, _ = pil_box_resize_ops(w, factor, x.device)
    # the width pass gathers columns: done as a row gather on the transposed batch (contiguous rows, same values)
    narrow = _rounded(down_w.along(x.transpose(-1, -2).contiguous(), -2)).transpose(-1, -2).contiguous()
    return _rounded(down_h.along(narrow, -2))


def _pixelate_up(h: int, w: int, factor: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows and columns of the small image that enlarging back with BOX picks: one pixel each, with weight 1.

    The passes back up are therefore gathers, and their rounding changes nothing (the small image is on 8-bit
    levels already): gathering gives the bytes of the two resampling passes, faster.
    """
    return pil_box_resize_ops(h, factor, device)[1].index[0], pil_box_resize_ops(w, factor, device)[1].index[0]


def pixelate(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Low resolution: Pillow BOX resize to ``factor`` of the size and back (width pass first, 8-bit in between)."""
    rows, cols = _pixelate_up(*x.shape[-2:], float(p["factor"]), x.device)
    return _pixelate_down(x, float(p["factor"])).index_select(-1, cols).index_select(-2, rows)


def pixelate_uint8(images: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
    """``pixelate`` on uint8 N×H×W×3 images: the small image made in float, then enlarged as uint8 (the same bytes:
    the conversion to uint8 works pixel by pixel, so it may come before the gathers, on a smaller image)."""
    cpu = torch.device("cpu")
    small = to_uint8(_pixelate_down(to_tensor(images, cpu), float(p["factor"])))
    rows, cols = _pixelate_up(*images.shape[1:3], float(p["factor"]), cpu)
    return small[:, rows.numpy()][:, :, cols.numpy()]


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
