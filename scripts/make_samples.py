"""Build the class-balanced image samples embedded in ``shiftlab/_sample``.

Takes the first ``per_class`` test images of each class, in file order, from
the shared data folder, and keeps them in that order. Run once; the output is
committed so the app and the tests need no other data.

    python scripts/make_samples.py --root ../shared/data
"""

from __future__ import annotations

import argparse

import numpy as np

from shiftlab.data import SAMPLE_DIR, load_dataset


def balanced_indices(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` items of each label, sorted."""
    picks = [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def write_sample(name: str, root: str, per_class: int) -> None:
    ds = load_dataset(name, "test", root=root)
    idx = balanced_indices(ds.labels, per_class)
    out = SAMPLE_DIR / f"{name}_sample.npz"
    np.savez_compressed(
        out, images=ds.images[idx], labels=ds.labels[idx], classes=np.array(ds.classes), source_index=idx
    )
    print(f"{out}: {len(idx)} images, {out.stat().st_size / 1e6:.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, help="folder with cifar10_test.npz and cifar100_test.npz")
    args = parser.parse_args()
    write_sample("cifar10", args.root, per_class=50)
    write_sample("cifar100", args.root, per_class=5)


if __name__ == "__main__":
    main()
