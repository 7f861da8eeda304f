"""Hostile and careless input at the command line, the zoo, model cards, checkpoints and training (issue 23).

Every case runs ``shiftlab.cli.main`` in-process (subprocesses only for Ctrl-C
and a closed pipe) or the public function behind it, and asserts the exit
status, the one line the command prints and that nothing was written where it
should not be: the shipped ``checkpoints/`` and README are checked after every
test (``shipped_unchanged``), the working folder's listing where a command is
refused before any work (``nothing_written``). Sections follow the boundary:
1. train flags, 2. evaluate flags, 3. reference data by content, 4. figures
tied to their weights, 5. card fields and configs, 6. weights dtypes,
7. the README tables, 8. a broken zoo on the pages, 9. clean exits.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from streamlit.testing.v1 import AppTest

from shiftlab import cli
from shiftlab.app.text import plain
from shiftlab.data import Fingerprint, fingerprint, load_dataset
from shiftlab.dataset_files import CIFAR10_CLASSES
from shiftlab.errors import CheckpointError, ModelCardError, ParameterError, PublishError
from shiftlab.models import ModelCard, build_model, load_model, read_card, save_checkpoint, zoo_card
from shiftlab.models.cards import WEIGHTS_CHANGED
from shiftlab.models.measurements import REFERENCE_SHA256, CleanFigures, Figures, SuiteResult, data_key, is_reference
from shiftlab.training import train as _train  # noqa: F401  (imported once here, so refusals time no imports)
from shiftlab.zoo import tables
from shiftlab.zoo.publish import publish_run

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints"
RESNET20 = SHIPPED / "cifar10" / "resnet20"
README = REPO / "README.md"
PAGES = REPO / "app_pages"
TRAIN = ["train", "--data", "cifar10-sample", "--eval-data", "cifar10-sample", "--limit", "8", "--epochs", "1",
         "--batch-size", "8", "--no-progress", "--device", "cpu"]
EVALUATE = ["evaluate", "--model", "resnet20/baseline", "--data", "cifar10-sample", "--limit", "64", "--suite", "clean",
            "--device", "cpu"]


def shipped_state() -> dict[str, tuple[int, int]]:
    """(size, modification time) of every shipped file and README: any write changes one of them."""
    files = [*SHIPPED.rglob("*"), README]
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.is_file()}


def shipped_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted([*SHIPPED.rglob("*"), README]):
        if path.is_file():
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module", autouse=True)
def shipped_bytes_unchanged():
    """The shipped zoo and README have the same bytes after the whole file as before it."""
    before = shipped_digest()
    yield
    assert shipped_digest() == before, "checkpoints/ or README.md changed"


@pytest.fixture(autouse=True)
def shipped_unchanged(tmp_path, monkeypatch):
    """Every test runs in its own folder with the shipped zoo, and leaves the zoo and README as they were."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIFTLAB_CHECKPOINTS", raising=False)
    before = shipped_state()
    yield
    assert shipped_state() == before, "checkpoints/ or README.md changed"


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture()
def nothing_written(tmp_path):
    """Asserts that the test's folder holds after the test what it held before (the refused command wrote nothing)."""
    before = listing(tmp_path)
    yield
    assert listing(tmp_path) == before


def shiftlab(capsys, *argv) -> tuple[int, str, str]:
    """``shiftlab ARGV`` in-process: (exit status, stdout, stderr); argparse's own exits included."""
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def refused(capsys, argv: list, message: str, status: int = 2) -> str:
    """Run ``argv``; assert ``status`` and one stderr line, naming the command, that holds ``message`` (after
    the epoch lines training prints)."""
    code, _, err = shiftlab(capsys, *argv)
    lines = [line for line in err.strip().splitlines() if not line.startswith('{"epoch"')]
    assert code == status, err
    assert len(lines) == 1 and lines[0].startswith(f"shiftlab {argv[0]}: "), err
    assert message in lines[0], lines[0]
    return lines[0]


def copy_zoo(root: Path, variants=("baseline",), arch: str = "resnet20") -> Path:
    """A zoo under ``root`` with copies of shipped variants; returns the architecture's folder."""
    folder = root / "cifar10" / arch
    folder.mkdir(parents=True, exist_ok=True)
    for variant in variants:
        for suffix in (".safetensors", ".json"):
            shutil.copyfile(SHIPPED / "cifar10" / arch / f"{variant}{suffix}", folder / f"{variant}{suffix}")
    return folder


@pytest.fixture()
def zoo(tmp_path, monkeypatch) -> Path:
    """A zoo holding a copy of resnet20/baseline; returns resnet20's folder."""
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(tmp_path / "zoo"))
    return copy_zoo(tmp_path / "zoo")


def edit_card(path: Path, **fields) -> None:
    card = json.loads(path.read_text())
    card.update(fields)
    path.write_text(json.dumps(card))


# 1. train: every flag bounded before any data is read ----------------------------------------------------------

TRAIN_CASES = {
    "batch size 0": (["--batch-size", "0"], "--batch-size must be a whole number from 1 to 4096, got 0"),
    "batch size -1": (["--batch-size", "-1"], "--batch-size must be a whole number from 1 to 4096, got -1"),
    "batch size huge": (["--batch-size", "100000000"], "--batch-size must be a whole number from 1 to 4096"),
    "label smoothing 5": (["--label-smoothing", "5"],
                          "--label-smoothing must be a number from 0.0 to below 1.0, got 5.0"),
    "label smoothing 1": (["--label-smoothing", "1"],
                          "--label-smoothing must be a number from 0.0 to below 1.0, got 1.0"),
    "label smoothing -0.1": (["--label-smoothing", "-0.1"], "got -0.1"),
    "label smoothing nan": (["--label-smoothing", "nan"], "got nan"),
    "epochs 0": (["--epochs", "0"], "--epochs must be a whole number from 1 to 1000, got 0"),
    "epochs -3": (["--epochs", "-3"], "--epochs must be a whole number from 1 to 1000, got -3"),
    "epochs huge": (["--epochs", "10000000"], "--epochs must be a whole number from 1 to 1000"),
    "lr 0": (["--lr", "0"], "--lr must be a number above 0.0, at most 10.0, got 0.0"),
    "lr negative": (["--lr", "-1"], "--lr must be a number"),
    "lr inf": (["--lr", "inf"], "got inf"),
    "lr nan": (["--lr", "nan"], "got nan"),
    "weight decay negative": (["--weight-decay", "-1"], "--weight-decay must be a number from 0.0 to 1.0"),
    "weight decay nan": (["--weight-decay", "nan"], "--weight-decay must be a number"),
    "warmup negative": (["--warmup-epochs", "-1"], "--warmup-epochs must be a whole number from 0 to 1000"),
    "stop after -1": (["--stop-after", "-1"], "--stop-after must be a whole number of epochs >= 1, got -1"),
    "stop after 0": (["--stop-after", "0"], "--stop-after must be a whole number of epochs >= 1, got 0"),
    "seed 3000000000": (["--seed", "3000000000"], "--seed must be a whole number from 0 to 2147483647, got 3000000000"),
    "seed -1": (["--seed", "-1"], "--seed must be a whole number from 0 to 2147483647, got -1"),
    "limit 0": (["--limit", "0"], "limit must be a positive whole number of images"),
    "limit -5": (["--limit", "-5"], "got -5"),
    "init missing": (["--init", "/nonexistent.pt"], "--init /nonexistent.pt: not a file"),
    "init a folder": (["--init", "/"], "--init /: not a file"),
    "init a fifo": (["--init", "fifo.pt"], "--init fifo.pt: not a file"),
    "unknown data": (["--data", "imagenet"], "unknown dataset 'imagenet'; known: cifar10"),
    "unknown eval data": (["--eval-data", "nope"], "unknown dataset 'nope'"),
    "unknown arch": (["--model", "resnet9000/baseline"], "unknown model 'resnet9000'; known: resnet20"),
    "arch as a path": (["--model", "../baseline"], "unknown model '..'"),
    "imagenet arch": (["--model", "efficientnet_lite0/baseline"],
                      "trains the CIFAR-10 zoo; efficientnet_lite0 is a model of imagenet"),
    "unknown training variant": (["--model", "resnet20/vibes"], "unknown training variant 'vibes'; known: baseline"),
    "unknown device": (["--device", "gpu"], "unknown device 'gpu'"),
    "run dir a file": (["--run-dir", "afile"], "--run-dir afile: afile is a file, not a folder"),
    "run dir under a file": (["--run-dir", "afile/run"], "--run-dir afile/run: afile is a file, not a folder"),
    "run dir a broken link": (["--run-dir", "dangling/run"], "dangling is a broken link"),
    "resume nothing": (["--resume", "--run-dir", "fresh"], "nothing to resume: fresh/state.safetensors does not exist"),
}


@pytest.mark.parametrize("case", TRAIN_CASES)
def test_train_refuses_a_flag_out_of_range_before_any_work(case, capsys, tmp_path):
    flags, message = TRAIN_CASES[case]
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo.pt")  # reading it would wait forever
    before = listing(tmp_path)
    start = time.perf_counter()
    refused(capsys, [*TRAIN, *flags], message)
    assert time.perf_counter() - start < 5
    assert listing(tmp_path) == before


@pytest.mark.parametrize("flags, message", [
    (["--model", "resnet20/../../evil"], "a model is ARCH/VARIANT, e.g. resnet20/baseline; got 'resnet20/../../evil'"),
    (["--model", "resnet20"], "a model is ARCH/VARIANT"),
    (["--epochs", "three"], "invalid int value: 'three'"),
    (["--seed", "1e3"], "invalid int value: '1e3'"),
], ids=["variant path", "no variant", "epochs text", "seed float"])
def test_train_flags_of_the_wrong_kind_are_argparse_errors(flags, message, capsys, nothing_written):
    code, _, err = shiftlab(capsys, *TRAIN, *flags)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_text_file_as_init_is_not_a_checkpoint(capsys, tmp_path):
    (tmp_path / "weights.pt").write_text("resnet20 weights, honest\n")
    refused(capsys, [*TRAIN, "--init", tmp_path / "weights.pt"], "is not a checkpoint: it looks like a text file")
    assert listing(tmp_path) == ["weights.pt"]


def test_train_into_a_read_only_folder_is_refused_before_training(capsys, tmp_path, monkeypatch, nothing_written):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anywhere: pretend it may not
    refused(capsys, [*TRAIN, "--run-dir", "run"], "is read-only for this user")


def test_stop_after_says_it_wrote_a_folder_that_exists(capsys, tmp_path):
    code, out, _ = shiftlab(capsys, *TRAIN, "--epochs", "2", "--stop-after", "1", "--run-dir", "run")
    assert code == 0 and out.strip() == "wrote run" and (tmp_path / "run" / "state.safetensors").is_file()


def test_publishing_over_weights_the_zoo_holds_needs_overwrite(capsys, tmp_path, zoo):
    edit_card(zoo / "baseline.json", measurements={})  # no test-set figures: only the overwrite rule is in the way
    before = listing(tmp_path)
    refused(capsys, [*TRAIN, "--run-dir", "run", "--publish"], "already holds weights: publishing would replace them")
    assert listing(tmp_path) == before, "refused before training"


def test_publish_with_overwrite_keeps_the_old_figures_tied_to_the_old_weights(tmp_path, zoo):
    old_sha = hashlib.sha256((zoo / "baseline.safetensors").read_bytes()).hexdigest()
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(RESNET20 / "augmix.safetensors", run / "baseline.safetensors")
    new_sha = hashlib.sha256((run / "baseline.safetensors").read_bytes()).hexdigest()
    shipped = read_card(zoo / "baseline.json")
    card = ModelCard("resnet20", "baseline", dataset="cifar10", created="2030-01-01T00:00:00+00:00")
    figures = dataclasses.replace(shipped.suite("clean"), accuracy=0.5, weights_sha256=new_sha)
    card.record(SuiteResult(shipped.reference_data("clean"), figures))
    (run / "baseline.json").write_text(json.dumps(card.to_dict()))
    with pytest.raises(PublishError, match="--overwrite"):
        publish_run(run / "baseline.safetensors")
    assert hashlib.sha256((zoo / "baseline.safetensors").read_bytes()).hexdigest() == old_sha
    publish_run(run / "baseline.safetensors", overwrite=True)
    published = zoo_card("resnet20", "baseline")
    assert published.figure("accuracy") == 0.5 and not published.weights_changed
    assert published.figure("corruption_accuracy") is None and published.figure("pgd20_accuracy") is None
    kept = published.measurements["cifar10/test"].corruptions
    assert kept.weights_sha256 == old_sha and kept.mean_accuracy == shipped.figure("corruption_accuracy")


# 2. evaluate: names, data and their fit to the model checked before the model is loaded ---------------------------

EVALUATE_CASES = {
    "limit 0": (["--limit", "0"], "limit must be a positive whole number of images"),
    "limit -5": (["--limit", "-5"], "got -5"),
    "unknown data": (["--data", "nope"], "unknown dataset 'nope'; known: cifar10"),
    "imagenet model on cifar": (["--model", "efficientnet_lite0/baseline"],
                                "efficientnet_lite0 predicts imagenet's 1000 classes; cifar10-sample holds 10 other"),
    "cifar model on cifar100": (["--data", "cifar100-sample"],
                                "resnet20 predicts cifar10's 10 classes; cifar100-sample holds 100"),
    "unknown arch": (["--model", "nope/baseline"], "unknown model 'nope'"),
    "variant dots": (["--model", "resnet20/.."], "variant names are letters, digits"),
    "variant dot": (["--model", "resnet20/.hidden"], "variant names are letters, digits"),
    "missing variant": (["--model", "resnet20/nosuch"], "no checkpoint for resnet20/nosuch"),
    "unknown device": (["--device", "tpu"], "unknown device 'tpu'"),
    "run dir a file": (["--run-dir", "afile"], "--run-dir afile: afile is a file, not a folder"),
    "missing data root": (["--data", "svhn", "--data-root", "/nonexistent"], "svhn"),
}


@pytest.mark.parametrize("case", EVALUATE_CASES)
def test_evaluate_refuses_before_measuring(case, capsys, tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    flags, message = EVALUATE_CASES[case]
    refused(capsys, [*EVALUATE, *flags], message)
    assert listing(tmp_path) == ["afile"]


@pytest.mark.parametrize("flags, message", [
    (["--suite", "vibes"], "invalid choice: 'vibes'"),
    (["--limit", "ten"], "invalid int value: 'ten'"),
    (["--model", "resnet20/../../../evil"], "a model is ARCH/VARIANT"),
    (["--model", "/baseline"], "a model is ARCH/VARIANT"),
], ids=["unknown suite", "limit text", "variant path", "no arch"])
def test_evaluate_flags_of_the_wrong_kind_are_argparse_errors(flags, message, capsys, nothing_written):
    code, _, err = shiftlab(capsys, *EVALUATE, *flags)
    assert code == 2 and message in err and "Traceback" not in err


# 3. Reference data by content ------------------------------------------------------------------------------------

def fake_test_set(root: Path, n: int, size: int) -> Path:
    """A folder whose cifar10_test.npz holds ``n`` random images of ``size`` px with CIFAR-10's class names."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / "cifar10_test.npz", images=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
             labels=rng.integers(0, 10, n), classes=np.array(CIFAR10_CLASSES))
    return root


def test_the_reference_fingerprints_are_the_cifar10_test_sets(data_root):
    test_set = load_dataset("cifar10", "test", root=data_root)
    assert fingerprint(test_set).sha256 == REFERENCE_SHA256["cifar10/test"]
    first = fingerprint(test_set.subset(np.arange(1000)))
    assert data_key(first) == "cifar10/test (1000 of 10000)" and first.sha256 == REFERENCE_SHA256[data_key(first)]


def test_a_test_set_of_one_pixel_images_is_refused_by_size(capsys, tmp_path, zoo):
    before = listing(zoo)
    data_root = fake_test_set(tmp_path / "data", 10000, 1)
    refused(capsys, ["evaluate", "--model", "resnet20/baseline", "--data-root", data_root, "--suite", "clean",
                     "--device", "cpu", "--publish"], "test images here are 1×1 px; resnet20 takes 32×32")
    assert listing(zoo) == before and zoo_card("resnet20", "baseline").figure("accuracy") == 0.9103


def test_publishing_figures_of_another_test_set_named_cifar10_is_refused(capsys, tmp_path, zoo):
    card_bytes = (zoo / "baseline.json").read_bytes()
    data_root = fake_test_set(tmp_path / "data", 50, 32)
    line = refused(capsys, ["evaluate", "--model", "resnet20/baseline", "--data-root", data_root, "--suite", "clean",
                            "--device", "cpu", "--publish"], "are not the reference cifar10/test")
    assert "content (SHA-256 of images and labels)" in line
    assert (zoo / "baseline.json").read_bytes() == card_bytes


def test_figures_on_another_test_set_are_kept_under_their_own_key(capsys, tmp_path):
    data = fake_test_set(tmp_path / "data", 50, 32)
    code, out, _ = shiftlab(capsys, "evaluate", "--model", "resnet20/baseline", "--data-root", data, "--suite", "clean",
                            "--device", "cpu", "--run-dir", "run")
    assert code == 0 and "clean on cifar10/test [content " in out
    card = read_card(tmp_path / "run" / "baseline.json")
    own = next(key for key in card.measurements if key.startswith("cifar10/test [content "))
    assert card.measurements["cifar10/test"].clean.accuracy == 0.9103, "the reference figures are untouched"
    assert card.figure("accuracy") == 0.9103 and card.measurements[own].data.n == 50


@pytest.mark.parametrize("data, reference", [
    (Fingerprint("cifar10", "test", 10000, 10000, REFERENCE_SHA256["cifar10/test"]), True),
    (Fingerprint("cifar10", "test", 10000, 10000, "0" * 64), False),
    (Fingerprint("cifar10", "test", 64, 64, "0" * 64), False),
    (Fingerprint("cifar10-sample", "test", 500, 500, "0" * 64), False),
], ids=["the test set", "other content", "other size", "other name"])
def test_headline_figures_come_from_the_reference_content_only(data, reference):
    assert is_reference(data, "clean", "cifar10") is reference
    assert data_key(data).endswith("]") is (data.name == "cifar10" and not reference)


def test_an_impostor_entry_in_a_card_is_not_a_headline_figure():
    fake = Fingerprint("cifar10", "test", 10000, 10000, "0" * 64)
    card = ModelCard("resnet20", "baseline", dataset="cifar10")
    key = card.record(SuiteResult(fake, CleanFigures(accuracy=0.2)))
    assert key == "cifar10/test [content 000000000000]" and card.figure("accuracy") is None
    assert ModelCard.from_dict(card.to_dict()).measurements.keys() == {key}


# 4. Figures tied to the weights they were measured with ------------------------------------------------------------

def test_swapped_weights_do_not_show_the_figures_of_the_replaced_file(zoo):
    shutil.copyfile(RESNET20 / "pgd_adv.safetensors", zoo / "baseline.safetensors")
    card = zoo_card("resnet20", "baseline")
    assert card.weights_changed and card.figure("accuracy") is None and card.figures() == Figures()
    assert tables.zoo_problems() == [("resnet20", "baseline", WEIGHTS_CHANGED)]
    assert not [r for r in tables.zoo_rows() if r.model == "resnet20"]


def test_a_card_copied_beside_other_weights_is_stale(zoo):
    shutil.copyfile(RESNET20 / "augmix.json", zoo / "baseline.json")
    edit_card(zoo / "baseline.json", variant="baseline")  # the name fits the file: only the digest tells
    assert zoo_card("resnet20", "baseline").weights_changed


def test_loaded_models_carry_the_check(zoo):
    shutil.copyfile(RESNET20 / "augmix.safetensors", zoo / "baseline.safetensors")
    loaded = load_model("resnet20", "baseline", device="cpu")
    assert loaded.card.weights_changed and loaded.card.figure("accuracy") is None


def test_evaluate_records_the_weights_digest_and_its_figures_are_shown_again(capsys, zoo):
    shutil.copyfile(RESNET20 / "augmix.safetensors", zoo / "baseline.safetensors")
    code, out, _ = shiftlab(capsys, *EVALUATE, "--run-dir", "run")
    assert code == 0 and "weights_sha256" not in out
    card = read_card(Path("run") / "baseline.json")
    sha = hashlib.sha256((zoo / "baseline.safetensors").read_bytes()).hexdigest()
    assert card.measurements["cifar10-sample/test (64 of 500)"].clean.weights_sha256 == sha


def test_the_shipped_zoo_is_whole_and_unchanged():
    assert tables.zoo_problems() == []
    assert all(not zoo_card(*key).weights_changed for key in [("resnet20", "baseline"), ("vit_tiny", "augmix")])


# 5. Card fields become paths only when they follow the name rules; configs are bounded before building ------------

@pytest.mark.parametrize("field, value", [
    ("variant", "../../x/escaped"), ("variant", "a/b"), ("variant", ".."), ("variant", ".hidden"), ("variant", ""),
    ("variant", "x" * 65), ("variant", "[Log in](https://evil.example)"), ("arch", "../resnet20"),
    ("arch", "resnet20\nx"), ("dataset", "cifar10/../../etc"),
], ids=lambda v: repr(v)[:20])
def test_card_names_follow_the_name_rules(field, value):
    with pytest.raises(ModelCardError, match=f"field '{field}' must be letters, digits"):
        ModelCard.from_dict({"arch": "resnet20", "variant": "baseline", field: value})


@pytest.mark.parametrize("content, message", [
    ("[" * 100_000, "unreadable: RecursionError"),
    ('{"arch": "resnet20", "variant": "baseline", "description": "' + "x" * (1024**2) + '"}',
     "of at most 1,048,576 bytes"),
    ("\xff\xfe not text", "unreadable"),
    ("[]", "is not a JSON object but a list"),
], ids=["nested", "huge", "not utf-8", "a list"])
def test_a_card_that_is_not_a_small_json_object_is_refused_by_name(content, message, tmp_path):
    path = tmp_path / "baseline.json"
    path.write_bytes(content.encode("latin-1") if content.startswith("\xff") else content.encode())
    with pytest.raises(ModelCardError, match=f"model card {path} .*{message}"):
        read_card(path)


def test_an_escaping_variant_cannot_make_evaluate_write_outside_the_run_folder(capsys, tmp_path, zoo):
    edit_card(zoo / "baseline.json", variant="../../x/escaped")
    refused(capsys, [*EVALUATE, "--run-dir", "run"], "field 'variant' must be letters, digits")
    assert not (tmp_path / "run").exists() and not (tmp_path / "x").exists()


def test_a_card_whose_variant_disagrees_with_its_file_is_refused(capsys, zoo):
    edit_card(zoo / "baseline.json", variant="augmix")
    refused(capsys, [*EVALUATE, "--run-dir", "run"], "describes variant 'augmix' but sits beside baseline.safetensors")


def test_a_run_card_of_another_variant_is_not_published_under_its_name(tmp_path, zoo):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(zoo / "baseline.safetensors", run / "baseline.safetensors")
    (run / "baseline.json").write_text(json.dumps({"arch": "resnet20", "variant": "augmix"}))
    with pytest.raises(ModelCardError, match="describes variant 'augmix'"):
        publish_run(run / "baseline.safetensors", overwrite=True)
    assert not (zoo / "augmix.safetensors").exists()


CONFIGS = {
    "depth 200000": ({"depth": 200000}, "resnet20's depth must be an integer from 8 to 110, got 200000"),
    "num_classes 10**12": ({"num_classes": 10**12}, "num_classes must be an integer from 2 to 1000"),
    "num_classes 0": ({"num_classes": 0}, "num_classes must be an integer from 2 to 1000, got 0"),
    "depth text": ({"depth": "20"}, "depth must be an integer"),
    "depth float": ({"depth": 20.0}, "depth must be an integer"),
    "depth bool": ({"depth": True}, "depth must be an integer"),
    "unknown field": ({"width": 64}, "resnet20 has no config fields ['width']"),
}


@pytest.mark.parametrize("case", CONFIGS)
def test_a_cards_config_is_bounded_before_the_network_is_built(case, zoo):
    config, message = CONFIGS[case]
    edit_card(zoo / "baseline.json", config=config)
    start = time.perf_counter()
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace("*", r"\*").replace("[", r"\[")):
        load_model("resnet20", "baseline", device="cpu")
    assert time.perf_counter() - start < 1.0


VIT_CONFIGS = {
    "patch 0": ({"patch_size": 0}, "patch_size must be an integer from 1 to 32, got 0"),
    "width 10**6": ({"hidden_size": 10**6}, "hidden_size must be an integer from 8 to 768"),
    "layers 10**4": ({"num_hidden_layers": 10**4}, "num_hidden_layers must be an integer from 1 to 12"),
    "heads 0": ({"num_attention_heads": 0}, "num_attention_heads must be an integer from 1 to 12"),
    "heads not dividing": ({"num_attention_heads": 5},
                           "hidden_size \\(192\\) must be a multiple of num_attention_heads \\(5\\)"),
    "mlp 10**9": ({"intermediate_size": 10**9}, "intermediate_size must be an integer from 8 to 3072"),
    "dropout nan": ({"hidden_dropout_prob": float("nan")}, "hidden_dropout_prob must be a number"),
    "image size 10**5": ({"image_size": 10**5}, "image_size must be an integer from 8 to 224"),
}


@pytest.mark.parametrize("case", VIT_CONFIGS)
def test_vit_configs_are_bounded_before_the_network_is_built(case):
    config, message = VIT_CONFIGS[case]
    with pytest.raises(ParameterError, match=message):
        build_model("vit_tiny", **config)


@pytest.mark.parametrize("digest", ["0" * 63, "G" * 64, 12, "../x"], ids=["short", "not hex", "number", "path"])
def test_a_recorded_weights_digest_is_checked(digest):
    data = {"name": "cifar10", "split": "test", "n": 10, "of": 10, "sha256": "0" * 64}
    with pytest.raises(ModelCardError, match="weights_sha256 must be 64 lowercase hex digits"):
        ModelCard.from_dict({"arch": "resnet20", "variant": "x", "measurements": {
            data_key(Fingerprint.from_dict(data)): {
                "data": data, "clean": {"accuracy": 0.5, "weights_sha256": digest}}}})


# 6. Weights whose dtype the model would silently cast --------------------------------------------------------------

@pytest.fixture(scope="module")
def state():
    return build_model("resnet20").net.state_dict()


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.float64, torch.int32, torch.uint8],
                         ids=lambda d: str(d).split(".")[1])
def test_weights_of_a_dtype_the_model_does_not_take_are_refused(dtype, state, tmp_path):
    converted = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    save_file(converted, str(tmp_path / "w.safetensors"))
    with pytest.raises(CheckpointError, match=f"dtype the model does not take .*{dtype}"):
        load_model("resnet20", checkpoint=tmp_path / "w.safetensors", device="cpu")


def test_a_float_counter_is_refused(state, tmp_path):
    save_file({k: v if v.is_floating_point() else v.float() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    with pytest.raises(CheckpointError, match="num_batches_tracked \\(torch.float32\\)"):
        load_model("resnet20", checkpoint=tmp_path / "w.safetensors", device="cpu")


def test_half_precision_weights_still_load(state, tmp_path):
    save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    loaded = load_model("resnet20", checkpoint=tmp_path / "w.safetensors", device="cpu")
    assert loaded.model.net.fc.weight.dtype == torch.float32


# 7. README tables only from a whole zoo ---------------------------------------------------------------------------

@pytest.fixture()
def readme_copy(tmp_path, monkeypatch) -> Path:
    """README.md copied: --write-readme writes there (the real one is checked unchanged too)."""
    copy = tmp_path / "README.md"
    shutil.copyfile(README, copy)
    monkeypatch.setattr(tables, "README", copy)
    return copy


@pytest.mark.parametrize("zoo_root, message", [
    ("/nonexistent", "the zoo at /nonexistent has no measured model"),
    ("empty", "has no measured model (is SHIFTLAB_CHECKPOINTS right?)"),
    ("partial", "lacks 8 models the README lists (resnet20/augmix, resnet20/fast_adv"),
    ("broken", "has 1 broken entries (resnet20/baseline: broken: model card"),
    ("swapped", f"resnet20/baseline: {WEIGHTS_CHANGED}"),
])
def test_write_readme_is_refused_from_an_empty_partial_or_broken_zoo(zoo_root, message, capsys, tmp_path, monkeypatch,
                                                                      readme_copy):
    root = Path(zoo_root) if zoo_root.startswith("/") else tmp_path / zoo_root
    root.mkdir(exist_ok=True) if not zoo_root.startswith("/") else None
    if zoo_root == "partial":
        copy_zoo(root)
    elif zoo_root in ("broken", "swapped"):
        for arch in ("resnet20", "vit_tiny"):
            (root / "cifar10").mkdir(exist_ok=True)
            (root / "cifar10" / arch).symlink_to(SHIPPED / "cifar10" / arch)
        folder = root / "cifar10" / "resnet20"
        folder.unlink()
        copy_zoo(root, ("baseline", "augmix", "fast_adv", "free_adv", "pgd_adv", "pixmix"))
        if zoo_root == "broken":
            (folder / "baseline.json").write_text("{not json")
        else:
            shutil.copyfile(folder / "augmix.safetensors", folder / "baseline.safetensors")
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(root))
    before = readme_copy.read_bytes()
    refused(capsys, ["zoo", "--write-readme"], message)
    assert readme_copy.read_bytes() == before and listing(readme_copy.parent).count(".README.md.tmp") == 0


def test_write_readme_from_the_shipped_zoo_gives_the_same_readme(capsys, readme_copy):
    before = readme_copy.read_bytes()
    code, _, err = shiftlab(capsys, "zoo", "--write-readme")
    assert code == 0 and not err and readme_copy.read_bytes() == before


def test_a_full_disk_leaves_the_readme_whole(capsys, readme_copy, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    before = readme_copy.read_bytes()
    monkeypatch.setattr(Path, "write_text", full)
    refused(capsys, ["zoo", "--write-readme"], "No space left on device", status=1)
    assert readme_copy.read_bytes() == before and not (readme_copy.parent / ".README.md.tmp").exists()


# 8. One broken zoo entry never takes a page down -----------------------------------------------------------------

EVIL = "[Log in](https://evil.example)"


def hostile_zoo(root: Path) -> Path:
    """The shipped resnet20 variants linked, and beside them: a corrupt card, a dangling link, a card whose
    variant is Markdown, a card of another variant, weights swapped under a card."""
    folder = root / "cifar10" / "resnet20"
    folder.mkdir(parents=True)
    (folder / "baseline.safetensors").symlink_to(RESNET20 / "baseline.safetensors")
    (folder / "baseline.json").symlink_to(RESNET20 / "baseline.json")
    (folder / "augmix.safetensors").symlink_to(RESNET20 / "augmix.safetensors")
    (folder / "augmix.json").write_text("{not json")
    (folder / "fast_adv.safetensors").symlink_to(root / "nowhere.safetensors")
    (folder / "free_adv.safetensors").symlink_to(RESNET20 / "free_adv.safetensors")
    (folder / "free_adv.json").write_text(json.dumps({"arch": "resnet20", "variant": EVIL}))
    (folder / "pgd_adv.safetensors").symlink_to(RESNET20 / "pgd_adv.safetensors")
    (folder / "pgd_adv.json").write_text(json.dumps({"arch": "resnet20", "variant": "baseline"}))
    (folder / "pixmix.safetensors").symlink_to(RESNET20 / "baseline.safetensors")
    (folder / "pixmix.json").symlink_to(RESNET20 / "pixmix.json")
    (folder / "untrained.safetensors").mkdir()  # a folder named like weights
    return root


def test_broken_entries_are_listed_with_their_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(hostile_zoo(tmp_path / "zoo")))
    problems = {variant: why for _, variant, why in tables.zoo_problems()}
    assert set(problems) == {"augmix", "fast_adv", "free_adv", "pgd_adv", "pixmix", "untrained"}
    assert "is unreadable" in problems["augmix"] and "no checkpoint for resnet20/fast_adv" in problems["fast_adv"]
    assert problems["pixmix"] == WEIGHTS_CHANGED and "describes variant 'baseline'" in problems["pgd_adv"]
    assert [(r.model, r.variant) for r in tables.zoo_rows() if r.dataset == "cifar10"] == [("resnet20", "baseline")]


def test_zoo_prints_the_healthy_rows_of_a_broken_zoo(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(hostile_zoo(tmp_path / "zoo")))
    code, out, err = shiftlab(capsys, "zoo")
    assert code == 0 and "| resnet20 | baseline | cifar10 | 91.03% |" in out and "| resnet20 | augmix |" not in out
    lines = err.splitlines()
    assert f"shiftlab zoo: left out resnet20/pixmix: {WEIGHTS_CHANGED}" in lines and len(lines) == 6


def page_text(at: AppTest) -> list[str]:
    return [str(element.value) for kind in ("markdown", "warning", "caption", "info", "error")
            for element in at.get(kind)]


@pytest.mark.parametrize("page", ["home", "robustness"])
def test_pages_show_a_broken_zoo_with_notes_and_no_exception(page, tmp_path, monkeypatch):
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(hostile_zoo(tmp_path / "zoo")))
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert plain(f"resnet20/pixmix: {WEIGHTS_CHANGED}") in warnings, warnings
    assert any(w.startswith(plain("resnet20/augmix: broken: model card")) for w in warnings)
    assert not any("](https://" in text for text in page_text(at)), "a card field was rendered as a link"
    assert any(r"\[Log in\]\(https\:" in w for w in warnings)


# 9. Clean exits ------------------------------------------------------------------------------------------------

#: a subprocess's environment: this checkout's package, its shipped zoo
ENV = {**os.environ, "PYTHONPATH": str(REPO), "SHIFTLAB_CHECKPOINTS": str(SHIPPED)}


def test_ctrl_c_during_training_says_what_was_kept(tmp_path):
    command = [sys.executable, "-m", "shiftlab", *TRAIN, "--epochs", "200", "--run-dir", "run"]
    # Ctrl-C's SIGINT at its default disposition, as in a terminal: a suite started in the background (`cmd &` in a
    # script) hands its children SIGINT ignored, and the run went on for its 200 epochs (60 s, then a failure)
    proc = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert '"epoch": 1' in proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == ("shiftlab train: interrupted; kept run/state.safetensors "
                                            "(the last finished epoch); continue with --resume")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["state.safetensors"]


def test_a_closed_pipe_ends_quietly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "shiftlab", "zoo"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV)
    proc.stdout.close()  # `shiftlab zoo | head -0`: the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == ""


@pytest.mark.parametrize("command, target, kept", [
    (EVALUATE, "shiftlab.zoo.evaluate.measure", "kept nothing: the card is written only once every suite is measured"),
    (TRAIN, "shiftlab.training.train.train", "kept nothing: no epoch had finished"),
    (["zoo"], "shiftlab.zoo.tables.readme_tables", "kept what was written before"),
], ids=["evaluate", "train", "zoo"])
def test_ctrl_c_in_any_command_is_one_line_and_130(command, target, kept, capsys, monkeypatch, nothing_written):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupt)
    assert refused(capsys, command, kept, status=130).startswith(f"shiftlab {command[0]}: interrupted; ")


def test_a_full_disk_while_writing_the_card_leaves_no_half_file(capsys, tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", full)
    refused(capsys, [*EVALUATE, "--run-dir", "run"], "No space left on device", status=1)
    assert listing(tmp_path / "run") == []


def full_disk(tensors, filename, metadata=None):
    raise OSError(errno.ENOSPC, "No space left on device", filename)


def test_a_full_disk_while_saving_the_training_state_leaves_no_half_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("shiftlab.training.state.save_file", full_disk)
    refused(capsys, [*TRAIN, "--run-dir", "run"], "No space left on device (run/.state.safetensors.tmp)", status=1)
    assert listing(tmp_path / "run") == []


def test_a_full_disk_while_writing_weights_leaves_no_half_file(tmp_path, monkeypatch):
    monkeypatch.setattr("shiftlab.models.cards.save_file", full_disk)
    net = build_model("resnet20").net
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(net, ModelCard("resnet20", "baseline"), tmp_path / "run" / "baseline")
    assert listing(tmp_path / "run") == []


def test_a_folder_that_turns_read_only_is_one_line(capsys, tmp_path, monkeypatch):
    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    line = refused(capsys, [*EVALUATE, "--run-dir", "run"], "Permission denied (run)", status=1)
    assert "nothing half-written" in line


@pytest.mark.parametrize("flags, message", [
    (["--server.port", "notaport"], "'notaport' is not a valid integer"),
    (["--server.nosuch", "1"], "No such option '--server.nosuch'"),
], ids=["port", "unknown option"])
def test_app_flags_streamlit_refuses_are_one_line(flags, message, capsys):
    refused(capsys, ["app", *flags], message)
