"""User image files: odd modes are converted, broken and huge files give ImageInputError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from shiftlab.errors import ImageInputError
from shiftlab.images import MAX_PIXELS, fit_to_model, load_image, read_image
from shiftlab.inference import check_images


def encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA", "LA", "CMYK", "I;16", "1"])
def test_every_common_mode_becomes_rgb(mode):
    img = Image.new("RGB", (40, 30), (200, 100, 50)).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode == "I;16" else "PNG"
    out = read_image(encode(img, fmt))
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8


def test_transparent_pixels_are_composited_on_white():
    img = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    assert (read_image(encode(img)) == 255).all()


def test_sixteen_bit_is_scaled_not_clipped():
    wide = Image.fromarray(np.full((16, 16), 65535, dtype=np.uint16))
    assert read_image(encode(wide, "TIFF")).min() == 255


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    assert read_image(buf.getvalue()).shape == (40, 20, 3)


def test_broken_file_is_refused():
    with pytest.raises(ImageInputError, match="not an image"):
        read_image(b"definitely not an image")


def test_truncated_file_is_refused():
    data = encode(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")
    with pytest.raises(ImageInputError, match="broken or truncated"):
        read_image(data[: len(data) // 2])


def test_huge_image_is_refused_before_decoding():
    side = int(MAX_PIXELS**0.5) + 10
    img = Image.new("1", (side, side))  # 1-bit keeps the test file small
    with pytest.raises(ImageInputError, match="megapixels|too large"):
        read_image(encode(img))


def test_tiny_image_is_refused():
    with pytest.raises(ImageInputError, match="at least"):
        read_image(encode(Image.new("RGB", (3, 200))))


def test_fit_to_model_resizes_and_centre_crops():
    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, 140:160] = 255  # a white bar in the centre survives the crop
    out = fit_to_model(wide, 32)
    assert out.shape == (32, 32, 3) and out[:, 16].min() > 200 and out[:, 0].max() == 0


def test_load_image_from_path(tmp_path):
    Image.new("RGB", (500, 400), (9, 9, 9)).save(tmp_path / "x.png")
    assert load_image(tmp_path / "x.png", 224).shape == (224, 224, 3)


@pytest.mark.parametrize("bad", [
    np.zeros((2, 32, 32, 3), np.float32), np.zeros((2, 32, 32, 4), np.uint8), np.zeros((32, 32, 3), np.uint8), [[1]],
])
def test_inference_rejects_bad_batches(bad):
    with pytest.raises(ImageInputError):
        check_images(bad)
