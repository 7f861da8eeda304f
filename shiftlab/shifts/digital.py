"""Digital and photometric corruptions: brightness, contrast, saturate, pixelate and JPEG compression.

Formulas after Hendrycks & Dietterich's make_cifar_c.py / make_imagenet_c.py
(parameters in ``params``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from shiftlab.shifts.batch import contiguous
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
    """Lower contrast: each channel pulled towards its image mean by ``factor``.

    The mean is taken over a channels-last copy: the order a float sum adds in depends on the layout, and this
    is the layout the means were always summed in (the batch used to arrive channels-last), so the bytes stay.
    """
    mean = x.contiguous(memory_format=torch.channels_last).mean(dim=(2, 3), keepdim=True)
    return (x - mean).mul_(p["factor"]).add_(mean)


def _rounded(x: torch.Tensor) -> torch.Tensor:
    """Round ``x`` to 8-bit levels in place, as Pillow stores each resampling pass."""
    return x.mul_(255).round_().div_(255)


def _box_down_levels(columns: torch.Tensor, factor: float) -> torch.Tensor:
    """8-bit levels (integer-valued floats) of Pillow's BOX resize to ``factor`` of the size, width pass first,
    rounded to levels after each pass, of the batch whose transpose (N×C×W×H) is ``columns``.

    Both passes gather whole rows: the width pass on ``columns``, the height pass after one transpose of the
    narrower image.
    """
    width, height = columns.shape[-2:]
    down_h, _ = pil_box_resize_ops(height, factor, columns.device)
    down_w, _ = pil_box_resize_ops(width, factor, columns.device)
    narrow = _rounded(down_w.along_rows(columns)).transpose(-1, -2).contiguous()
    return down_h.along_rows(narrow).mul_(255).round_()


def _pixelate_up(h: int, w: int, factor: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows and columns of the small image that enlarging back with BOX picks: one pixel each, with weight 1.

    The passes back up are therefore gathers, and their rounding changes nothing (the small image is on 8-bit
    levels already): gathering gives the bytes of the two resampling passes, faster.
    """
    return pil_box_resize_ops(h, factor, device)[1].index[0], pil_box_resize_ops(w, factor, device)[1].index[0]


def pixelate(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """Low resolution: Pillow BOX resize to ``factor`` of the size and back (width pass first, 8-bit in between)."""
    rows, cols = _pixelate_up(*x.shape[-2:], float(p["factor"]), x.device)
    small = _box_down_levels(x.transpose(-1, -2).contiguous(), float(p["factor"])) / 255
    return small.index_select(-1, cols).index_select(-2, rows)


def pixelate_uint8(images: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
    """``pixelate`` on uint8 N×H×W×3 images: the small image's levels made in float, then stored as uint8 and
    enlarged by uint8 gathers (the same bytes: a level converts to itself, and gathering commutes with converting).

    The float batch is made transposed straight from the uint8 images (converted as it is copied), ready for
    the width pass.
    """
    factor = float(p["factor"])
    n, h, w, c = images.shape
    pixels = torch.from_numpy(contiguous(images))
    columns = torch.empty((n, c, w, h)).copy_(pixels.permute(0, 3, 2, 1)).div_(255.0)
    levels = _box_down_levels(columns, factor)
    small = torch.empty((n, *levels.shape[-2:], c), dtype=torch.uint8).copy_(levels.permute(0, 2, 3, 1))  # N×h×w×3
    rows, cols = _pixelate_up(h, w, factor, torch.device("cpu"))
    return small.index_select(2, cols).index_select(1, rows).numpy()


def jpeg_uint8(images: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
    """``jpeg_compression`` on uint8 N×H×W×3 images: the codec's bytes as they are, without a float round trip.

    Each image is encoded at ``quality`` and decoded again by torchvision's libjpeg-turbo, on the shift threads.
    Its encoder writes the very stream Pillow's ``save(format="JPEG", quality=q)`` writes (same library, same
    defaults: 4:2:0 chroma, baseline, integer DCT; a test compares the streams) but, unlike Pillow's, it
    releases the GIL, so the shift threads share the work (16 images of 224 px on 2 cores: 3.2 against 5.4 ms).
    torchvision is imported here, on first use: it takes about a second and nothing else in the shifts needs it.
    torchvision 0.29 marks this codec deprecated in favour of TorchCodec's, the same libjpeg-turbo code: a
    DeprecationWarning, hidden by Python's default filters outside ``__main__``.
    """
    from torchvision.io import decode_jpeg, encode_jpeg

    pixels = torch.from_numpy(contiguous(images))
    out = np.empty_like(images)
    quality = int(p["quality"])

    def roundtrip(i: int) -> None:
        stream = encode_jpeg(pixels[i].permute(2, 0, 1), quality=quality)  # a CHW view of the HWC bytes
        out[i] = decode_jpeg(stream).permute(1, 2, 0).numpy()

    per_image(roundtrip, range(len(images)))
    return out


def jpeg_compression(x: torch.Tensor, p: Mapping[str, Any], ctx: Context) -> torch.Tensor:
    """JPEG artefacts: encoded at ``quality`` and decoded again with libjpeg-turbo, image by image."""
    images = torch.round(x * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return torch.from_numpy(jpeg_uint8(images, p)).to(x.device).permute(0, 3, 1, 2).float() / 255
