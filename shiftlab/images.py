"""Turning a user's image file into model input: decode, check, convert to RGB, resize.

Uploaded files can be broken, enormous (decompression bombs), extreme strips,
animated, 16-bit, palette, CMYK or with alpha. Everything that can be converted
is converted to 8-bit RGB; everything else raises ``ImageInputError`` with a
message a person can act on. The work done on an image is bounded before its
pixels are decoded, from the size and mode its header declares: at most
``MAX_PIXELS`` pixels, and at most ``MAX_DECODE_BYTES`` for the decoded pixels
plus their RGB conversion (``decode_bytes``). The conversion and the EXIF
rotation run strip by strip into one RGB image, and resizing reads only the
centre square the model will see, so ``load_image`` never holds more than that
budget of pixels (measured in ``tests/test_hostile_api.py``).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from PIL import Image, ImageMode, ImageOps, UnidentifiedImageError

from shiftlab.errors import ImageInputError, ParameterError

#: images above this many pixels are refused before decoding (about 8k × 8k)
MAX_PIXELS = 64_000_000
#: the most bytes the decoded pixels and their RGB conversion may take together (``decode_bytes``), checked before
#: decoding: a 64-megapixel RGB, grey, palette or 16-bit grey image, a 48-megapixel one with alpha, CMYK or
#: 32-bit samples
MAX_DECODE_BYTES = 384_000_000
MIN_SIDE = 8
#: longest side over shortest side; a stricter strip would keep a sliver of itself after the centre crop
MAX_ASPECT = 16
#: the largest side ``fit_to_model`` makes (the zoo's models take 32 or 224)
MAX_MODEL_SIDE = 4096
#: Pillow modes holding 16-bit samples (mode "I" is 32-bit storage, read as 16-bit samples: 16-bit PGM opens as "I")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
#: formats Pillow decodes by running another program (Ghostscript for EPS): never opened from an upload
_EXTERNAL_DECODERS = ("EPS",)
#: the conversion and the rotation work on strips of about this many pixels
_STRIP_PIXELS = 1 << 20
#: EXIF orientation -> the transposition that shows the image upright (as ``ImageOps.exif_transpose``)
_ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: transpositions that turn rows into columns
_SWAPS_AXES = (
    Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270, Image.Transpose.TRANSVERSE, Image.Transpose.ROTATE_90
)
#: transpositions that reverse the order of the rows (or, when they swap axes, of the columns they become)
_REVERSES = (Image.Transpose.ROTATE_180, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_270,
             Image.Transpose.TRANSVERSE)

Result = TypeVar("Result")


def read_image(source: str | os.PathLike | bytes) -> np.ndarray:
    """Decode an image file (path or bytes) to uint8 H×W×3 RGB, honouring EXIF orientation.

    Besides ``load_image``'s budget this returns the whole image: H×W×3 bytes more.
    """
    return _with_rgb(source, None, _as_array)


def load_image(source: str | os.PathLike | bytes, size: int) -> np.ndarray:
    """``read_image`` then ``fit_to_model``: a uint8 size×size×3 array ready for ``shiftlab.inference``
    (JPEGs decoded at a reduced scale where the result allows it), holding at most ``MAX_DECODE_BYTES`` of pixels."""
    size = _check_model_side(size)
    return _with_rgb(source, size, lambda rgb: _fit(rgb, size))


def _with_rgb(source: str | os.PathLike | bytes, draft: int | None, use: Callable[[Image.Image], Result]) -> Result:
    """``use`` of the file's pixels as an upright RGB image, decoded only once its declared size passed the checks;
    with ``draft``, a JPEG is decoded at the smallest scale (1/2, 1/4, 1/8) that keeps both sides at least ``draft``
    pixels, so a huge photo costs a fraction of its full size."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with _open(stream) as img:
            check_size(*img.size)
            if draft is not None:
                img.draft("RGB", (draft, draft))
            check_decode(img.mode, *img.size)
            _decode(img)
            transposition = _transposition(img)
            if transposition is not None:
                check_decode(img.mode, *img.size, transposed=True)
            return use(_upright_rgb(img, transposition))


def _open(stream) -> Image.Image:
    """``Image.open``, with Pillow's refusals turned into ``ImageInputError``."""
    try:
        img = Image.open(stream)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"image is too large to decode safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageInputError("not an image file that Pillow can read (PNG, JPEG, WebP, BMP, TIFF, GIF ...)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"the image file is broken or truncated: {exc}") from exc
    if img.format in _EXTERNAL_DECODERS:
        img.close()
        raise ImageInputError(f"{img.format} files are not read (decoding them runs another program); "
                              "save the image as PNG or JPEG")
    return img


def _transposition(img: Image.Image) -> Image.Transpose | None:
    """The transposition that shows a decoded image upright by its EXIF orientation, or None."""
    try:
        orientation = img.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, TypeError) as exc:
        raise ImageInputError(f"the image's EXIF data is broken: {exc}") from exc
    return _ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None


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
        raise ImageInputError(f"image is {width}×{height} pixels, an aspect ratio of "
                              f"{max(width, height) / min(width, height):.0f}:1; at most {MAX_ASPECT}:1 is taken "
                              "(the model sees the centre square): crop it first")


def decode_bytes(mode: str, width: int, height: int, transposed: bool = False) -> int:
    """Bytes of pixels that decoding a ``mode`` image and making it an upright RGB image hold at once.

    Pillow stores a one-band pixel in its sample size (1 byte, 2 for 16 bits, 4 for 32) and a pixel of several
    8-bit bands in 4 bytes; an image that is not RGB, or must be rotated, gets an RGB copy (4 bytes a pixel) made
    strip by strip beside it.
    """
    try:
        description = ImageMode.getmode(mode)
    except KeyError:
        raise ImageInputError(
            f"images of Pillow mode {mode!r} are not supported; save the image as 8-bit RGB"
        ) from None
    stored = np.dtype(description.typestr).itemsize if len(description.bands) == 1 else 4
    return width * height * (stored + (4 if mode != "RGB" or transposed else 0))


def check_decode(mode: str, width: int, height: int, transposed: bool = False) -> None:
    """Refuse, before any pixel is decoded, an image whose pixels would take more than ``MAX_DECODE_BYTES``."""
    if mode == "F":
        raise ImageInputError("floating-point images are not supported; save the image as 8- or 16-bit")
    needed = decode_bytes(mode, width, height, transposed)
    if needed > MAX_DECODE_BYTES:
        per_pixel = needed // (width * height)
        raise ImageInputError(
            f"image is {width}×{height} pixels in mode {mode}{' and must be rotated' if transposed else ''}: "
            f"decoding it would take {needed / 1e6:.0f} MB ({per_pixel} bytes a pixel), "
            f"the limit is {MAX_DECODE_BYTES / 1e6:.0f} MB "
            f"({MAX_DECODE_BYTES // per_pixel / 1e6:.0f} megapixels at {per_pixel} bytes a pixel); "
            "save a smaller or 8-bit RGB image")


def _upright_rgb(img: Image.Image, transposition: Image.Transpose | None) -> Image.Image:
    """The decoded ``img`` as RGB, turned upright: ``img`` itself when it already is, else a new image filled strip
    by strip (the conversion is pixel-wise and the transposition a permutation, so the bytes are those of
    converting and transposing the whole image, with one strip's worth of scratch memory)."""
    if img.mode == "RGB" and transposition is None:
        return img
    width, height = img.size
    swaps = transposition in _SWAPS_AXES
    out = Image.new("RGB", (height, width) if swaps else (width, height))
    rows = max(1, _STRIP_PIXELS // width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = _to_rgb(img.crop((0, top, width, bottom)))
        if transposition is not None:
            strip = strip.transpose(transposition)
        start = height - bottom if transposition in _REVERSES else top
        out.paste(strip, (start, 0) if swaps else (0, start))
    return out


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparent pixels are composited on white."""
    if img.mode in _SIXTEEN_BIT:
        img = Image.fromarray(_sixteen_to_eight_bit(np.asarray(img)))
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


def _as_array(rgb: Image.Image) -> np.ndarray:
    """The RGB image as a uint8 H×W×3 array, copied strip by strip (no second copy of the whole image)."""
    width, height = rgb.size
    out = np.empty((height, width, 3), np.uint8)
    rows = max(1, _STRIP_PIXELS // width)
    for top in range(0, height, rows):
        out[top : top + rows] = np.asarray(rgb.crop((0, top, width, min(height, top + rows))))
    return out


def _check_model_side(size: object) -> int:
    """The side of a model's square input: an integer from 1 to ``MAX_MODEL_SIDE``."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size <= MAX_MODEL_SIDE:
        raise ParameterError(
            f"size must be an integer from 1 to {MAX_MODEL_SIDE} (the model's input side), got {size!r}"
        )
    return int(size)


def fit_to_model(image: np.ndarray, size: int) -> np.ndarray:
    """The centre square of ``image`` resized to size × size (bilinear, antialiased).

    Same picture as resizing the shorter side to ``size`` and centre-cropping,
    but Pillow resamples only the square's source pixels (``ImageOps.fit``), so
    the cost is bounded by the result, not by how elongated the input is.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ImageInputError(f"expected a uint8 H×W×3 RGB image, got {getattr(image, 'dtype', type(image).__name__)} "
                              f"{getattr(image, 'shape', '')}")
    size = _check_model_side(size)
    check_size(image.shape[1], image.shape[0])
    return _fit(Image.fromarray(image), size)


def _fit(img: Image.Image, size: int) -> np.ndarray:
    """The centre square of an image whose size passed ``check_size``, resized to size × size."""
    return np.array(ImageOps.fit(img, (size, size), Image.BILINEAR), dtype=np.uint8)
