"""Benchmark WCAM: shiftlab's batched implementation against a straightforward per-mask pywt one.

    python -m bench.bench_wcam [--arch resnet20] [--grid-size 8] [--nb-design 16] [--levels 3] [--threads 2]

Both run the same estimator on the same CIFAR-10 image with the same Sobol
design (same seed), the image upscaled (nearest) for 224-px models: the baseline builds each mask with numpy, inverts the
masked coefficients channel by channel with pywt and runs the model on one
image at a time. Prints both times, their ratio, the correlation of the two
WCAMs (Sobol index per grid cell), and where the time goes. Uses the trained
checkpoint when there is one, otherwise a randomly initialised network.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pywt
import torch

from shiftlab.attribution import attribute
from shiftlab.attribution.sobol import jansen_total_order, sobol_design
from shiftlab.attribution.wavelets import wavedec, waverec
from shiftlab.attribution.wcam import WCAM, grid_masks
from shiftlab.data import load_dataset
from shiftlab.errors import CheckpointError
from shiftlab.inference import to_tensor
from shiftlab.models import LoadedModel, build_model, get_spec, load_model

BATCH = WCAM.defaults()["batch_size"]  # perturbed images per forward pass, as shiftlab runs them


def load(arch: str) -> LoadedModel:
    """The baseline checkpoint of ``arch`` on the CPU, or a seeded random network when it is not trained yet."""
    try:
        return load_model(arch, device="cpu")
    except CheckpointError:
        print(f"note: no checkpoint for {arch}, using a randomly initialised network")
        torch.manual_seed(0)
        spec = get_spec(arch)
        return LoadedModel(build_model(arch).eval(), {}, spec.classes(), spec.input_size, torch.device("cpu"), arch, "random")


def per_mask_wcam(loaded: LoadedModel, image: np.ndarray, target: int, args: argparse.Namespace) -> tuple[np.ndarray, float]:
    """Sobol indices (grid×grid) computed mask by mask with pywt; also returns the seconds spent in pywt."""
    z = loaded.model.normalize(to_tensor(image[None])).numpy()[0].astype(np.float64)
    transforms = [pywt.coeffs_to_array(pywt.wavedec2(channel, "haar", level=args.levels)) for channel in z]
    design = sobol_design(args.grid_size**2, args.nb_design, args.seed)
    cell = np.ones((z.shape[-1] // args.grid_size,) * 2)
    outputs, wavelet_seconds = [], 0.0
    for row in design:
        start = time.perf_counter()
        mask = np.kron(row.reshape(args.grid_size, args.grid_size), cell)
        channels = [
            pywt.waverec2(pywt.array_to_coeffs(array * mask, slices, output_format="wavedec2"), "haar")
            for array, slices in transforms
        ]
        x = torch.from_numpy(np.stack(channels)[None]).float()
        wavelet_seconds += time.perf_counter() - start
        with torch.inference_mode():
            outputs.append(torch.softmax(loaded.model.net(x).double(), 1)[0, target].item())
    indices = jansen_total_order(np.array(outputs), args.nb_design)
    return indices.reshape(args.grid_size, args.grid_size), wavelet_seconds


def batched_wavelet_seconds(loaded: LoadedModel, image: np.ndarray, args: argparse.Namespace) -> float:
    """Seconds shiftlab spends building all masks and inverting the masked coefficients, without the model."""
    coefficients = wavedec(loaded.model.normalize(to_tensor(image)), args.levels)[0]
    design = torch.from_numpy(sobol_design(args.grid_size**2, args.nb_design, args.seed))
    start = time.perf_counter()
    for first in range(0, len(design), BATCH):
        masks = grid_masks(design[first : first + BATCH], coefficients.shape[-1], args.levels, approximation=True)
        waverec(coefficients[None] * masks[:, None], args.levels)
    return time.perf_counter() - start


def timed(function, *arguments):
    """``function(*arguments)`` and the seconds it took."""
    start = time.perf_counter()
    result = function(*arguments)
    return result, time.perf_counter() - start


def test_image(size: int) -> np.ndarray:
    """The first CIFAR-10 sample image (1×size×size×3), upscaled by pixel repetition for larger models."""
    image = load_dataset("cifar10-sample").images[:1]
    factor = size // image.shape[1]
    return image.repeat(factor, axis=1).repeat(factor, axis=2)


def forward_seconds(loaded: LoadedModel, n_images: int, size: int) -> float:
    """Seconds the model alone takes on ``n_images`` random images, batched as shiftlab's WCAM runs them."""
    batch = torch.rand(BATCH, 3, size, size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        return timed(lambda: [loaded.model.net(batch) for _ in range(-(-n_images // BATCH))])[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet20")
    parser.add_argument("--grid-size", type=int, default=8)
    parser.add_argument("--nb-design", type=int, default=16)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target is 2 cores)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the batched WCAM (median reported)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    loaded = load(args.arch)
    image = test_image(loaded.input_size)
    options = {"levels": args.levels, "grid_size": args.grid_size, "nb_design": args.nb_design, "seed": args.seed}
    n_images = args.nb_design * (args.grid_size**2 + 2)

    attribute(loaded, image, "wcam", **options)  # warm-up: allocator, kernel selection
    runs = [timed(lambda: attribute(loaded, image, "wcam", **options)) for _ in range(args.repeats)]
    fast, fast_seconds = runs[-1][0], statistics.median(seconds for _, seconds in runs)
    (reference, wavelet_seconds), baseline_seconds = timed(per_mask_wcam, loaded, image[0], int(fast.target[0]), args)
    correlation = np.corrcoef(fast.extras["sobol_indices"][0].ravel(), reference.ravel())[0, 1]
    wavelet_fast_seconds = batched_wavelet_seconds(loaded, image, args)

    print(f"{args.arch}, {loaded.input_size} px, grid {args.grid_size}, nb_design {args.nb_design}, levels {args.levels}: "
          f"{n_images} perturbed images, {torch.get_num_threads()} threads")
    print(f"batched WCAM (shiftlab):  {fast_seconds:.3f} s (median of {args.repeats})")
    print(f"per-mask pywt WCAM:       {baseline_seconds:.3f} s ({wavelet_seconds:.3f} s in pywt + mask building)")
    print(f"speed-up:                 {baseline_seconds / fast_seconds:.1f}x")
    print(f"correlation of the maps:  {correlation:.5f}")
    print(f"wavelet stage alone (masks + inverse transforms): batched {wavelet_fast_seconds:.3f} s, "
          f"per-mask pywt {wavelet_seconds:.3f} s ({wavelet_seconds / wavelet_fast_seconds:.0f}x)")
    print(f"model forward alone, batched as in shiftlab: {forward_seconds(loaded, n_images, loaded.input_size):.3f} s")


if __name__ == "__main__":
    main()
