"""The script that splits the PNG train archive for carrying to a GPU machine joins back to the same arrays."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from shiftlab.data import load_dataset

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "split_npz.py"


def load_script():
    spec = importlib.util.spec_from_file_location("split_npz", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_then_join_is_lossless(tmp_path):
    rng = np.random.default_rng(0)
    sizes = rng.integers(5, 40, 11)
    png = rng.integers(0, 256, sizes.sum(), dtype=np.uint8)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    original = {
        "png": png,
        "png_offsets": offsets,
        "labels": rng.integers(0, 10, 11),
        "filenames": np.array([f"f{i}" for i in range(11)]),
        "classes": np.array(list("abcdefghij")),
    }
    np.savez(tmp_path / "cifar10_train.npz", **original)
    script = load_script()
    parts = script.split(tmp_path / "cifar10_train.npz", tmp_path / "parts", parts=3)
    assert len(parts) == 3
    joined = script.join(tmp_path / "joined.npz", list(reversed(parts)))
    with np.load(joined) as back:
        for key, value in original.items():
            np.testing.assert_array_equal(back[key], value)


def test_joined_real_archive_loads(data_root, tmp_path):
    script = load_script()
    parts = script.split(data_root / "cifar10_train.npz", tmp_path, parts=3)
    script.join(tmp_path / "cifar10_train.npz", parts)
    joined = load_dataset("cifar10", "train", root=tmp_path, limit=20)
    original = load_dataset("cifar10", "train", root=data_root, limit=20)
    np.testing.assert_array_equal(joined.images, original.images)
