"""Image folders as datasets: the three layouts, class order, corrupt and foreign files, lazy decoding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from shiftlab.errors import DatasetFormatError, ImageInputError
from shiftlab.folders import DECODED_KEPT, NO_LABEL, FolderImages, list_folder


def write_image(path, seed: int, size=(40, 30)) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


@pytest.fixture
def class_folders(tmp_path):
    for i in range(3):
        write_image(tmp_path / "photos" / "dog" / f"d{i}.png", i)
        write_image(tmp_path / "photos" / "cat" / f"c{i}.jpg", 10 + i)
    (tmp_path / "photos" / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "photos" / ".hidden").mkdir()
    return tmp_path / "photos"


def test_class_subfolders_are_the_classes_sorted_and_a_foreign_file_is_skipped(class_folders):
    listing = list_folder(class_folders)
    assert listing.classes == ["cat", "dog"]
    assert [p.name for p in listing.files] == ["c0.jpg", "c1.jpg", "c2.jpg", "d0.png", "d1.png", "d2.png"]
    assert listing.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert [(s.path.name, s.reason) for s in listing.skipped] == [
        ("notes.txt", "not a PNG, JPEG, GIF, BMP, TIFF or WebP image")]


def test_a_models_class_order_orders_the_labels(class_folders):
    listing = list_folder(class_folders, class_order=["dog", "cat"])
    assert listing.classes == ["dog", "cat"]
    assert listing.labels.tolist() == [1, 1, 1, 0, 0, 0]
    wider = list_folder(class_folders, class_order=["fox", "dog", "cat"])  # a model's classes the folder lacks one of
    assert wider.classes == ["fox", "dog", "cat"] and wider.labels.tolist() == [2, 2, 2, 1, 1, 1]
    other = list_folder(class_folders, class_order=["dog", "fox"])  # not every class found: sorted names
    assert other.classes == ["cat", "dog"]


def test_a_flat_folder_with_a_labels_csv(tmp_path):
    for i in range(4):
        write_image(tmp_path / "flat" / f"{i}.png", i)
    (tmp_path / "labels.csv").write_text("file,label\n0.png,fox\n1.png,cat\n3.png,fox\n")
    listing = list_folder(tmp_path / "flat", tmp_path / "labels.csv")
    assert [p.name for p in listing.files] == ["0.png", "1.png", "3.png"]
    assert listing.classes == ["cat", "fox"] and listing.labels.tolist() == [1, 0, 1]


@pytest.mark.parametrize("rows, message", [
    ("a.png\n", "row 1 is not"),
    ("../outside.png,cat\n", "lies outside"),
    ("a.png,\n", "row 1 is not"),
])
def test_a_bad_labels_csv_is_a_dataset_format_error(tmp_path, rows, message):
    (tmp_path / "flat").mkdir()
    (tmp_path / "labels.csv").write_text(rows)
    with pytest.raises(DatasetFormatError, match=message):
        list_folder(tmp_path / "flat", tmp_path / "labels.csv")


def test_an_unlabelled_flat_folder(tmp_path):
    for i in range(3):
        write_image(tmp_path / f"{i}.png", i)
    listing = list_folder(tmp_path)
    assert not listing.labelled and listing.classes == []
    assert listing.labels.tolist() == [NO_LABEL] * 3


def test_images_are_decoded_on_access_fitted_and_upright(tmp_path):
    pixels = write_image(tmp_path / "a.png", 0, size=(60, 30))
    images = FolderImages(list_folder(tmp_path).files, 16)
    assert images.shape == (1, 16, 16, 3) and len(images) == 1 and not images._decoded
    one = images[0]
    assert one.shape == (16, 16, 3) and one.dtype == np.uint8
    expected = np.array(ImageOps.fit(Image.fromarray(pixels), (16, 16), Image.BILINEAR))  # centre square, resized
    assert np.array_equal(one, expected)
    assert images[[0, 0]].shape == (2, 16, 16, 3) and np.asarray(images).shape == (1, 16, 16, 3)
    with pytest.raises(IndexError):
        images[1]


def test_exif_orientation_is_honoured(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(pixels).save(tmp_path / "r.jpg", exif=exif, quality=95)
    upright = FolderImages(list_folder(tmp_path).files, 20)[0]
    assert upright.shape == (20, 20, 3)
    assert upright[:5].mean() > 200 and upright[-5:].mean() < 50  # the left half is now on top


def test_a_truncated_file_is_named_when_decoded(tmp_path):
    write_image(tmp_path / "good.png", 0)
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 3])
    images = FolderImages(list_folder(tmp_path).files, 16)
    images[0]
    with pytest.raises(ImageInputError, match="truncated.png"):
        images[1]


def test_decoded_images_kept_are_bounded(tmp_path):
    write_image(tmp_path / "a.png", 0)
    images = FolderImages(list_folder(tmp_path).files * (DECODED_KEPT + 5), 8)
    images[:]
    assert len(images._decoded) == DECODED_KEPT


def test_the_digest_changes_with_a_files_bytes(tmp_path):
    write_image(tmp_path / "a.png", 0)
    write_image(tmp_path / "b.png", 1)
    before = FolderImages(list_folder(tmp_path).files, 8).digest()
    write_image(tmp_path / "b.png", 2)
    assert FolderImages(list_folder(tmp_path).files, 8).digest() != before
