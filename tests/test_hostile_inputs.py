"""Hostile and careless input: every case gets a typed ``ShiftlabError`` that says what to change, and nothing
outside the run folder changes (issue 14).

Each section reproduces one way a user can get it wrong, with files the test
writes itself. To add a case: write the file under ``tmp_path``, call the
public function or ``shiftlab.cli.main`` on it, and assert the error class and
the words of its message; for a command, also assert ``zoo_unchanged`` and,
when it runs in its default mode, ``repo_unchanged``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from shiftlab import cli
from shiftlab.attribution import attribute
from shiftlab.checkpoint import read_tensors
from shiftlab.data import load_dataset
from shiftlab.device import resolve_device
from shiftlab.errors import (
    AttributionError,
    CheckpointError,
    DatasetFormatError,
    ImageInputError,
    MetricInputError,
    ModelCardError,
    ParameterError,
    PublishError,
    RunStateError,
    ShiftlabError,
    UnknownDatasetError,
    UnknownModelError,
    UnknownVariantError,
    UnsafeCheckpointError,
)
from shiftlab.images import fit_to_model, load_image, read_image
from shiftlab.metrics.ood import energy_score
from shiftlab.models import ModelCard, checkpoint_root, load_model, read_card, save_checkpoint
from shiftlab.shifts import list_shifts
from shiftlab.shifts.ood import unavailable_reason
from shiftlab.training.config import TrainConfig
from shiftlab.training.state import STATE_FILE, read_state
from shiftlab.training.train import train
from shiftlab.zoo.evaluate import evaluate_clean
from shiftlab.zoo.publish import check_replaces, publish_run, zoo_weights

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints"
#: folders whose content changes as a side effect of running tests, not of shiftlab's commands
SCRATCH = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", "runs"}
TINY = ["--data", "cifar10-sample", "--limit", "64"]


def digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (scratch folders left out), by relative path."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SCRATCH]
        for name in filenames:
            path = Path(dirpath) / name
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def shipped_hashes() -> dict[str, str]:
    return digests(SHIPPED)


@pytest.fixture()
def repo_unchanged(shipped_hashes):
    """Asserts, after the test, that no file of the checkout changed and the shipped zoo's hashes are the same."""
    before = digests(REPO)
    yield
    after = digests(REPO)
    assert digests(SHIPPED) == shipped_hashes, "the shipped checkpoints changed"
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"files outside the run folder changed: {changed}"


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Run from ``tmp_path`` with the real zoo, so a command's default run folder (./runs) lands there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIFTLAB_CHECKPOINTS", raising=False)
    assert checkpoint_root() == SHIPPED
    return tmp_path


@pytest.fixture()
def zoo_copy(tmp_path, monkeypatch) -> Path:
    """A zoo folder holding a copy of the shipped resnet20/baseline (weights and card with full-test-set figures)."""
    folder = tmp_path / "zoo" / "cifar10" / "resnet20"
    folder.mkdir(parents=True)
    for suffix in (".safetensors", ".json"):
        shipped = SHIPPED / "cifar10" / "resnet20" / f"baseline{suffix}"
        (folder / f"baseline{suffix}").write_bytes(shipped.read_bytes())
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(tmp_path / "zoo"))
    return folder


def shiftlab(*argv: str) -> int:
    """``shiftlab ARGV`` as the command line runs it: 0, or 2 after printing a ShiftlabError."""
    return cli.main([str(a) for a in argv])


# 1. The shipped zoo changes only by an explicit, checked publish ------------------------------------------------

def test_train_evaluate_and_zoo_in_default_mode_write_only_their_run_folder(in_tmp, repo_unchanged, capsys):
    # trained on 8 images: an epoch of the default recipe (bf16 autocast, emulated on this CPU) on 64 took 3 s
    assert shiftlab("train", "--model", "resnet20/baseline", "--data", "cifar10-sample", "--limit", "8",
                    "--eval-data", "cifar10-sample", "--epochs", "1", "--no-progress", "--device", "cpu") == 0
    run = in_tmp / "runs" / "train" / "resnet20" / "baseline"
    assert sorted(p.name for p in run.iterdir()) == ["baseline.json", "baseline.safetensors", STATE_FILE]
    assert shiftlab("evaluate", "--model", "resnet20/baseline", *TINY, "--suite", "clean",
                    "--device", "cpu") == 0
    card = read_card(in_tmp / "runs" / "evaluate" / "resnet20" / "baseline.json")
    assert "cifar10-sample/test (64 of 500)" in card.measurements
    assert card.figure("accuracy") == read_card(SHIPPED / "cifar10" / "resnet20" / "baseline.json").figure("accuracy")
    assert shiftlab("zoo") == 0
    assert "| resnet20 | baseline | cifar10 | 91.03% |" in capsys.readouterr().out


def test_publishing_a_run_measured_on_other_data_is_refused(zoo_copy, tmp_path, capsys):
    before = digests(zoo_copy)
    assert shiftlab("train", "--model", "resnet20/baseline", *TINY, "--eval-data", "cifar10-sample",
                    "--epochs", "1", "--no-progress", "--device", "cpu", "--run-dir", tmp_path / "run",
                    "--publish") == 2
    error = capsys.readouterr().err
    assert "holds clean figures measured on cifar10/test; the new ones were measured on cifar10-sample/test" in error
    assert digests(zoo_copy) == before
    assert not (tmp_path / "run").exists(), "refused before training"


def test_publishing_subset_figures_over_full_test_set_figures_is_refused(zoo_copy, capsys):
    before = digests(zoo_copy)
    assert shiftlab("evaluate", "--model", "resnet20/baseline", *TINY, "--suite", "clean", "pgd",
                    "--device", "cpu", "--publish") == 2
    assert "would replace full-test-set figures" in capsys.readouterr().err
    assert digests(zoo_copy) == before


def test_a_subset_of_the_right_test_set_is_not_the_test_set():
    card = read_card(SHIPPED / "cifar10" / "resnet20" / "baseline.json")
    whole = card.reference_data("clean")
    check_replaces(card, "clean", whole, Path("card.json"))  # the same data: allowed
    with pytest.raises(PublishError, match=r"cifar10/test \(64 of 10000\)"):
        check_replaces(card, "clean", dataclasses.replace(whole, n=64, sha256="0" * 64), Path("card.json"))
    with pytest.raises(PublishError, match="pgd figures measured on cifar10/test \\(1000 of 10000\\)"):
        check_replaces(card, "pgd", whole, Path("card.json"))


def test_a_new_variant_publishes_into_an_empty_zoo(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(tmp_path / "zoo"))
    card = ModelCard("resnet20", "baseline", dataset="cifar10")
    untrained = load_model("resnet20", None, device="cpu").model
    card.record(evaluate_clean(untrained, load_dataset("cifar10-sample", limit=64)))
    run = save_checkpoint(load_model("resnet20", None, device="cpu").model.net, card, tmp_path / "run" / "baseline")
    weights = publish_run(run)
    assert weights == tmp_path / "zoo" / "cifar10" / "resnet20" / "baseline.safetensors"
    assert weights.read_bytes() == run.read_bytes()
    assert read_card(weights.with_suffix(".json")).figure("accuracy") is None, "sample figures are not test-set figures"


def test_a_card_must_key_its_figures_by_their_data():
    data = {"name": "cifar10", "split": "test", "n": 64, "of": 10000, "sha256": "0" * 64}
    with pytest.raises(ModelCardError, match="keyed by the data"):
        ModelCard.from_dict({"arch": "resnet20", "variant": "x", "measurements": {"cifar10/test": {"data": data}}})
    with pytest.raises(ModelCardError, match="unknown fields.*metrics"):
        ModelCard.from_dict({"arch": "resnet20", "variant": "x", "metrics": {"accuracy": 0.9}})


# 2. No image can cost more than a fixed, small amount of memory and time -------------------------------------------

def encode(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def png(width: int, height: int) -> bytes:
    return encode(Image.new("L", (width, height), 128))


def test_an_extreme_strip_is_refused_before_decoding():
    strip = png(200_000, 8)
    assert len(strip) < 5_000
    start = time.perf_counter()
    with pytest.raises(ImageInputError, match=r"200000×8 pixels, an aspect ratio of 25000:1; at most 16:1"):
        load_image(strip, 224)
    assert time.perf_counter() - start < 1.0
    with pytest.raises(ImageInputError, match="aspect ratio"):
        fit_to_model(np.zeros((8, 2000, 3), np.uint8), 224)


def test_resizing_reads_only_the_centre_square():
    wide = np.zeros((32, 512, 3), np.uint8)  # 16:1, the most elongated image taken
    wide[:, 240:272] = 255  # the centre square is white, the rest black
    out = fit_to_model(wide, 224)
    assert out.shape == (224, 224, 3) and out[:, 8:-8].min() == 255


def test_size_errors_say_what_happened():
    with pytest.raises(ImageInputError) as caught:
        read_image(png(7, 7))
    assert str(caught.value) == "image is 7×7 pixels, at least 8 needed on each side"


# 3. A corrupt data file is reported by name --------------------------------------------------------------------------

def sample_npz_bytes() -> bytes:
    sample = load_dataset("cifar10-sample", limit=20)
    buf = io.BytesIO()
    np.savez(buf, images=sample.images, labels=sample.labels, classes=np.array(sample.classes))
    return buf.getvalue()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_corrupt_npz_is_a_format_error_naming_the_file(tmp_path, damage):
    good = sample_npz_bytes()
    # seeded garbage: random bytes opening with 0x80 would read as a pickle and get the pickle refusal instead
    garbage = np.random.default_rng(0).bytes(2048)
    assert garbage[:1] != b"\x80" and garbage[:2] != b"PK"
    content = {"truncated": good[: len(good) // 2], "garbage": garbage, "empty": b""}[damage]
    (tmp_path / "cifar10_test.npz").write_bytes(content)
    with pytest.raises(DatasetFormatError, match=rf"{tmp_path / 'cifar10_test.npz'} is unreadable as cifar10 test"):
        load_dataset("cifar10", "test", root=tmp_path)


def test_a_garbage_ood_set_leaves_the_shift_list_working(tmp_path, monkeypatch):
    (tmp_path / "cifar100_test.npz").write_bytes(b"<html>not an archive</html>")
    monkeypatch.setenv("SHIFTLAB_DATA", str(tmp_path))
    shifts = list_shifts(kind="dataset", available_only=True)
    assert "ood_cifar100" not in shifts and "ood_gaussian" in shifts
    assert "cifar100_test.npz is unreadable" in unavailable_reason("ood_cifar100")


# 4. Files that are not checkpoints are called that; only a pickle with code is unsafe -------------------------------

FOREIGN = {
    "page.pth": (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "an HTML page"),
    "lfs.safetensors": (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1094272\n",
                        "a git-LFS pointer"),
    "picture.pt": (png(16, 16), "a PNG image"),
    "table.pth": (b"name,accuracy\nresnet20,0.91\n", "a text file"),
    "passwd.pth": (b"root:x:0:0:root:/root:/bin/bash\n", "a text file"),
    "noise.pth": (bytes(range(7, 256)) * 8, "binary data of no known checkpoint format"),
    "empty.pth": (b"", "an empty file"),
}


@pytest.mark.parametrize("name", FOREIGN)
def test_a_foreign_file_is_not_a_checkpoint(tmp_path, name):
    content, looks_like = FOREIGN[name]
    (tmp_path / name).write_bytes(content)
    with pytest.raises(CheckpointError,
                       match=f"{tmp_path / name} is not a checkpoint: it looks like {looks_like}") as caught:
        load_model("resnet20", checkpoint=tmp_path / name, device="cpu")
    assert not isinstance(caught.value, UnsafeCheckpointError)


def test_a_corrupt_pickle_is_corrupt_not_unsafe(tmp_path):
    (tmp_path / "broken.pth").write_bytes(b"\x80\x02" + bytes(range(256)) * 4)
    with pytest.raises(CheckpointError, match="is a corrupt pickle") as caught:
        read_tensors(tmp_path / "broken.pth")
    assert not isinstance(caught.value, UnsafeCheckpointError)


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("layout", ["zip", "legacy", "plain pickle"])
def test_only_a_pickle_that_imports_code_is_unsafe_and_it_never_runs(tmp_path, layout):
    marker, path = tmp_path / "ran", tmp_path / "evil.pth"
    payload = {"fc.weight": _RunsCode(marker)}
    if layout == "plain pickle":
        path.write_bytes(pickle.dumps(payload, protocol=4))
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=layout == "zip")
    with pytest.raises(UnsafeCheckpointError, match=r"needs code execution to load \(it imports .*pathlib"):
        read_tensors(path)
    assert not marker.exists()


def test_weights_that_are_nan_are_refused(tmp_path):
    state = load_model("resnet20", None, device="cpu").model.net.state_dict()
    save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()},
              str(tmp_path / "diverged.safetensors"))
    with pytest.raises(CheckpointError, match="holds NaN or infinite weights"):
        load_model("resnet20", checkpoint=tmp_path / "diverged.safetensors", device="cpu")


# 5. Silent wrong data becomes a format error -----------------------------------------------------------------------

def write_npz(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    np.savez(path, images=images, labels=labels, classes=np.array([f"c{i}" for i in range(10)]))
    return path


@pytest.mark.parametrize("images, labels, message", [
    (np.random.default_rng(0).random((4, 8, 8, 3), np.float32), np.arange(4),
     r"images are float32, expected uint8.*255"),
    (np.zeros((4, 8, 8, 3), np.uint8), np.array([0, 99, -5, 1]),
     r"labels must lie in 0..9 \(10 classes\); found -5, 99"),
    (np.zeros((4, 8, 8, 3), np.uint8), np.array([0.0, 1.5, 2.0, 3.0]),
     "labels must be a 1-D array of integer class indices"),
    (np.zeros((4, 8, 8), np.uint8), np.arange(4), "expected N×H×W×3 images"),
])
def test_arrays_that_would_load_as_wrong_data_are_refused(tmp_path, images, labels, message):
    path = write_npz(tmp_path / "cifar10_test.npz", images, labels)
    with pytest.raises(DatasetFormatError, match=f"{path}: .*{message}|{path} holds .*{message}"):
        load_dataset("cifar10", root=tmp_path)


def test_sixteen_bit_images_are_converted_by_bit_depth_not_content():
    dim = np.full((16, 16), 200, np.uint16)  # dark in 16 bits: 200/65535 of full scale
    with_highlight = dim.copy()
    with_highlight[0, 0] = 65535
    assert (read_image(encode(Image.fromarray(dim))) == 1).all()
    assert (read_image(encode(Image.fromarray(with_highlight)))[1:] == 1).all()


# 6. Resume is one atomic unit ----------------------------------------------------------------------------------------

def tiny_run(tmp_path: Path, **kw) -> TrainConfig:
    # float32: the zoo's bf16 autocast is emulated on CPUs without native bf16, 5x slower here; the run's state
    # files do not depend on it (test_hostile_cli's runs keep the default recipe)
    return TrainConfig(data="cifar10-sample", eval_data="cifar10-sample", limit=64, run_dir=str(tmp_path / "run"),
                       progress=False, overrides={"epochs": 2, "batch_size": 64, "precision": "float32"}, **kw)


def test_resume_without_a_saved_state_is_refused(tmp_path):
    with pytest.raises(RunStateError, match=f"nothing to resume: {tmp_path / 'run' / STATE_FILE} does not exist"):
        train(tiny_run(tmp_path, resume=True))
    assert not (tmp_path / "run").exists()


def test_the_state_is_one_file_and_resuming_says_from_which_epoch(tmp_path, capsys):
    train(tiny_run(tmp_path, stop_after=1))
    assert [p.name for p in (tmp_path / "run").iterdir()] == [STATE_FILE]
    assert read_state(tmp_path / "run" / STATE_FILE)[0].epochs_done == 1
    with pytest.raises(RunStateError, match="already holds a run.*--resume"):
        train(tiny_run(tmp_path))
    train(tiny_run(tmp_path, resume=True))
    assert "resuming resnet20/baseline from epoch 2 of 2" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "])
def test_a_corrupt_state_file_is_named(tmp_path, content):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / STATE_FILE).write_bytes(content)
    with pytest.raises(RunStateError, match=f"{tmp_path / 'run' / STATE_FILE} (is not a readable|holds no valid)"):
        train(tiny_run(tmp_path, resume=True))


# 7. Names become paths only after they are checked -----------------------------------------------------------------

@pytest.mark.parametrize("call, error", [
    (lambda: load_model("resnet20", "../../../../tmp/x", device="cpu"), UnknownVariantError),
    (lambda: load_model("../resnet20", "baseline", device="cpu"), UnknownModelError),
    (lambda: TrainConfig(variant="../../evil").recipe(), UnknownVariantError),
    (lambda: TrainConfig(arch="../evil").recipe(), UnknownModelError),
    (lambda: zoo_weights("resnet20", "../../evil"), UnknownVariantError),
    (lambda: zoo_weights("/tmp/evil", "baseline"), UnknownModelError),
])
def test_names_that_would_escape_the_zoo_are_refused(call, error):
    with pytest.raises(error):
        call()


def test_evaluate_refuses_a_path_as_variant(in_tmp, repo_unchanged, capsys):
    assert shiftlab("evaluate", "--model", "resnet20/..", *TINY, "--device", "cpu") == 2
    assert "variant names are letters, digits" in capsys.readouterr().err
    assert not (in_tmp / "runs").exists()


@pytest.mark.parametrize("name", ["../checkpoints", "[x](http://127.0.0.1/)", "a\nb"],
                         ids=["path", "markup", "newline"])
def test_sweep_takes_only_a_registered_folder_as_ood_folder(name, in_tmp, repo_unchanged, capsys):
    assert shiftlab("sweep", "--models", "resnet20/baseline", "--data", "cifar10-sample", "--ood-folder", name,
                    "--out", in_tmp / "sweep") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no image folder" in err, err
    assert not (in_tmp / "sweep").exists()


# 8. Every other error a user can cause is typed and says what to change --------------------------------------------

@pytest.fixture(scope="module")
def untrained():
    return load_model("resnet20", None, device="cpu")


@pytest.fixture(scope="module")
def one_image():
    return load_dataset("cifar10-sample", limit=1).images


CASES = {
    "unknown dataset": (lambda m, x: load_dataset("imagenet"), UnknownDatasetError,
                        "unknown dataset 'imagenet'; known: cifar10"),
    "unhashable dataset": (lambda m, x: load_dataset(["cifar10"]), UnknownDatasetError, "unknown dataset"),
    "unknown split": (lambda m, x: load_dataset("cifar100", "train"), UnknownDatasetError,
                      "has no split 'train'; it has: test"),
    "limit zero": (lambda m, x: load_dataset("cifar10-sample", limit=0), ParameterError,
                   "limit must be a positive whole number"),
    "limit float": (lambda m, x: load_dataset("cifar10-sample", limit=1.5), ParameterError, "got 1.5"),
    "limit text": (lambda m, x: load_dataset("cifar10-sample", limit="5"), ParameterError, "got '5'"),
    "unknown device": (lambda m, x: resolve_device("gpu"), ParameterError, "unknown device 'gpu': use 'auto', 'cpu'"),
    "other torch device": (lambda m, x: resolve_device("meta"), ParameterError, "unknown device 'meta'"),
    "no device": (lambda m, x: resolve_device(None), ParameterError, "unknown device None"),
    "wcam seed": (lambda m, x: attribute(m, x, "wcam", seed=-1, nb_design=2, grid_size=4), AttributionError,
                  "seed must be an integer >= 0, got -1"),
    "wcam approximation": (lambda m, x: attribute(m, x, "wcam", approximation="no"), AttributionError,
                           "approximation must be True or False, got 'no'"),
    "grad-cam on a vector": (lambda m, x: attribute(m, x, "gradcam", layer="net.fc"), AttributionError,
                             "not a spatial N×C×H×W feature map; choose a convolutional layer"),
    "energy nan": (lambda m, x: energy_score(np.zeros((2, 3)), float("nan")), MetricInputError,
                   "temperature must be a positive finite number"),
    "energy zero": (lambda m, x: energy_score(np.zeros((2, 3)), 0), MetricInputError, "got 0"),
}


@pytest.mark.parametrize("case", CASES)
def test_untyped_errors_are_typed(case, untrained, one_image):
    call, error, message = CASES[case]
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        call(untrained, one_image)
    assert isinstance(caught.value, ShiftlabError)


def test_every_user_error_is_a_shiftlab_error():
    """The command line prints a ShiftlabError as one line (exit 2) instead of a traceback."""
    for error in (PublishError, RunStateError, DatasetFormatError, CheckpointError, ImageInputError, ModelCardError):
        assert issubclass(error, ShiftlabError)


# ---------------------------------------------------------------- users' models files and image folders


@pytest.mark.parametrize("classes", [['[x](http://evil.example)', "dog"], ["<b>cat</b>", "dog"], ["cat", "a" * 101],
                                     ["cat", ":red[dog]"]])
def test_a_models_file_class_name_that_is_markup_is_refused(tmp_path, classes):
    from shiftlab.errors import ModelsFileError
    from shiftlab.models.models_file import read_models_file

    (tmp_path / "w.pth").write_bytes(b"x")
    path = tmp_path / "m.toml"
    path.write_text(f'[models.pets]\nsource = "torchvision:resnet18"\nclasses = {classes!r}\ninput_size = 32\n'
                    'mean = [0.5, 0.5, 0.5]\nstd = [0.5, 0.5, 0.5]\n[models.pets.variants]\nbaseline = "w.pth"\n'
                    .replace("'", '"'))
    with pytest.raises(ModelsFileError, match="classes must be a list of names"):
        read_models_file(path)


def test_a_folder_whose_class_is_markup_is_refused(tmp_path):
    from shiftlab.folders import list_folder

    (tmp_path / "[a](http:evil)").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "[a](http:evil)" / "0.png")
    with pytest.raises(DatasetFormatError, match="is not a class name"):
        list_folder(tmp_path)


def test_fifos_and_huge_files_as_models_file_or_labels_return_at_once(tmp_path):
    from shiftlab.errors import ModelsFileError
    from shiftlab.folders import list_folder
    from shiftlab.models.models_file import read_models_file

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "huge.toml").write_bytes(b"#" * 1_000_001)
    start = time.perf_counter()
    for path, message in ((tmp_path / "fifo", "no such models file"), (tmp_path / "huge.toml", "at most")):
        with pytest.raises(ModelsFileError, match=message):
            read_models_file(path)
    with pytest.raises(DatasetFormatError, match="not a regular file"):
        list_folder(tmp_path, tmp_path / "fifo")
    assert time.perf_counter() - start < 1.0
