"""shiftlab.shifts: the registry, input checks, determinism, resolution-aware tables, edits and dataset shifts.

The cross-checks against the reference implementation (imagecorruptions) are in
test_shifts_reference.py.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from shiftlab.data import load_dataset
from shiftlab.device import one_thread_workers, per_thread_torch_threads
from shiftlab.errors import DatasetNotFoundError, ImageInputError, UnknownShiftError
from shiftlab.shifts import SEVERITIES, apply, get_shift, list_shifts, ood, registry
from shiftlab.shifts.batch import to_uint8
from shiftlab.shifts.corruptions import BENCHMARK, EXTRA
from shiftlab.shifts.frost import _TINTS, texture_bank
from shiftlab.shifts.params import CIFAR, IMAGENET, table_for
from shiftlab.shifts.shift import Context

CPU = torch.device("cpu")
CORRUPTIONS = list_shifts(kind="corruption")
EDITS = list_shifts(kind="edit")
LOCAL_SHIFTS = CORRUPTIONS + EDITS + list_shifts(kind="dataset", available_only=True)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def cifar() -> np.ndarray:
    """The 500 images of the embedded CIFAR-10 sample (32×32)."""
    return load_dataset("cifar10-sample").images


@pytest.fixture(scope="module")
def small(cifar: np.ndarray) -> np.ndarray:
    return cifar[:6]


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


# --- registry and records ---------------------------------------------------------------------


def test_the_issue_s_shifts_are_all_registered():
    assert set(BENCHMARK) == {
        "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
        "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
    }
    assert set(EXTRA) == {"speckle_noise", "gaussian_blur", "spatter", "saturate"}
    assert CORRUPTIONS == [*BENCHMARK, *EXTRA]
    assert set(EDITS) == {
        "rotate", "translate", "zoom_crop", "flip", "hue_shift", "grayscale", "invert", "color_jitter",
        "occlusion", "lowpass", "highpass", "amplitude_swap",
    }
    assert {"ood_cifar100", "ood_svhn", "ood_cifar100_sample", "ood_gaussian", "ood_uniform", "ood_blobs"} == set(
        list_shifts(kind="dataset")
    )
    assert list_shifts(family="noise") == ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"]


@pytest.mark.parametrize("name", list_shifts())
def test_every_shift_describes_itself_as_data(name):
    shift = get_shift(name)
    assert shift.name == name
    assert shift.kind in {"corruption", "edit", "dataset"} and shift.family
    assert shift.description and "\n" not in shift.description
    assert set(shift.params) == set(SEVERITIES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        shift.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        shift.params[1]["x"] = 1  # type: ignore[index]
    if shift.resolution_aware:
        for s in SEVERITIES:
            assert shift.params[s] == {"cifar": CIFAR[name][s - 1], "imagenet": IMAGENET[name][s - 1]}
    else:
        assert all(isinstance(v, (int, float, str)) for s in SEVERITIES for v in shift.params[s].values())


def test_each_image_size_gets_one_table():
    assert table_for(32, 32) == "cifar" and table_for(224, 224) == "imagenet"
    assert table_for(84, 300) == "cifar" and table_for(85, 85) == "imagenet"
    blur = get_shift("gaussian_blur")
    assert blur.params_for(5, 32, 32) == {"sigma": 1} and blur.params_for(5, 224, 224) == {"sigma": 6}
    assert get_shift("rotate").params_for(3, 32, 32) == {"degrees": 15}


def test_32px_images_get_the_cifar_table_not_the_imagenet_one(small):
    """The mistake to avoid: ImageNet-C's parameters wreck 32 px images."""
    name = "defocus_blur"
    out = apply(name, small, 5, device="cpu")
    x = torch.from_numpy(small).permute(0, 3, 1, 2).float() / 255
    ctx = Context(0, name, len(small), CPU)
    as_imagenet = to_uint8(get_shift(name).function(x, IMAGENET[name][4], ctx))
    as_cifar = to_uint8(get_shift(name).function(x, CIFAR[name][4], ctx))
    assert np.array_equal(out, as_cifar)
    assert rmse(out, small) < 0.5 * rmse(as_imagenet, small)


# --- shape, dtype, determinism ----------------------------------------------------------------


@pytest.mark.parametrize("name", LOCAL_SHIFTS)
@pytest.mark.parametrize("size", [(32, 32), (40, 56)])
def test_shape_and_dtype_are_kept(name, size, small):
    images = np.ascontiguousarray(np.resize(small[:2], (2, *size, 3)))
    out = apply(name, images, 3, seed=1, device="cpu")
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert not np.shares_memory(out, images)


@pytest.mark.parametrize("name", LOCAL_SHIFTS)
def test_same_seed_same_bytes_and_positions_are_independent(name, small):
    out = apply(name, small, 4, seed=7, device="cpu")
    assert np.array_equal(out, apply(name, small, 4, seed=7, device="cpu"))
    # an image's result depends on (seed, image, position) only: a shorter batch gives the same bytes
    assert np.array_equal(out[:3], apply(name, small[:3], 4, seed=7, device="cpu"))
    other_seed = apply(name, small, 4, seed=8, device="cpu")
    assert np.array_equal(out, other_seed) != get_shift(name).random


def test_chunking_does_not_change_the_result(small, monkeypatch):
    whole = {name: apply(name, small, 3, seed=2, device="cpu") for name in ("glass_blur", "fog", "ood_blobs")}
    monkeypatch.setattr(registry, "CHUNK_PIXELS", 2 * 32 * 32)
    for name, expected in whole.items():
        assert np.array_equal(apply(name, small, 3, seed=2, device="cpu"), expected)


@pytest.mark.parametrize("name", [name for name in CORRUPTIONS if get_shift(name).side_by_side])
def test_the_thread_count_does_not_change_the_result(name, small):
    # on 3 threads the 6 images run as 3 parts side by side on one-thread workers
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        serial = apply(name, small, 4, seed=5, device="cpu")
        torch.set_num_threads(3)
        threaded = apply(name, small, 4, seed=5, device="cpu")
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(serial, threaded)


def test_one_thread_workers_leave_the_count_new_threads_begin_with():
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        pool = one_thread_workers(2, "test-workers")
        worker_counts = sorted(pool.map(lambda _: torch.get_num_threads(), range(8)))
        counts = []
        thread = threading.Thread(target=lambda: counts.append(torch.get_num_threads()))
        thread.start()
        thread.join()
    finally:
        torch.set_num_threads(threads)
    assert set(worker_counts) == {1 if per_thread_torch_threads() else 2} and counts == [2]


def test_parts_side_by_side_leave_the_thread_counts_alone(small):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        apply("gaussian_noise", small, 3, device="cpu")
        assert torch.get_num_threads() == 2
        counts = []
        thread = threading.Thread(target=lambda: counts.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert counts == [2]  # a new thread starts with the caller's count, not the workers' one
    finally:
        torch.set_num_threads(threads)


def test_the_default_device_is_resolved(small):
    assert np.array_equal(apply("contrast", small, 2), apply("contrast", small, 2, device="cpu"))


def test_an_empty_batch_comes_back_empty():
    empty = np.zeros((0, 32, 32, 3), np.uint8)
    assert apply("fog", empty, 2).shape == (0, 32, 32, 3)


# --- severity ---------------------------------------------------------------------------------

#: adjacent severities whose distance from the clean image drops (or ties) because of the reference
#: CIFAR-10-C table itself (make_cifar_c.py), whatever the implementation:
TABLE_DIPS = {
    # severities 1-3 shuffle the same amount; more blur (sigma .05 -> .25 -> .4) smooths the shuffle out
    "glass_blur": {(1, 2), (2, 3), (4, 5)},
    # (6, 2) and (8, 2): a sigma-2 line kernel has no weight past 12 pixels, so both blur alike
    "motion_blur": {(3, 4)},
    # image weight falls (0.9 -> 0.85 -> 0.75) at a nearly constant frost weight: the sum moves back
    "frost": {(3, 4), (4, 5)},
    # the affine part shrinks (2.56 -> 0.96 px) faster than the elastic part grows
    "elastic_transform": {(1, 2), (2, 3), (3, 4), (4, 5)},
    # severity 4 switches from water drops to sparse mud
    "spatter": {(3, 4)},
    # severity 3 raises saturation x1.5, a smaller change than severity 2's x0.1
    "saturate": {(2, 3)},
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_distance_from_the_clean_image_grows_with_severity(name, cifar):
    """RMSE from the clean image over the 500 images of the embedded sample, at 32 px."""
    distance = [rmse(apply(name, cifar, s, seed=0, device="cpu"), cifar) for s in SEVERITIES]
    assert distance[0] > 0.5
    for s in SEVERITIES[:-1]:
        if (s, s + 1) not in TABLE_DIPS.get(name, ()):
            assert distance[s] > distance[s - 1], f"{name}: severity {s + 1} is not farther than {s}: {distance}"


@pytest.mark.parametrize("name", [n for n in EDITS + ["ood_gaussian", "ood_cifar100_sample"]])
def test_edits_and_dataset_shifts_grow_with_severity(name, cifar):
    distance = [rmse(apply(name, cifar[:200], s, seed=0, device="cpu"), cifar[:200]) for s in SEVERITIES]
    assert all(b > a for a, b in zip(distance, distance[1:])), distance


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((2, 32, 32, 3), np.float32), "uint8"),
        (np.zeros((2, 32, 32, 4), np.uint8), "3 RGB channels"),
        (np.zeros((2, 32, 32, 1), np.uint8), "3 RGB channels"),
        (np.zeros((2, 3, 32, 32), np.uint8), "3 RGB channels"),
        (np.zeros((32, 32, 3), np.uint8), r"images\[None\]"),
        (np.zeros((2, 8, 8, 3), np.uint8), "at least 16"),
        ([[0]], "numpy array"),
    ],
)
def test_bad_images_raise_image_input_error(images, message):
    with pytest.raises(ImageInputError, match=message):
        apply("fog", images, 1)
    assert issubclass(ImageInputError, ValueError)


@pytest.mark.parametrize("severity", [0, 6, -1, 2.5, "3", True, None])
def test_bad_severity_raises_value_error(severity, small):
    with pytest.raises(ValueError, match="severity must be an integer from 1 to 5"):
        apply("fog", small, severity)


def test_unknown_name_bad_seed_and_stray_reference_raise_value_error(small):
    with pytest.raises(UnknownShiftError, match="unknown shift 'fogg'"):
        apply("fogg", small, 1)
    assert issubclass(UnknownShiftError, ValueError)
    with pytest.raises(ValueError, match="seed"):
        apply("fog", small, 1, seed=-1)
    with pytest.raises(ValueError, match="takes no reference"):
        apply("fog", small, 1, reference=small)
    with pytest.raises(ValueError, match="reference must hold 1 or 6"):
        apply("amplitude_swap", small, 1, reference=small[:2])
    with pytest.raises(ImageInputError, match="reference"):
        apply("amplitude_swap", small, 1, reference=small.astype(np.float32))


# --- edits ----------------------------------------------------------------------------------------


def test_invert_at_severity_5_is_the_negative(small):
    assert np.array_equal(apply("invert", small, 5), 255 - small)


def test_lowpass_and_highpass_split_the_spectrum(small):
    x = torch.from_numpy(small).permute(0, 3, 1, 2).double() / 255
    ctx = Context(0, "lowpass", len(small), CPU)
    low = get_shift("lowpass").function(x, {"radius": 0.25}, ctx)
    high = get_shift("highpass").function(x, {"radius": 0.25}, ctx)
    # together they give back the image, plus the mean colour that both keep
    assert torch.allclose(low + high - x.mean(dim=(2, 3), keepdim=True), x, atol=1e-9)
    spectrum = torch.fft.rfft2(low).abs()
    fy = torch.fft.fftfreq(32).view(-1, 1)
    fx = torch.fft.rfftfreq(32).view(1, -1)
    assert spectrum[..., torch.sqrt(fy**2 + fx**2) / 0.5 > 0.25].max() < 1e-9


def test_amplitude_swap_takes_the_reference_amplitude(small):
    x = torch.from_numpy(small).permute(0, 3, 1, 2).double() / 255
    ref = torch.flip(x, dims=(0,))
    out = get_shift("amplitude_swap").function(x, {"mix": 1.0}, Context(0, "amplitude_swap", len(x), CPU, ref))
    assert torch.allclose(torch.fft.rfft2(out).abs(), torch.fft.rfft2(ref).abs(), atol=1e-8)
    with_ref = apply("amplitude_swap", small, 3, reference=small[:1])
    assert not np.array_equal(with_ref, apply("amplitude_swap", small, 3))


def test_flip_turns_a_growing_nested_set_of_images_upside_down(cifar):
    images = cifar[:100]
    flipped = [{i for i in range(100) if not np.array_equal(o, x)} for o, x in
               ((apply("flip", images, s, seed=3), images) for s in SEVERITIES)]
    assert all(a <= b for a, b in zip(flipped, flipped[1:])) and len(flipped[-1]) == 100
    out = apply("flip", images, 5, seed=3)
    assert np.array_equal(out, images[:, ::-1])


def test_occlusion_paints_one_grey_square(small):
    out = apply("occlusion", small, 2, seed=5)  # side 0.2 * 32 = 6 px
    changed = np.any(out != small, axis=-1)
    for o, mask in zip(out, changed):
        rows, cols = np.nonzero(np.all(o == 127, axis=-1))
        assert rows.max() - rows.min() == 5 and cols.max() - cols.min() == 5
        assert mask[~np.all(o == 127, axis=-1)].sum() == 0


# --- dataset (OOD) shifts ---------------------------------------------------------------------------


def test_ood_replaces_a_nested_seeded_fraction_with_set_images(cifar):
    images = cifar[:200]
    replaced = []
    for s in SEVERITIES:
        out = apply("ood_cifar100_sample", images, s, seed=4)
        replaced.append(np.any(out != images, axis=(1, 2, 3)))
    counts = [r.sum() for r in replaced]
    assert counts[-1] == 200 and all(abs(c - 40 * s) < 25 for c, s in zip(counts, SEVERITIES))
    assert all(np.all(a <= b) for a, b in zip(replaced, replaced[1:]))
    pool = {im.tobytes() for im in load_dataset("cifar100-sample").images}
    out = apply("ood_cifar100_sample", images, 5, seed=4)
    assert all(im.tobytes() in pool for im in out)


def test_ood_images_are_resized_to_the_batch_size(small):
    big = np.resize(small[:2], (2, 96, 96, 3))
    out = apply("ood_uniform", big, 5, seed=1)
    assert out.shape == big.shape
    # upsampled 32 px noise is smooth: neighbouring pixels differ far less than fresh noise would
    assert np.abs(np.diff(out.astype(int), axis=1)).mean() < 40


def test_synthetic_sets_are_fixed_and_look_as_documented():
    first = ood.synthetic_images("gaussian", np.arange(4))
    assert np.array_equal(first, ood.synthetic_images("gaussian", np.arange(4)))
    assert abs(first.mean() - 0.5) < 0.02
    uniform = ood.synthetic_images("uniform", np.arange(4))
    assert abs(uniform.mean() - 0.5) < 0.02 and uniform.min() >= 0 and uniform.max() <= 1
    blobs = ood.synthetic_images("blobs", np.arange(8))
    lit = blobs[blobs > 0]
    assert 0.05 < (blobs > 0).mean() < 0.8 and lit.min() >= 0.75


def test_real_ood_sets_say_clearly_when_they_are_absent(small, monkeypatch, tmp_path):
    monkeypatch.setenv("SHIFTLAB_DATA", str(tmp_path))
    assert not ood.available("ood_svhn")
    assert "ood_svhn" not in list_shifts(available_only=True) and "ood_blobs" in list_shifts(available_only=True)
    with pytest.raises(DatasetNotFoundError, match="svhn"):
        apply("ood_svhn", small, 5)


@pytest.mark.parametrize("name", ["ood_cifar100", "ood_svhn"])
def test_real_ood_sets_from_the_shared_data(name, small, monkeypatch):
    root = os.environ.get("SHIFTLAB_DATA") or (str(SHARED_DATA) if SHARED_DATA.is_dir() else None)
    if root is None or not Path(root).is_dir():
        pytest.skip("needs ../shared/data or $SHIFTLAB_DATA (CIFAR-100 and SVHN test sets), absent here")
    monkeypatch.setenv("SHIFTLAB_DATA", root)
    out = apply(name, small, 5, seed=0)
    assert out.shape == small.shape and np.all(np.any(out != small, axis=(1, 2, 3)))


# --- frost textures ---------------------------------------------------------------------------------


def test_frost_textures_are_calibrated_to_the_imagenet_c_photographs():
    bank = texture_bank()
    assert bank.shape == (6, 3, 512, 512) and bank.dtype == np.float32
    assert np.array_equal(bank, texture_bank())
    for texture, (mean, std) in zip(bank, _TINTS):
        assert np.allclose(texture.mean(axis=(1, 2)) * 255, mean, atol=3)
        assert np.allclose(texture.std(axis=(1, 2)) * 255, std, rtol=0.2)


def test_a_reversed_one_image_view_is_shifted_like_its_copy():
    """numpy calls ``b[::-1][:1]`` contiguous although its stride is negative; torch refuses such an array."""
    batch = load_dataset("cifar10-sample", limit=4).images
    view, copy = batch[::-1][:1], batch[-1:].copy()
    assert np.array_equal(apply("gaussian_noise", view, 3, device="cpu"),
                          apply("gaussian_noise", copy, 3, device="cpu"))
    assert np.array_equal(apply("amplitude_swap", batch[:2], 3, reference=view, device="cpu"),
                          apply("amplitude_swap", batch[:2], 3, reference=copy, device="cpu"))
