"""Benchmark shiftlab.shifts' corruptions against imagecorruptions-imaug, image for image the same work.

    python -m bench.bench_corruptions [--size 224] [--n 16] [--severity 3] [--threads 2] [--device cpu]
        [--repeat 3] [--min-seconds 0.25] [names ...]

Both corrupt the same images (the embedded CIFAR-10 sample, enlarged bicubically
when --size is not 32): shiftlab as one batch through ``apply``, the reference
one image at a time through ``imagecorruptions.corrupt`` (which always uses the
ImageNet-C parameters, also at 32 px, while shiftlab uses the CIFAR-10-C ones
there). Each side is warmed up on one image first (numba compilation, frost
textures, cached filter matrices), then timed at least ``--repeat`` times and for
at least ``--min-seconds``, keeping the fastest run (on a shared machine the other
runs measure the neighbours; a corruption of a few milliseconds gets dozens of
runs, so that one stall does not decide its ratio). Prints images per second
for both, their ratio per corruption, and the ratio of the total times. Needs
the test-only requirements (requirements-test.txt).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from PIL import Image

from shiftlab.data import load_dataset
from shiftlab.device import resolve_device
from shiftlab.shifts import apply, list_shifts


def images(size: int, n: int) -> np.ndarray:
    small = load_dataset("cifar10-sample").images[:n]
    if size == 32:
        return small
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BICUBIC)) for im in small])


def timed(fn, repeat: int = 1, min_seconds: float = 0.0) -> float:
    """The fastest run of ``fn``, in seconds, over at least ``repeat`` runs and at least ``min_seconds`` in all."""
    best, spent, runs = float("inf"), 0.0, 0
    while runs < repeat or spent < min_seconds:
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        best, spent, runs = min(best, took), spent + took, runs + 1
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="corruptions to time (default: all 19)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--n", type=int, default=16, help="images per corruption")
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per side at least; the fastest counts")
    parser.add_argument("--min-seconds", type=float, default=0.25,
                        help="each side runs at least this long in all (a few-ms corruption gets dozens of runs)")
    args = parser.parse_args()
    from imagecorruptions import corrupt  # test-only dependency

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    batch = images(args.size, args.n)
    names = args.names or list_shifts(kind="corruption")
    warnings.simplefilter("ignore")
    print(f"{args.n} images of {args.size}×{args.size}, severity {args.severity}, shiftlab on {device} "
          f"({torch.get_num_threads()} threads)")
    print(f"{'corruption':18s} {'shiftlab img/s':>14s} {'reference img/s':>15s} {'ratio':>7s}")
    totals = np.zeros(2)
    for name in names:
        apply(name, batch[:1], args.severity, device=device)
        corrupt(batch[0], args.severity, name)
        ours = timed(lambda name=name: apply(name, batch, args.severity, device=device), args.repeat,
                     args.min_seconds)  # numpy results: synced
        theirs = timed(lambda name=name: [corrupt(im, args.severity, name) for im in batch], args.repeat,
                       args.min_seconds)
        totals += (ours, theirs)
        print(f"{name:18s} {args.n / ours:14.1f} {args.n / theirs:15.1f} {theirs / ours:6.1f}x")
    print(f"{'all':18s} {len(names) * args.n / totals[0]:14.1f} {len(names) * args.n / totals[1]:15.1f} "
          f"{totals[1] / totals[0]:6.1f}x  (total {totals[0]:.2f} s vs {totals[1]:.2f} s)")


if __name__ == "__main__":
    main()
