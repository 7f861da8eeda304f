"""The shared datasets read whole: every image of each split decoded, timed and checked.

    python -m bench.bench_data [--root ../shared/data]

``tests/test_data.py`` decodes the first 1,000 PNGs of CIFAR-10's train split (the layout is read the same way for
every image) and counts the labels of all 50,000; this decodes all of them (7 s on 2 cores), and each test split,
and checks every split's size, image shape and type and its images per class. Exits with status 1 when a split
does not hold what it should.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from bench.bench_cards import SHARED_DATA
from shiftlab.data import load_dataset

#: (name, split) -> images per class, in class order
CLASS_COUNTS = {
    ("cifar10", "train"): [5000] * 10,
    ("cifar10", "test"): [1000] * 10,
    ("cifar100", "test"): [100] * 100,
    ("svhn", "test"): [684, 1968, 1590, 1104, 964, 909, 773, 767, 621, 620],
}


def read_whole(name: str, split: str, root: Path) -> tuple[float, list[str]]:
    """Seconds to load every image of ``name``'s ``split``, and what is wrong with it (empty if nothing)."""
    start = time.perf_counter()
    dataset = load_dataset(name, split, root=root)
    seconds = time.perf_counter() - start
    counts = CLASS_COUNTS[name, split]
    problems = []
    if dataset.images.shape != (sum(counts), 32, 32, 3) or dataset.images.dtype != np.uint8:
        problems.append(f"images {dataset.images.dtype} {dataset.images.shape}, not uint8 ({sum(counts)}, 32, 32, 3)")
    if np.bincount(dataset.labels, minlength=len(counts)).tolist() != counts:
        problems.append("images per class are not " + ", ".join(map(str, counts[:3])) + ", …")
    return seconds, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=os.environ.get("SHIFTLAB_DATA") or SHARED_DATA)
    args = parser.parse_args()
    failed = False
    for name, split in CLASS_COUNTS:
        seconds, problems = read_whole(name, split, args.root)
        print(f"{name}/{split}: {seconds:.1f} s, " + ("; ".join(problems) or "as it should be"))
        failed = failed or bool(problems)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
