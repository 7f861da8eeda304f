"""The speed-ups of pixelate, JPEG, the noise corruptions and the uint8 conversion left their output bytes as they were.

Each check runs the implementation as it was before the speed-up (kept here,
verbatim in what it computes) and ``apply`` on the same fixed batch, and
requires identical bytes, at 32 px (CIFAR-10-C table) and 224 px (ImageNet-C).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from shiftlab.data import load_dataset
from shiftlab.shifts import SEVERITIES, apply, get_shift
from shiftlab.shifts.batch import _ROUNDOFF, to_tensor, to_uint8
from shiftlab.shifts.digital import _rounded
from shiftlab.shifts.resample import pil_box_resize_ops
from shiftlab.shifts.shift import Context

CPU = torch.device("cpu")


@pytest.fixture(scope="module", params=[32, 224], ids=["32px", "224px"])
def batch(request) -> np.ndarray:
    small = load_dataset("cifar10-sample").images[:24]
    if request.param == 32:
        return small
    return np.stack([np.asarray(Image.fromarray(im).resize((224, 224), Image.BICUBIC)) for im in small[:3]])


def old_to_uint8(x: torch.Tensor) -> np.ndarray:
    return x.clamp(0, 1).mul(255.0).add_(_ROUNDOFF).floor_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def old_apply(name: str, images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """``apply`` before the speed-ups, for the shifts whose function kept its float form."""
    shift = get_shift(name)
    x = to_tensor(images, CPU)
    return old_to_uint8(shift.function(x, shift.params_for(severity, *images.shape[1:3]), OldContext(seed, name, len(x), CPU)))


class OldContext(Context):
    """The random streams as they were made before: entropy given as a list."""

    def generator(self, index: int, part: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.key, part, self.start + index])


def old_pixelate(images: np.ndarray, severity: int) -> np.ndarray:
    x = to_tensor(images, CPU)
    factor = float(get_shift("pixelate").params_for(severity, *images.shape[1:3])["factor"])
    h, w = x.shape[-2:]
    down_h, up_h = pil_box_resize_ops(h, factor, CPU)
    down_w, up_w = pil_box_resize_ops(w, factor, CPU)
    small = _rounded(down_h.along(_rounded(down_w.along(x, -1)), -2))
    return old_to_uint8(_rounded(up_h.along(_rounded(up_w.along(small, -1)), -2)))


def test_to_uint8_keeps_its_bytes():
    values = torch.cat([torch.arange(256) / 255.0, torch.linspace(-0.5, 1.5, 4001), torch.rand(20000)])
    x = values[: 3 * 3 * 8 * 336].reshape(3, 3, 8, 336)
    assert np.array_equal(to_uint8(x), old_to_uint8(x))


@pytest.mark.parametrize("seed, part, index", [(0, 0, 0), (7, 1, 40_000), (2**32 - 1, 2, 3), (2**40 + 3, 2, 9)])
def test_the_random_streams_are_the_same(seed, part, index):
    context = Context(seed, "gaussian_noise", 1, CPU, start=index)
    old = np.random.default_rng([seed, context.key, part, index])
    assert np.array_equal(context.generator(0, part).standard_normal(50), old.standard_normal(50))


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"])
def test_noise_keeps_its_bytes(batch, name):
    for severity in SEVERITIES:
        assert np.array_equal(apply(name, batch, severity, 3, device="cpu"), old_apply(name, batch, severity, 3)), severity


def test_jpeg_keeps_its_bytes(batch):
    for severity in SEVERITIES:
        assert np.array_equal(apply("jpeg_compression", batch, severity, device="cpu"),
                              old_apply("jpeg_compression", batch, severity)), severity


def test_pixelate_keeps_its_bytes(batch):
    for severity in SEVERITIES:
        assert np.array_equal(apply("pixelate", batch, severity, device="cpu"), old_pixelate(batch, severity)), severity
