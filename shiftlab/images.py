"""Turning a user's image file into model input: decode, check, convert to RGB, resize.

Uploaded files can be broken, enormous (decompression bombs), animated, 16-bit,
palette, CMYK or with alpha. Everything that can be converted is converted to
8-bit RGB; everything else raises ``ImageInputError`` with a message a person
can act on.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shiftlab.errors import ImageInputError

#: images above this many pixels are refused before decoding (about 8k × 8k)
MAX_PIXELS = 64_000_000
MIN_SIDE = 8


def read_image(source: str | os.PathLike | bytes) -> np.ndarray:
    """Decode an image file (path or bytes) to uint8 H×W×3 RGB, honouring EXIF orientation."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                _check_size(img.size)
                img.load()
                return _to_rgb(ImageOps.exif_transpose(img))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"image is too large to decode safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageInputError("not an image file that Pillow can read (PNG, JPEG, WebP, BMP, TIFF, GIF ...)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"the image file is broken or truncated: {exc}") from exc


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageInputError(f"image is {width}×{height} pixels; the limit is {MAX_PIXELS / 1e6:.0f} megapixels")
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(f"image is {width}×{height} pixels; each side must be at least {MIN_SIDE}")


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode to 8-bit RGB; transparent pixels are composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if wide.max() > 255 else 255.0
        img = Image.fromarray(np.clip(wide / scale * 255.0 + 0.5, 0, 255).astype(np.uint8))
    elif img.mode == "F":
        raise ImageInputError("floating-point images are not supported; save the image as 8- or 16-bit")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def fit_to_model(image: np.ndarray, size: int) -> np.ndarray:
    """Resize the shorter side to ``size`` (bilinear, antialiased) and centre-crop to size × size."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ImageInputError(f"expected a uint8 H×W×3 RGB image, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    resized = Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR, reducing_gap=None)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.uint8).copy()


def load_image(source: str | os.PathLike | bytes, size: int) -> np.ndarray:
    """``read_image`` then ``fit_to_model``: a uint8 size×size×3 array ready for ``shiftlab.inference``."""
    return fit_to_model(read_image(source), size)
