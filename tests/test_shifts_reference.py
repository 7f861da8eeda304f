"""Cross-checks of shiftlab.shifts against the reference implementation, on 224 px images (the ImageNet-C table).

The reference is ``imagecorruptions-imaug`` (a maintained fork of
imagecorruptions; ImageNet parameters only), a test-only dependency pinned in
requirements-test.txt together with the OpenCV it pulls in. Deterministic
corruptions must match it within a level or two; random ones must match its mean
PSNR against the clean image within 1 dB. Where imagecorruptions departs from
make_imagenet_c.py (its elastic transform has no affine part) or where its
randomness is too coarse to compare on a few images (the frost photograph), the
check is against make_imagenet_c.py's formula written with OpenCV here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shiftlab.data import load_dataset
from shiftlab.shifts import SEVERITIES, apply
from shiftlab.shifts.params import IMAGENET
from shiftlab.shifts.shift import Context

imagecorruptions = pytest.importorskip("imagecorruptions")
cv2 = pytest.importorskip("cv2")

DETERMINISTIC = [
    "brightness", "contrast", "saturate", "pixelate", "jpeg_compression", "defocus_blur", "gaussian_blur", "zoom_blur",
]
RANDOM = [
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur", "motion_blur", "snow", "fog",
    "spatter",
]


@pytest.fixture(scope="module")
def images224() -> np.ndarray:
    """16 images of the embedded CIFAR-10 sample enlarged to 224×224 (bicubic)."""
    small = load_dataset("cifar10-sample").images[:16]
    return np.stack([np.asarray(Image.fromarray(im).resize((224, 224), Image.BICUBIC)) for im in small])


@pytest.fixture
def reference_rng():
    """imagecorruptions draws from numpy's global generator: seed it for the test, restore it after."""
    state = np.random.get_state()
    np.random.seed(0)
    yield
    np.random.set_state(state)


def reference(name: str, images: np.ndarray, severity: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.stack([imagecorruptions.corrupt(im, severity, name) for im in images])


def psnr(a: np.ndarray, clean: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - clean.astype(np.float64)) ** 2, axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))))


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_corruptions_match_the_reference(name, severity, images224):
    ours = apply(name, images224[:8], severity, device="cpu").astype(int)
    diff = np.abs(ours - reference(name, images224[:8], severity))
    assert diff.max() <= 2 and diff.mean() < 0.5 and (diff > 1).mean() < 1e-3


@pytest.mark.parametrize("name", RANDOM)
def test_random_corruptions_match_the_reference_in_mean_psnr(name, images224, reference_rng):
    for severity in SEVERITIES:
        ours = psnr(apply(name, images224, severity, seed=0, device="cpu"), images224)
        theirs = psnr(reference(name, images224, severity), images224)
        assert abs(ours - theirs) < 1.0, f"{name} severity {severity}: {ours:.2f} dB vs reference {theirs:.2f} dB"


@pytest.mark.parametrize("angle", [-45.0, -20.5, 0.0, 33.0, -110.0])
def test_motion_blur_kernel_matches_the_reference_at_any_angle(angle, images224):
    from imagecorruptions.corruptions import _motion_blur

    from shiftlab.shifts.blur import motion_blur_layer

    image = images224[0]
    theirs = np.clip(_motion_blur(image, 15, 8, angle), 0, 255)
    x = torch.from_numpy(image[None]).permute(0, 3, 1, 2).double()
    ours = motion_blur_layer(x, 15, 8, np.array([angle]))[0].permute(1, 2, 0).numpy()
    assert np.abs(ours - theirs).max() < 1e-6


def _reference_frost(image: np.ndarray, texture: np.ndarray, weights: tuple[float, float], rng) -> np.ndarray:
    """make_imagenet_c.py's frost with one given photograph (as imagecorruptions scales it: x1.1, bicubic)."""
    h, w = texture.shape[:2]
    texture = cv2.resize(texture, (int(np.ceil(w * 1.1)), int(np.ceil(h * 1.1))), interpolation=cv2.INTER_CUBIC)
    top, left = rng.integers(0, texture.shape[0] - 224), rng.integers(0, texture.shape[1] - 224)
    crop = texture[top : top + 224, left : left + 224].astype(np.float64)
    return np.uint8(np.clip(weights[0] * image + weights[1] * crop, 0, 255))


def test_frost_matches_the_reference_photographs_in_mean_psnr(images224):
    """Per severity, PSNR averaged over the six textures on both sides (a random pick of 16 is too coarse)."""
    folder = Path(imagecorruptions.__file__).parent / "frost"
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir())]
    rng = np.random.default_rng(0)
    for severity in SEVERITIES:
        p = IMAGENET["frost"][severity - 1]
        weights = (p["image_weight"], p["frost_weight"])
        theirs = np.mean([psnr(np.stack([_reference_frost(im, t, weights, rng) for im in images224]), images224)
                          for t in photos])
        ours = np.mean([psnr(apply("frost", images224, severity, seed=s, device="cpu"), images224) for s in range(6)])
        assert abs(ours - theirs) < 1.0, f"frost severity {severity}: {ours:.2f} dB vs reference {theirs:.2f} dB"


def _reference_elastic(image: np.ndarray, p: dict, moves: np.ndarray, field: np.ndarray) -> np.ndarray:
    """make_imagenet_c.py's elastic transform (OpenCV affine warp, scipy displacement) given its random draws."""
    from scipy.ndimage import map_coordinates
    from skimage.filters import gaussian

    x = image.astype(np.float32) / 255
    h, w = x.shape[:2]
    centre, third = np.float32([w // 2, h // 2]), min(h, w) // 3
    src = np.float32([centre + third, [centre[0] + third, centre[1] - third], centre - third])
    affine = cv2.getAffineTransform(src, np.float32(src + moves))
    x = cv2.warpAffine(x, affine, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    dy, dx = (gaussian(f, p["sigma"], mode="reflect", truncate=3) * p["alpha"] for f in field)
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    out = np.stack([map_coordinates(x[..., c], (rows + dy, cols + dx), order=1, mode="reflect") for c in range(3)], -1)
    return np.uint8(np.clip(out, 0, 1) * 255)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_elastic_transform_matches_make_imagenet_c_given_the_same_draws(severity, images224):
    """imagecorruptions dropped the affine part of make_imagenet_c.py's elastic transform, so the formula is checked
    here with the same random draws (OpenCV's bilinear warp rounds positions to 1/32 px: a level or two)."""
    p = IMAGENET["elastic_transform"][severity - 1]
    images = images224[:4]
    ctx = Context(0, "elastic_transform", len(images), torch.device("cpu"))
    moves = ctx.values(lambda g, i: g.uniform(-p["affine"], p["affine"], (3, 2)), part=0)
    fields = ctx.values(lambda g, i: g.uniform(-1, 1, (2, 224, 224)), part=1).astype(np.float32)
    theirs = np.stack([_reference_elastic(im, p, m, f) for im, m, f in zip(images, moves, fields)]).astype(int)
    diff = np.abs(apply("elastic_transform", images, severity, seed=0, device="cpu") - theirs)
    assert diff.max() <= 2 and diff.mean() < 0.1


def test_canny_and_histogram_equalisation_match_opencv():
    """The spatter corruption rebuilds two OpenCV steps by hand."""
    from skimage.filters import gaussian

    from shiftlab.shifts.spatter import _canny, _equalize

    rng = np.random.default_rng(0)
    for sigma, threshold in [(4, 0.69), (2, 0.68), (1, 0.6)]:
        liquid = gaussian(rng.normal(0.65, 0.3, (224, 224)), sigma=sigma)
        liquid[liquid < threshold] = 0
        level = np.floor(np.clip(liquid, 0, 1) * 255).astype(np.uint8)
        ours = _canny(torch.from_numpy(level).float()[None, None], 50, 150)[0, 0].numpy()
        assert np.array_equal(ours, cv2.Canny(level, 50, 150) > 0)
        spread = np.minimum(level // 8, 20).astype(np.uint8)
        equalized = _equalize(torch.from_numpy(spread).float()[None, None])[0, 0].numpy()
        assert np.array_equal(equalized, cv2.equalizeHist(spread))
