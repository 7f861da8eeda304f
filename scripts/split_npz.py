"""Split the PNG-layout CIFAR-10 train archive into parts small enough to carry, and join them back.

A GPU machine is reached with at most 64 MiB per call (work tree included), and
the 106 MiB ``cifar10_train.npz`` does not fit. Split it here into parts that fit
beside the work tree (2 parts of 58 MiB beside a 5 MiB tree; 3 of 39 MiB, the
default, beside a larger one), carry one part per call (``.device-data/`` is
git-ignored) and copy it to a folder outside the work tree, then join the parts
there (``scripts/zoo_gpu.sh`` does these steps):

    python scripts/split_npz.py split ../shared/data/cifar10_train.npz .device-data/
    # one call per part: cp .device-data/cifar10_train.partK.npz /tmp/data/ ; then on the device:
    python scripts/split_npz.py join /tmp/data/cifar10_train.npz /tmp/data/cifar10_train.part*.npz

The joined archive is identical in content to the original (same arrays, same
order), so ``load_dataset("cifar10", "train", root="/tmp/data")`` reads it as usual.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def split(source: Path, out_dir: Path, parts: int = 3) -> list[Path]:
    """Write consecutive slices of the images (PNG bytes, labels, names) as ``parts`` archives."""
    with np.load(source, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    offsets = arrays["png_offsets"]
    n = len(offsets) - 1
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    bounds = np.linspace(0, n, parts + 1).astype(int)
    for part, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        piece = {
            "png": arrays["png"][offsets[lo] : offsets[hi]],
            "png_offsets": offsets[lo : hi + 1] - offsets[lo],
            "labels": arrays["labels"][lo:hi],
            "filenames": arrays["filenames"][lo:hi],
            "classes": arrays["classes"],
        }
        path = out_dir / f"{source.stem}.part{part}.npz"
        np.savez(path, **piece)
        paths.append(path)
    return paths


def join(target: Path, pieces: list[Path]) -> Path:
    """Concatenate the parts written by ``split`` (in part order) back into one archive."""
    pieces = sorted(pieces, key=lambda p: int(p.stem.rsplit("part", 1)[1]))
    loaded = [dict(np.load(p, allow_pickle=False)) for p in pieces]
    starts = np.cumsum([0] + [int(a["png_offsets"][-1]) for a in loaded[:-1]])
    total = starts[-1] + loaded[-1]["png_offsets"][-1]
    offsets = np.concatenate([a["png_offsets"][:-1] + start for a, start in zip(loaded, starts)] + [[total]])
    np.savez(
        target,
        png=np.concatenate([a["png"] for a in loaded]),
        png_offsets=offsets,
        labels=np.concatenate([a["labels"] for a in loaded]),
        filenames=np.concatenate([a["filenames"] for a in loaded]),
        classes=loaded[0]["classes"],
    )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("split")
    s.add_argument("source", type=Path)
    s.add_argument("out_dir", type=Path)
    s.add_argument("--parts", type=int, default=3)
    j = sub.add_parser("join")
    j.add_argument("target", type=Path)
    j.add_argument("pieces", type=Path, nargs="+")
    args = parser.parse_args()
    written = (split(args.source, args.out_dir, args.parts) if args.command == "split"
               else [join(args.target, args.pieces)])
    for path in written:
        print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
