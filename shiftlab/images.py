"""Turning a user's image file into model input: decode, check, convert to RGB, resize.

Uploaded files can be broken, enormous (decompression bombs), extreme strips,
animated, 16-bit, palette, CMYK or with alpha. Everything that can be converted
is converted to 8-bit RGB; everything else raises ``ImageInputError`` with a
message a person can act on. The work done on an image is bounded by its size
on disk (``MAX_PIXELS``) and by the size of the result: resizing reads only the
centre square the model will see.
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
#: longest side over shortest side; a stricter strip would keep a sliver of itself after the centre crop
MAX_ASPECT = 16
#: Pillow modes holding 16-bit samples (mode "I" is 32-bit storage, read as 16-bit samples: 16-bit PGM opens as "I")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def read_image(source: str | os.PathLike | bytes) -> np.ndarray:
    """Decode an image file (path or bytes) to uint8 H×W×3 RGB, honouring EXIF orientation."""
    return np.array(_decoded_rgb(source, None), dtype=np.uint8)


def _decoded_rgb(source: str | os.PathLike | bytes, draft: int | None) -> Image.Image:
    """The file's pixels as an RGB image; with ``draft``, a JPEG is decoded at the smallest scale (1/2, 1/4, 1/8)
    that keeps both sides at least ``draft`` pixels, so a huge photo costs a fraction of its full size."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with _open(stream) as img:
            check_size(*img.size)
            if draft is not None:
                img.draft("RGB", (draft, draft))
            _decode(img)
            return _to_rgb(ImageOps.exif_transpose(img))


def _open(stream) -> Image.Image:
    """``Image.open``, with Pillow's refusals turned into ``ImageInputError``."""
    try:
        return Image.open(stream)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"image is too large to decode safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageInputError("not an image file that Pillow can read (PNG, JPEG, WebP, BMP, TIFF, GIF ...)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"the image file is broken or truncated: {exc}") from exc


def _decode(img: Image.Image) -> None:
    """Decode the pixels (Pillow opens lazily); a truncated or corrupt file is an ``ImageInputError``."""
    try:
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"image is too large to decode safely: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"the image file is broken or truncated: {exc}") from exc


def check_size(width: int, height: int) -> None:
    """Refuse images too large to decode, too small to see, or so elongated that a centre crop keeps a sliver."""
    if width * height > MAX_PIXELS:
        raise ImageInputError(f"image is {width}×{height} pixels; the limit is {MAX_PIXELS / 1e6:.0f} megapixels")
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(f"image is {width}×{height} pixels, at least {MIN_SIDE} needed on each side")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageInputError(f"image is {width}×{height} pixels, an aspect ratio of {max(width, height) / min(width, height):.0f}:1; "
                              f"at most {MAX_ASPECT}:1 is taken (the model sees the centre square): crop it first")


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparent pixels are composited on white."""
    if img.mode in _SIXTEEN_BIT:
        img = Image.fromarray(_sixteen_to_eight_bit(np.asarray(img)))
    elif img.mode == "F":
        raise ImageInputError("floating-point images are not supported; save the image as 8- or 16-bit")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def _sixteen_to_eight_bit(wide: np.ndarray) -> np.ndarray:
    """16-bit samples to 8-bit by the bit depth (65535 -> 255, rounded), whatever the image's content."""
    if wide.size and (wide.min() < 0 or wide.max() > 65535):
        raise ImageInputError("image holds 32-bit integer samples; save it as an 8- or 16-bit image")
    return ((wide.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def fit_to_model(image: np.ndarray, size: int) -> np.ndarray:
    """The centre square of ``image`` resized to size × size (bilinear, antialiased).

    Same picture as resizing the shorter side to ``size`` and centre-cropping,
    but Pillow resamples only the square's source pixels (``ImageOps.fit``), so
    the cost is bounded by the result, not by how elongated the input is.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ImageInputError(f"expected a uint8 H×W×3 RGB image, got {getattr(image, 'dtype', type(image).__name__)} "
                              f"{getattr(image, 'shape', '')}")
    return _fit(Image.fromarray(image), size)


def _fit(img: Image.Image, size: int) -> np.ndarray:
    check_size(*img.size)
    return np.array(ImageOps.fit(img, (size, size), Image.BILINEAR), dtype=np.uint8)


def load_image(source: str | os.PathLike | bytes, size: int) -> np.ndarray:
    """``read_image`` then ``fit_to_model``: a uint8 size×size×3 array ready for ``shiftlab.inference``
    (JPEGs decoded at a reduced scale where the result allows it)."""
    return _fit(_decoded_rgb(source, size), size)
