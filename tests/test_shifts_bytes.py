"""The speed-ups of the corruptions and of the uint8 conversion left their output bytes as they were.

Each check runs the implementation as it was before the speed-up (kept here,
verbatim in what it computes) and ``apply`` on the same fixed batch, and
requires identical bytes, at 32 px (CIFAR-10-C table) and 224 px (ImageNet-C).
Where only a helper changed, the old helper is patched into the shift's module
for the old run.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from shiftlab.data import load_dataset
from shiftlab.shifts import SEVERITIES, apply, blur, digital, filters, get_shift, spatter, weather
from shiftlab.shifts.batch import _ROUNDOFF, to_tensor, to_uint8
from shiftlab.shifts.digital import _rounded
from shiftlab.shifts.resample import AxisOp, pil_box_resize_ops
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
    params = shift.params_for(severity, *images.shape[1:3])
    return old_to_uint8(shift.function(x, params, OldContext(seed, name, len(x), CPU)))


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
    small = _rounded(old_along(down_h, _rounded(old_along(down_w, x, -1)), -2))
    return old_to_uint8(_rounded(old_along(up_h, _rounded(old_along(up_w, small, -1)), -2)))


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
        ours = apply(name, batch, severity, 3, device="cpu")
        assert np.array_equal(ours, old_apply(name, batch, severity, 3)), severity


def test_jpeg_keeps_its_bytes(batch):
    for severity in SEVERITIES:
        assert np.array_equal(apply("jpeg_compression", batch, severity, device="cpu"),
                              old_apply("jpeg_compression", batch, severity)), severity


def pillow_jpeg(image: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    """The stream Pillow writes for ``image`` at ``quality``, and the pixels it decodes from it."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue(), np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def test_jpeg_writes_pillows_stream_and_decodes_its_pixels(batch):
    """JPEG runs on torchvision's libjpeg-turbo (it releases the GIL): the same stream as Pillow's encoder at
    every quality of both tables, decoded to the same pixels as Pillow's decoder."""
    from torchvision.io import encode_jpeg

    qualities = {get_shift("jpeg_compression").params_for(s, *size)["quality"]
                 for s in SEVERITIES for size in ((32, 32), (224, 224))}
    for quality in sorted(qualities):
        ours = digital.jpeg_uint8(batch, {"quality": quality})
        for image, shifted in zip(batch, ours):
            stream, pixels = pillow_jpeg(image, quality)
            assert encode_jpeg(torch.from_numpy(image).permute(2, 0, 1), quality=quality).numpy().tobytes() == stream
            assert np.array_equal(shifted, pixels), quality


def test_pixelate_keeps_its_bytes(batch):
    for severity in SEVERITIES:
        assert np.array_equal(apply("pixelate", batch, severity, device="cpu"), old_pixelate(batch, severity)), severity


def old_along(op: AxisOp, x: torch.Tensor, axis: int) -> torch.Tensor:
    shape = (-1, 1) if axis == -2 else (1, -1)
    return sum(w.view(shape) * x.index_select(axis, i) for i, w in zip(op.index, op.weight))


def old_resample(x: torch.Tensor, rows: AxisOp, cols: AxisOp) -> torch.Tensor:
    return old_along(rows, old_along(cols, x, -1), -2)


def old_zoom_blur(x: torch.Tensor, p, ctx) -> torch.Tensor:
    h, w = x.shape[-2:]
    total = x.clone()
    for z in p["zooms"]:
        total += old_resample(x, blur.zoom_op(h, z, x.device), blur.zoom_op(w, z, x.device))
    return total / (len(p["zooms"]) + 1)


def old_rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    value, argmax = x.max(dim=1)
    delta = value - x.min(dim=1).values
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = torch.stack([(g - b) / safe, 2 + (b - r) / safe, 4 + (r - g) / safe], dim=1)
    hue = hue.gather(1, argmax.unsqueeze(1)).squeeze(1)
    hue = torch.where(delta > 0, (hue / 6) % 1.0, torch.zeros_like(hue))
    sat = torch.where(value > 0, delta / torch.where(value > 0, value, torch.ones_like(value)), torch.zeros_like(value))
    return torch.stack([hue, sat, value], dim=1)


def old_hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x.unbind(1)
    sector = torch.floor(h * 6)
    f = h * 6 - sector
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    sector = sector.long().remainder(6).unsqueeze(1)
    choices = torch.stack([v, q, p, p, t, v, t, v, v, q, p, p, p, p, t, v, v, q], dim=1)
    return torch.cat([choices[:, 0:6].gather(1, sector), choices[:, 6:12].gather(1, sector),
                      choices[:, 12:18].gather(1, sector)], dim=1)


def old_pad(x: torch.Tensor, py: int, px: int, mode: str) -> torch.Tensor:
    h, w = x.shape[-2:]
    rows = torch.from_numpy(filters.boundary_index(np.arange(-py, h + py), h, mode)).to(x.device)
    cols = torch.from_numpy(filters.boundary_index(np.arange(-px, w + px), w, mode)).to(x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def old_shuffle_sources(offsets: torch.Tensor, h: int, w: int, delta: int) -> torch.Tensor:
    n = offsets.shape[0]
    rows = torch.arange(delta + 1, h - delta + 1).view(1, -1, 1)
    cols = torch.arange(delta + 1, w - delta + 1).view(1, 1, -1)
    here = (rows * w + cols).expand(n, -1, -1).reshape(n, -1)
    there = ((rows + offsets[:, 0]) * w + cols + offsets[:, 1]).reshape(n, -1)
    visited = torch.zeros((n, h * w), dtype=torch.bool)
    visited[:, here[0]] = True
    src = torch.arange(h * w).repeat(n, 1)
    src.scatter_(1, here, there)
    follow = torch.zeros_like(visited).scatter_(1, here, visited.gather(1, there) & (there > here))
    while follow.any():
        nxt = src
        src = torch.where(follow, src.gather(1, nxt), src)
        follow = follow & follow.gather(1, nxt)
    return src


def old_shuffle(x: torch.Tensor, delta: int, ctx, part: int) -> torch.Tensor:
    n, c, h, w = x.shape
    shape = (2, h - 2 * delta, w - 2 * delta)
    offsets = torch.from_numpy(ctx.values(lambda g, i: g.integers(-delta, delta, size=shape), part=part))
    src = old_shuffle_sources(offsets, h, w, delta)
    return x.reshape(n, c, h * w).gather(2, src.unsqueeze(1).expand(-1, c, -1)).reshape(n, c, h, w)


def old_sum_of_shifts(padded: torch.Tensor, taps: list[list[float]], h: int, w: int) -> torch.Tensor:
    return sum(
        taps[i][j] * padded[..., i : i + h, j : j + w]
        for i in range(len(taps)) for j in range(len(taps[0])) if taps[i][j] != 0
    )


def old_outline_distance(level: torch.Tensor, limit: int) -> torch.Tensor:
    """scipy's distance transform image by image, then capped (the cap was applied by the caller)."""
    edges = spatter._canny(level, 50, 150).cpu().numpy()[:, 0]
    dist = np.stack([ndimage.distance_transform_edt(~e) if e.any() else np.full(e.shape, 1e4) for e in edges])
    return torch.from_numpy(dist[:, None]).to(level).clamp(max=limit)


_OLD_HSV = [(digital, "rgb_to_hsv", old_rgb_to_hsv), (digital, "hsv_to_rgb", old_hsv_to_rgb)]

#: shift -> (its old function, or None where only helpers changed; the old helpers: (module, attribute, old one))
OLD_SHIFTS = {
    "zoom_blur": (old_zoom_blur, []),
    "snow": (None, [(weather, "resample", old_resample), (filters, "pad", old_pad)]),
    "defocus_blur": (None, [(filters, "pad", old_pad)]),
    "glass_blur": (None, [(blur, "_shuffle", old_shuffle)]),
    "motion_blur": (None, [(filters, "pad", old_pad)]),
    "spatter": (None, [(filters, "pad", old_pad), (filters, "_sum_of_shifts", old_sum_of_shifts),
                       (spatter, "_outline_distance", old_outline_distance)]),
    "brightness": (None, _OLD_HSV),
    "saturate": (None, _OLD_HSV),
}


def old_run(name: str, images: np.ndarray, severity: int, seed: int, monkeypatch) -> np.ndarray:
    """The shift as it ran before its speed-up: old function or old helpers, old float batch, old streams."""
    shift = get_shift(name)
    function, helpers = OLD_SHIFTS[name]
    x = old_to_tensor(images)
    with monkeypatch.context() as patch:
        for module, attribute, old in helpers:
            patch.setattr(module, attribute, old)
        params = shift.params_for(severity, *images.shape[1:3])
        out = (function or shift.function)(x, params, OldContext(seed, name, len(x), CPU))
    return old_to_uint8(out)


def old_to_tensor(images: np.ndarray) -> torch.Tensor:
    """The float batch as it was made before: a channels-last view (the same values as today's contiguous one)."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


@pytest.mark.parametrize("name", sorted(OLD_SHIFTS))
def test_rewritten_shifts_keep_their_bytes(batch, name, monkeypatch):
    for severity in SEVERITIES:
        expected = old_run(name, batch, severity, 3, monkeypatch)
        assert np.array_equal(apply(name, batch, severity, 3, device="cpu"), expected), severity


def test_contrast_keeps_its_bytes_on_the_whole_sample():
    """The image means are sums whose rounding depends on the layout they are taken in: the 500 images of the
    sample hold several whose bytes moved when the batch stopped arriving channels-last."""
    images = load_dataset("cifar10-sample").images
    for severity in SEVERITIES:
        factor = get_shift("contrast").params_for(severity, 32, 32)["factor"]
        x = old_to_tensor(images)
        mean = x.mean(dim=(2, 3), keepdim=True)
        ours = apply("contrast", images, severity, device="cpu")
        assert np.array_equal(ours, old_to_uint8((x - mean) * factor + mean))
