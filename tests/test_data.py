"""Every dataset format load_dataset reads: shapes, dtypes, class counts, and clear errors."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from scipy.io import savemat

from shiftlab.data import ImageDataset, load_dataset
from shiftlab.dataset_files import CIFAR10_CLASSES
from shiftlab.errors import DatasetFormatError, DatasetNotFoundError


def assert_image_set(ds, n: int, n_classes: int) -> None:
    assert ds.images.shape == (n, 32, 32, 3)
    assert ds.images.dtype == np.uint8
    assert ds.labels.shape == (n,) and ds.labels.dtype == np.int64
    assert len(ds.classes) == n_classes
    assert ds.labels.min() >= 0 and ds.labels.max() < n_classes


def test_embedded_samples_are_class_balanced():
    c10 = load_dataset("cifar10-sample")
    assert_image_set(c10, 500, 10)
    assert c10.classes == CIFAR10_CLASSES
    assert np.bincount(c10.labels).tolist() == [50] * 10
    c100 = load_dataset("cifar100-sample")
    assert_image_set(c100, 500, 100)
    assert np.bincount(c100.labels, minlength=100).tolist() == [5] * 100
    assert c100.classes[0] == "apple" and c100.classes[-1] == "worm"


def test_embedded_sample_needs_no_data_folder(monkeypatch):
    monkeypatch.delenv("SHIFTLAB_DATA", raising=False)
    assert len(load_dataset("cifar10-sample", limit=7)) == 7


def test_shared_cifar10_test(data_root):
    ds = load_dataset("cifar10", "test", root=data_root)
    assert_image_set(ds, 10_000, 10)
    assert np.bincount(ds.labels).tolist() == [1000] * 10
    # published per-channel mean of the CIFAR-10 test set (shared/data README)
    np.testing.assert_allclose(ds.images.reshape(-1, 3).mean(0) / 255, [0.49421, 0.48513, 0.45041], atol=1e-4)


#: train images decoded here: the layout (concatenated PNGs and their offsets) is read the same way for every image;
#: decoding all 50,000 (7 s on 2 cores) is bench/bench_data.py's, which times the full splits and checks them too
TRAIN_DECODED = 1000


def test_shared_cifar10_train_png_layout(data_root):
    ds = load_dataset("cifar10", "train", root=data_root, limit=TRAIN_DECODED)
    assert_image_set(ds, TRAIN_DECODED, 10)
    assert ds.split_size == 50_000 and np.bincount(ds.labels, minlength=10).min() > 0
    with np.load(data_root / "cifar10_train.npz") as archive:  # every label, read without decoding an image
        assert np.bincount(archive["labels"]).tolist() == [5000] * 10
        np.testing.assert_array_equal(archive["labels"][:TRAIN_DECODED], ds.labels)
    first = load_dataset("cifar10", "train", root=data_root, limit=64)
    np.testing.assert_array_equal(first.images, ds.images[:64])


def test_shared_cifar100_and_svhn(data_root):
    c100 = load_dataset("cifar100", "test", root=data_root)
    assert_image_set(c100, 10_000, 100)
    assert np.bincount(c100.labels).tolist() == [100] * 100
    svhn = load_dataset("svhn", "test", root=data_root)
    assert_image_set(svhn, 10_000, 10)
    assert np.bincount(svhn.labels).tolist() == [684, 1968, 1590, 1104, 964, 909, 773, 767, 621, 620]
    assert svhn.labels[:4].tolist() == [5, 2, 1, 0]


def test_env_var_is_the_default_root(data_root, monkeypatch):
    monkeypatch.setenv("SHIFTLAB_DATA", str(data_root))
    assert len(load_dataset("svhn", limit=3)) == 3


def _write_cifar_pickle(path, payload: dict) -> None:
    with open(path, "wb") as fh:
        pickle.dump({k.encode(): v for k, v in payload.items()}, fh)


def _rows(images: np.ndarray) -> np.ndarray:
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def test_torchvision_cifar10_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8) for _ in range(6)]
    for i, images in enumerate(batches[:5], start=1):
        _write_cifar_pickle(folder / f"data_batch_{i}", {"data": _rows(images), "labels": [i, 0, 9, 3]})
    _write_cifar_pickle(folder / "test_batch", {"data": _rows(batches[5]), "labels": [1, 2, 3, 4]})
    _write_cifar_pickle(folder / "batches.meta", {"label_names": [c.encode() for c in CIFAR10_CLASSES]})

    train = load_dataset("cifar10", "train", root=tmp_path)
    assert_image_set(train, 20, 10)
    np.testing.assert_array_equal(train.images[4:8], batches[1])
    assert train.labels[4:8].tolist() == [2, 0, 9, 3]
    test = load_dataset("cifar10", "test", root=tmp_path, limit=3)
    np.testing.assert_array_equal(test.images, batches[5][:3])
    assert test.classes == CIFAR10_CLASSES


def test_torchvision_cifar100_folder(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    images = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    _write_cifar_pickle(folder / "test",
                        {"data": _rows(images), "fine_labels": [0, 99, 5, 5, 42], "coarse_labels": [0] * 5})
    _write_cifar_pickle(folder / "meta", {"fine_label_names": [f"c{i}".encode() for i in range(100)]})
    ds = load_dataset("cifar100", "test", root=tmp_path)
    assert_image_set(ds, 5, 100)
    np.testing.assert_array_equal(ds.images, images)
    assert ds.labels.tolist() == [0, 99, 5, 5, 42]


def test_svhn_official_mat_layout(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    y = np.array([[10], [1], [2], [10], [9], [5]], dtype=np.uint8)  # 10 means digit 0
    savemat(tmp_path / "test_32x32.mat", {"X": images.transpose(1, 2, 3, 0), "y": y})
    ds = load_dataset("svhn", "test", root=tmp_path)
    assert_image_set(ds, 6, 10)
    np.testing.assert_array_equal(ds.images, images)
    assert ds.labels.tolist() == [0, 1, 2, 0, 9, 5]
    assert ds.classes == [str(d) for d in range(10)]


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/shiftlab_pwned_data",))


def test_hostile_cifar_batch_is_refused_without_running_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": _RunsCode(), b"labels": [0]}, fh)
    marker = "/tmp/shiftlab_pwned_data"
    if os.path.exists(marker):
        os.remove(marker)
    with pytest.raises(DatasetFormatError, match="refusing"):
        load_dataset("cifar10", "test", root=tmp_path)
    assert not os.path.exists(marker)


def test_corrupt_npz_is_a_format_error(tmp_path):
    (tmp_path / "svhn_test.npz").write_bytes(b"not a zip file")
    with pytest.raises(DatasetFormatError, match="svhn_test.npz"):
        load_dataset("svhn", root=tmp_path)


def test_missing_dataset_says_what_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("cifar100", "test", root=tmp_path)
    message = str(err.value)
    assert "cifar100" in message and str(tmp_path / "cifar100_test.npz") in message
    assert "SHIFTLAB_DATA" in message and "download=True" in message


def test_missing_root_mentions_env_var(monkeypatch):
    monkeypatch.delenv("SHIFTLAB_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match="SHIFTLAB_DATA"):
        load_dataset("svhn")


@pytest.mark.parametrize("name, split", [("imagenet", "test"), ("svhn", "train"), ("cifar100", "train")])
def test_unknown_name_or_split(name, split):
    with pytest.raises(ValueError, match="unknown dataset|no split"):
        load_dataset(name, split)


def test_download_goes_through_torchvision(tmp_path, monkeypatch):
    """download=True hands the folder to torchvision, then reads what it wrote (no network here)."""
    import torchvision.datasets as tvd

    images = np.zeros((2, 32, 32, 3), np.uint8)

    def fake_cifar10(root, train, download):
        assert download and not train
        folder = tmp_path / "cifar-10-batches-py"
        folder.mkdir()
        _write_cifar_pickle(folder / "test_batch", {"data": _rows(images), "labels": [3, 4]})

    monkeypatch.setattr(tvd, "CIFAR10", fake_cifar10)
    ds = load_dataset("cifar10", "test", root=tmp_path, download=True)
    assert ds.labels.tolist() == [3, 4]


def test_failed_download_is_a_not_found_error(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    def offline(*args, **kwargs):
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(tvd, "SVHN", offline)
    with pytest.raises(DatasetNotFoundError, match="could not download"):
        load_dataset("svhn", root=tmp_path, download=True)


def test_subset_keeps_order():
    ds = load_dataset("cifar10-sample")
    sub = ds.subset([5, 2])
    np.testing.assert_array_equal(sub.images, ds.images[[5, 2]])
    assert sub.labels.tolist() == ds.labels[[5, 2]].tolist()


def _labelled(labels: list[int]) -> ImageDataset:
    labels = np.asarray(labels, np.int64)
    return ImageDataset("hand", "test", np.zeros((len(labels), 2, 2, 3), np.uint8), labels, ["a", "b", "c"])


def test_first_per_class_goes_class_by_class():
    np.testing.assert_array_equal(_labelled([1, 0, 1, 1, 0, 2]).first_per_class(2), [1, 4, 0, 2, 5])
    assert _labelled([]).first_per_class(3).size == 0
