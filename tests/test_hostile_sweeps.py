"""Hostile and careless input at the sweep boundary (issue 23, principles 3, 4 and 6): ``shiftlab sweep``, the
sweep store, ``shiftlab.sweep.results`` and the app's sweep-folder box.

Each case asserts the typed error (or, on the command line, exit status 2 and
one line) and, where the case could write, that the folder it ran in lists
the same files before and after. The sweeps that run are tiny: the embedded
sample, 16 images, one model, one shift, one severity.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from shiftlab import cli
from shiftlab.app import sweeps
from shiftlab.errors import (
    AttributionError,
    ParameterError,
    ShiftlabError,
    SweepStoreError,
    UnknownDatasetError,
    UnknownModelError,
    UnknownOptionError,
    UnknownShiftError,
    UnsupportedMethodError,
)
from shiftlab.sweep import results, sandbox, store, worker
from shiftlab.sweep.checks import words
from shiftlab.sweep.lock import LOCK_FILE, SweepLock
from shiftlab.sweep.plan import MAX_MANIFEST_BYTES, Partition, parse_severities, read_plan
from shiftlab.sweep.run import parse_options, plan_sweep, sweep
from shiftlab.sweep.ship import shipped_store
from shiftlab.sweep.worker import SweepWorker

REPO = Path(__file__).resolve().parents[1]
N = 16
TINY = dict(severities="3", data="cifar10-sample", limit=N, device="cpu", progress=False)
CLI = ["sweep", "--models", "resnet20/baseline", "--shifts", "fog", "--severities", "3", "--data", "cifar10-sample",
       "--limit", str(N), "--device", "cpu"]
FOG = Partition("predictions", "resnet20", "baseline", "fog")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread (a shared 2-core machine), chunks of 8 images so that a partition has two work units."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(worker, "CHUNK_PIXELS", 8 * 32 * 32)
        yield
    torch.set_num_threads(threads)


def tiny_sweep(out, models="resnet20/baseline", shifts="fog", **options):
    return sweep(out, models, shifts, **{**TINY, **options})


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A finished tiny sweep with gradcam drift (never modified: tests copy it)."""
    out = tmp_path_factory.mktemp("made") / "run"
    tiny_sweep(out, methods=["gradcam"])
    return out


@pytest.fixture()
def copy(made, tmp_path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(made, out)
    return out


def listing(root: Path) -> dict[str, int]:
    """Every file and folder under ``root`` (hidden ones too) with its size: what a refused call must leave alone."""
    return {str(p.relative_to(root)): (p.lstat().st_size if not p.is_dir() else -1) for p in sorted(root.rglob("*"))}


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    status = cli.main(argv)
    return status, capsys.readouterr().err.strip()


def refused_cli(argv: list[str], where: Path, capsys, *words_expected: str) -> str:
    """``shiftlab ARGV`` run in ``where`` exits 2 with one line holding ``words_expected``, and writes nothing."""
    before = listing(where)
    status, err = run_cli(argv, capsys)
    assert status == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("shiftlab sweep: "), err
    for word in words_expected:
        assert word in err, (word, err)
    assert listing(where) == before
    return err


# ---------------------------------------------------------------------------------------------- the whole plan first

PLAN_REFUSALS = {
    "seeds-repeated": (["--seeds", "0", "0", "0"], "distinct"),
    "seeds-repeated-comma": (["--seeds", "0,1,0"], "distinct"),
    "seed-negative": (["--seeds", "-1"], "0 to 2147483647"),
    "seed-too-large": (["--seeds", "3000000000"], "0 to 2147483647"),
    "seed-not-a-number": (["--seeds", "x"], "whole numbers"),
    "seed-fraction": (["--seeds", "1.5"], "whole numbers"),
    "seeds-too-many": (["--seeds", *map(str, range(1001))], "at most 1000"),
    "severity-huge-range": (["--severities", "1-99999999"], "1-5"),
    "severity-zero": (["--severities", "0"], "1-5"),
    "severity-six": (["--severities", "6"], "1-5"),
    "severity-reversed": (["--severities", "5-1"], "going up"),
    "severity-words": (["--severities", "abc"], "like 1-5"),
    "severity-empty": (["--severities", ""], "like 1-5"),
    "severity-empty-piece": (["--severities", "1,,3"], "like 1-5"),
    "severity-long": (["--severities", "1," * 60], "100 characters"),
    "severity-negative": (["--severities", "-2"], "like 1-5"),
    "option-unknown-key": (["--attribution", "gradcam", "--attribution-option", "bad=1"], "no sweep option 'bad'"),
    "option-bad-layer": (["--attribution", "gradcam", "--attribution-option", "layer=nope"], "nope"),
    "option-unbounded-steps": (["--attribution", "integrated_gradients", "--attribution-option", "n_steps=100000000"],
                               "-4096 to 4096"),
    "option-zero-steps": (["--attribution", "integrated_gradients", "--attribution-option", "n_steps=0"], "n_steps"),
    "option-unbounded-batch": (["--attribution", "integrated_gradients", "--attribution-option",
                                "internal_batch_size=99999999"], "-4096 to 4096"),
    "option-nan": (["--attribution", "wam", "--attribution-option", "noise=NaN"], "finite"),
    "option-infinite": (["--attribution", "wam", "--attribution-option", "noise=1e999"], "finite"),
    "option-list": (["--attribution", "gradcam", "--attribution-option", "layer=[1,2]"], "takes a number"),
    "option-object": (["--attribution", "gradcam", "--attribution-option", 'layer={"a":1}'], "takes a number"),
    "option-no-equals": (["--attribution", "gradcam", "--attribution-option", "layer"], "KEY=VALUE"),
    "option-twice": (["--attribution", "integrated_gradients", "--attribution-option", "n_steps=8", "n_steps=16"],
                     "twice"),
    "option-without-method": (["--attribution-option", "n_steps=8"], "--attribution METHOD"),
    "option-run-control": (["--attribution", "wcam", "--attribution-option", "resume=1"], "no sweep option 'resume'"),
    "option-bad-choice": (["--attribution", "integrated_gradients", "--attribution-option", "integration=nope"],
                          "integration must be one of"),
    "method-unknown": (["--attribution", "nope"], "unknown attribution method"),
    "method-wrong-family": (["--attribution", "attention_rollout"], "does not apply"),
    "limit-zero": (["--limit", "0"], "1 to 10000000"),
    "limit-negative": (["--limit", "-5"], "1 to 10000000"),
    "batch-zero": (["--batch-size", "0"], "1 to 65536"),
    "batch-negative": (["--batch-size", "-1"], "1 to 65536"),
    "batch-huge": (["--batch-size", "1000000000"], "1 to 65536"),
    "model-unknown": (["--models", "nope"], "no cifar10 model"),
    "model-empty": (["--models", ""], "at least one model"),
    "model-only-commas": (["--models", ",,"], "at least one model"),
    "shift-unknown": (["--shifts", "nope"], "nope"),
    "shift-empty": (["--shifts", ""], "at least one model and one shift"),
    "data-unknown": (["--data", "nope"], "nope"),
    "data-empty": (["--data", ""], "dataset name"),
    "device-unknown": (["--device", "nope"], "unknown device"),
    "device-absent-gpu": (["--device", "cuda:7"], "cuda:7"),
    "model-name-too-long": (["--models", "a" * 300], "200 characters"),
}


@pytest.mark.parametrize("extra, expected", PLAN_REFUSALS.values(), ids=PLAN_REFUSALS)
def test_a_bad_plan_is_refused_before_anything_is_written(extra, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused_cli([*CLI, *extra, "--out", "run"], tmp_path, capsys, expected)
    assert not (tmp_path / "run").exists()


def test_the_corrected_command_runs_after_a_refused_one(tmp_path, capsys):
    out = str(tmp_path / "run")
    refused_cli([*CLI, "--seeds", "-1", "--out", out], tmp_path, capsys, "seed")
    refused_cli([*CLI, "--attribution", "gradcam", "--attribution-option", "layer=nope", "--out", out], tmp_path,
                capsys, "nope")
    status, err = run_cli([*CLI, "--seeds", "1", "--attribution", "gradcam", "--out", out], capsys)
    assert status == 0, err
    plan = read_plan(tmp_path / "run")
    assert plan.seeds == (1,) and plan.methods == ("gradcam",) and plan.method_options == {"gradcam": {}}


def test_a_huge_severity_range_costs_nothing():
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ParameterError, match="1-5"):
        parse_severities("1-99999999999")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.1 and peak < 1e6


API_REFUSALS = {
    "seeds-a-string": (dict(seeds="0"), ParameterError, "list of integers"),
    "seeds-bool": (dict(seeds=[True]), ParameterError, "0 to 2147483647"),
    "seeds-empty": (dict(seeds=[]), ParameterError, "1 to 1000"),
    "severities-float": (dict(severities=3.5), ParameterError, "like 1-5"),
    "severities-list-out": (dict(severities=[3, 9]), ParameterError, "1-5"),
    "limit-string": (dict(limit="16"), ParameterError, "whole number"),
    "limit-bool": (dict(limit=True), ParameterError, "whole number"),
    "batch-float": (dict(batch_size=2.5), ParameterError, "whole number"),
    "indices-repeated": (dict(limit=None, indices=[1, 1]), ParameterError, "distinct"),
    "indices-negative": (dict(limit=None, indices=[-1]), ParameterError, ">= 0"),
    "indices-past-end": (dict(limit=None, indices=[10**6]), ParameterError, "image indices"),
    "limit-and-indices": (dict(indices=[1]), ParameterError, "not both"),
    "store-maps-string": (dict(store_maps="no"), ParameterError, "True or False"),
    "progress-number": (dict(progress=2), ParameterError, "True or False"),
    "engine-unknown": (dict(engine="spark"), UnknownOptionError, "spark"),
    "models-a-number": (dict(models=5), ParameterError, "names"),
    "shifts-of-numbers": (dict(shifts=[1, 2]), ParameterError, "names"),
    "options-for-absent-method": (dict(method_options={"wcam": {}}), ParameterError, "not among"),
    "options-not-a-dict": (dict(methods=["gradcam"], method_options={"gradcam": [1]}), ParameterError, "mapping"),
    "options-a-list": (dict(methods=["gradcam"], method_options=["layer"]), ParameterError, "maps methods"),
    "data-a-number": (dict(data=3), ParameterError, "dataset name"),
    "dataset-unknown": (dict(data="cifar10:nope"), UnknownDatasetError, "nope"),
    "model-typo": (dict(models="resnet2O"), UnknownModelError, "resnet2O"),
    "shift-typo": (dict(shifts="fgo"), UnknownShiftError, "fgo"),
    "method-on-vit-only": (dict(methods="gradient_rollout"), UnsupportedMethodError, "does not apply"),
    "seed-option-out-of-range": (dict(methods=["wam"], method_options={"wam": {"seed": -1}}), ParameterError, "seed"),
    "text-option-too-long": (dict(methods=["gradcam"], method_options={"gradcam": {"layer": "x" * 500}}),
                             ParameterError, "200 characters"),
    "option-failing-in-the-method": (dict(methods=["wcam"], method_options={"wcam": {"grid_size": 5}}),
                                     AttributionError, "grid_size"),
}


@pytest.mark.parametrize("changes, error, expected", API_REFUSALS.values(), ids=API_REFUSALS)
def test_the_api_refuses_a_bad_plan_before_anything_is_written(changes, error, expected, tmp_path):
    arguments = {"models": "resnet20/baseline", "shifts": "fog", **TINY, **changes}
    with pytest.raises(error, match=expected):
        sweep(tmp_path / "run", **arguments)
    assert listing(tmp_path) == {}


# ---------------------------------------------------------------------------------------------- the output folder


def out_file(tmp_path):
    (tmp_path / "file").write_text("keep me")
    return "file"


def out_under_file(tmp_path):
    (tmp_path / "file").write_text("keep me")
    return "file/sub"


def out_not_a_sweep(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    return "notes"


def out_dangling_link(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    return "link"


OUTS = {
    "empty-name": (lambda tmp_path: "", ParameterError, "1 to 4096 characters"),
    "blank-name": (lambda tmp_path: "   ", ParameterError, "1 to 4096 characters"),
    "nul-byte": (lambda tmp_path: "a\0b", ParameterError, "folder path"),
    "not-a-path": (lambda tmp_path: 42, ParameterError, "folder path"),
    "a-file": (out_file, SweepStoreError, "is a file"),
    "under-a-file": (out_under_file, SweepStoreError, "is a file"),
    "not-a-sweep-folder": (out_not_a_sweep, SweepStoreError, "not a sweep folder"),
    "the-working-folder": (lambda tmp_path: out_not_a_sweep(tmp_path) and ".", SweepStoreError, "not a sweep folder"),
    "dangling-link": (out_dangling_link, SweepStoreError, "link to nothing"),
}


@pytest.mark.parametrize("make, error, expected", OUTS.values(), ids=OUTS)
def test_an_unusable_output_folder_is_refused(make, error, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = make(tmp_path)
    before = listing(tmp_path)
    with pytest.raises(error, match=expected):
        tiny_sweep(out)
    assert listing(tmp_path) == before


def test_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    """Checked with ``os.access`` (the tests may run as root, whom a mode does not stop: the check is faked)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == tmp_path else real(path, mode))
    with pytest.raises(SweepStoreError, match="read-only"):
        tiny_sweep(tmp_path / "run")
    assert listing(tmp_path) == {}


def test_an_unreadable_folder_is_a_typed_error(tmp_path, monkeypatch):
    (tmp_path / "run").mkdir()

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", denied)
    with pytest.raises(SweepStoreError, match="cannot be read"):
        tiny_sweep(tmp_path / "run")


def test_a_folder_that_cannot_be_made_is_a_typed_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SweepStoreError, match="cannot lock"), SweepLock(tmp_path / "file" / "run"):
        pass


# ---------------------------------------------------------------------------------------------- comma lists


def test_comma_lists_are_read_as_the_url_reads_them():
    assert words("resnet20/baseline,resnet20/augmix", "models") == ["resnet20/baseline", "resnet20/augmix"]
    assert words(["a,b", "c", "b", " d ,"], "x") == ["a", "b", "c", "d"]
    assert words(["0,0"], "seeds", dedupe=False) == ["0", "0"]


def test_option_pairs_split_on_commas_only_before_a_key():
    assert parse_options(["n_steps=8,internal_batch_size=4"]) == {"n_steps": 8, "internal_batch_size": 4}
    assert parse_options(["a=[1,2]", "b=x,y"]) == {"a": [1, 2], "b": "x,y"}
    assert parse_options("c=1, d=true") == {"c": 1, "d": True}


COMMA_FLAGS = {
    "models": (["--models", "resnet20/baseline,resnet20/augmix"], "models",
               (("resnet20", "baseline"), ("resnet20", "augmix"))),
    "models-words-and-commas": (["--models", "resnet20/baseline,", "resnet20/augmix"], "models",
                                (("resnet20", "baseline"), ("resnet20", "augmix"))),
    "shifts": (["--shifts", "fog,contrast"], "shifts", ("fog", "contrast")),
    "seeds": (["--seeds", "0,7"], "seeds", (0, 7)),
    "methods": (["--attribution", "gradcam,saliency"], "methods", ("gradcam", "saliency")),
}


@pytest.mark.parametrize("extra, field, expected", COMMA_FLAGS.values(), ids=COMMA_FLAGS)
def test_every_list_flag_takes_a_comma_list(extra, field, expected, tmp_path, capsys, monkeypatch):
    seen = {}

    def plan_only(out, models, shifts, severities, data, **kw):
        plan, _, _ = plan_sweep(Path(out), models, shifts, severities, data, kw["limit"], None, kw["seeds"],
                                kw["methods"], kw["method_options"], False, None)
        seen["plan"] = plan
        return plan

    monkeypatch.setattr("shiftlab.sweep.run.sweep", plan_only)
    status, err = run_cli([*CLI, *extra, "--out", str(tmp_path / "run")], capsys)
    assert status == 0, err
    assert getattr(seen["plan"], field) == expected
    assert listing(tmp_path) == {}


# ---------------------------------------------------------------------------------------------- partitions done


def delete_file(path):
    path.unlink()


def empty_file(path):
    path.write_bytes(b"")


def truncate_file(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def fewer_rows(path):
    pq.write_table(pq.read_table(path).slice(0, 3), path)


def extra_file(path):
    shutil.copy(path, path.with_name("part-1.parquet"))


def fifo_instead(path):
    path.unlink()
    os.mkfifo(path)


def remove_folder(path):
    shutil.rmtree(path.parent)


DAMAGE = {"deleted": delete_file, "emptied": empty_file, "truncated": truncate_file, "fewer-rows": fewer_rows,
          "extra-file": extra_file, "fifo": fifo_instead, "folder-removed": remove_folder}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE)
def test_a_damaged_partition_is_not_done_and_is_named(damage, copy):
    (victim,) = FOG.path(copy).glob("*.parquet")
    damage(victim)
    plan = read_plan(copy)
    started = time.perf_counter()
    assert store.pending(copy, plan) == [FOG]
    with results.open(copy) as opened:
        assert list(opened.problems) == [FOG]
        with pytest.raises(SweepStoreError, match="shift=fog"):
            opened.accuracy(shift="fog")
        assert len(opened.accuracy(shift="source")) == 1
    assert time.perf_counter() - started < 5  # a FIFO is not opened


def test_a_damaged_partition_is_recomputed_on_resume(made, copy):
    (victim,) = FOG.path(copy).glob("*.parquet")
    truncate_file(victim)
    calls = []
    compute = SweepWorker.compute

    def counted(self, unit):
        calls.append(unit.partition)
        return compute(self, unit)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SweepWorker, "compute", counted)
        tiny_sweep(copy, methods=["gradcam"])
    assert set(calls) == {FOG}
    with results.open(copy) as redone, results.open(made) as original:
        assert not redone.problems
        pd.testing.assert_frame_equal(redone.records(), original.records())


# ---------------------------------------------------------------------------------------------- one writer per folder


def test_a_second_writer_is_refused_naming_the_holder(copy, capsys):
    with SweepLock(copy):
        before = listing(copy)
        with pytest.raises(SweepStoreError, match=rf"another sweep is writing this folder \(pid {os.getpid()} on "):
            tiny_sweep(copy, methods=["gradcam"])
        refused_cli([*CLI, "--out", str(copy)], copy, capsys, "another sweep", f"pid {os.getpid()}")
        assert listing(copy) == before
    assert not (copy / LOCK_FILE).exists()


def test_a_writer_in_another_process_is_named(copy):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from shiftlab.sweep.lock import SweepLock\n"
                               f"with SweepLock({str(copy)!r}):\n    print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SweepStoreError, match=f"pid {holder.pid} "):
            tiny_sweep(copy)
    finally:
        holder.kill()
        holder.wait()
    tiny_sweep(copy, methods=["gradcam"])  # the lock died with its holder: taken over


@pytest.mark.parametrize("content", ['{"pid": 999999999, "host": "gone", "started": "then"}', "garbage", ""],
                         ids=["dead-holder", "garbage", "empty"])
def test_a_stale_lock_is_taken_over_with_a_note(content, copy, caplog):
    (copy / LOCK_FILE).write_text(content)
    tiny_sweep(copy, methods=["gradcam"])
    notes = [r.getMessage() for r in caplog.records if "taking over" in r.getMessage()]
    assert len(notes) == (1 if content else 0)
    if content.startswith("{"):
        assert "pid 999999999 on gone" in notes[0]
    assert not (copy / LOCK_FILE).exists()


def test_a_lock_file_that_is_a_link_is_not_followed(copy, tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep")
    (copy / LOCK_FILE).symlink_to(target)
    with pytest.raises(SweepStoreError, match="cannot lock"):
        tiny_sweep(copy, methods=["gradcam"])
    assert target.read_text() == "keep"


def test_the_lock_is_released_when_the_sweep_fails(tmp_path, monkeypatch):
    def fails(self, unit):
        raise KeyboardInterrupt

    monkeypatch.setattr(SweepWorker, "compute", fails)
    with pytest.raises(KeyboardInterrupt):
        tiny_sweep(tmp_path / "run")
    assert sorted(listing(tmp_path / "run")) == ["sweep.json"]


def test_a_refused_lock_leaves_no_folder(tmp_path, monkeypatch):
    def refuse(self):
        raise SweepStoreError("held")

    monkeypatch.setattr(SweepLock, "_acquire", refuse)
    with pytest.raises(SweepStoreError, match="held"):
        tiny_sweep(tmp_path / "a" / "b" / "run")
    assert listing(tmp_path) == {}


# ---------------------------------------------------------------------------------------------- a corrupt sweep.json


def plan_text(made) -> str:
    return (made / "sweep.json").read_text()


def edited(made, **changes) -> str:
    raw = json.loads(plan_text(made))
    for key, value in changes.items():
        if key.startswith("data_"):
            raw["data"][key.removeprefix("data_")] = value
        else:
            raw[key] = value
    return json.dumps(raw)


CORRUPT = {
    "not-json": lambda made: "{",
    "empty": lambda made: "",
    "truncated": lambda made: plan_text(made)[: len(plan_text(made)) // 2],
    "a-list": lambda made: "[]",
    "null": lambda made: "null",
    "binary": lambda made: b"\xff\xfe\x00garbage",
    "deeply-nested": lambda made: "[" * 100_000 + "]" * 100_000,
    "format-2": lambda made: edited(made, format=2),
    "models-a-string": lambda made: edited(made, models="resnet20"),
    "model-escaping": lambda made: edited(made, models=[["../../../etc", "x"]]),
    "model-twice": lambda made: edited(made, models=[["resnet20", "baseline"]] * 2),
    "shift-with-slash": lambda made: edited(made, shifts=["fog/../../x"]),
    "severity-out-of-range": lambda made: edited(made, severities=[9]),
    "severity-as-text": lambda made: edited(made, severities=["3"]),
    "seed-negative": lambda made: edited(made, seeds=[-1]),
    "seeds-repeated": lambda made: edited(made, seeds=[0, 0]),
    "data-missing": lambda made: edited(made, data=None),
    "data-count-text": lambda made: edited(made, data_n="16"),
    "data-digest-wrong": lambda made: edited(made, data_sha256="abc"),
    "methods-a-number": lambda made: edited(made, methods=5),
    "options-a-list": lambda made: edited(made, method_options=[1]),
    "store-maps-text": lambda made: edited(made, store_maps="yes"),
}


def corrupt(made, tmp_path, make) -> Path:
    out = tmp_path / "corrupt"
    shutil.copytree(made, out)
    content = make(made)
    (out / "sweep.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    return out


@pytest.mark.parametrize("make", CORRUPT.values(), ids=CORRUPT)
def test_a_corrupt_plan_is_a_typed_error_naming_it_in_the_api(make, made, tmp_path):
    out = corrupt(made, tmp_path, make)
    with pytest.raises(SweepStoreError, match=f"{out / 'sweep.json'}: not a readable sweep plan"):
        results.open(out)
    with pytest.raises(SweepStoreError, match="sweep.json"):
        sweeps.open_store(out)


@pytest.mark.parametrize("make", [CORRUPT["not-json"], CORRUPT["truncated"], CORRUPT["model-escaping"],
                                  CORRUPT["binary"]], ids=["not-json", "truncated", "model-escaping", "binary"])
def test_a_corrupt_plan_is_one_line_on_the_command_line(make, made, tmp_path, capsys):
    out = corrupt(made, tmp_path, make)
    refused_cli([*CLI, "--out", str(out)], tmp_path, capsys, str(out / "sweep.json"))


def plan_folder(tmp_path):
    (tmp_path / "sweep.json").mkdir()


def plan_link(tmp_path):
    (tmp_path / "sweep.json").symlink_to(tmp_path / "nowhere")


def plan_fifo(tmp_path):
    os.mkfifo(tmp_path / "sweep.json")


def plan_huge(tmp_path):
    with open(tmp_path / "sweep.json", "wb") as file:
        file.truncate(MAX_MANIFEST_BYTES + 1)  # sparse: nothing is written, nothing may be read


ODD_PLANS = {"a-folder": (plan_folder, "not a regular file"), "dangling-link": (plan_link, "not a regular file"),
             "fifo": (plan_fifo, "not a regular file"), "huge": (plan_huge, "larger than")}


@pytest.mark.parametrize("make, expected", ODD_PLANS.values(), ids=ODD_PLANS)
def test_a_sweep_json_that_is_not_a_plan_file_is_named_without_reading_it(make, expected, tmp_path, capsys):
    make(tmp_path)
    started = time.perf_counter()
    with pytest.raises(SweepStoreError, match=expected):
        results.open(tmp_path)
    refused_cli([*CLI, "--out", str(tmp_path)], tmp_path, capsys, "sweep.json", expected)
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------------------------------------- the results API


BAD_OPEN = {"none": None, "number": 42, "empty": "", "blank": "  ", "bytes": b"/tmp", "nul": "a\0b"}


@pytest.mark.parametrize("path", BAD_OPEN.values(), ids=BAD_OPEN)
def test_open_takes_a_path(path):
    with pytest.raises(ParameterError, match="path of a sweep folder"):
        results.open(path)


@pytest.mark.parametrize("name", ["missing", "file"])
def test_open_of_something_not_a_sweep_folder(name, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SweepStoreError, match="not a sweep folder"):
        results.open(tmp_path / name)


BAD_QUERIES = {
    "model-a-number": lambda s: s.accuracy(model=5),
    "shift-a-dict": lambda s: s.records(shift={"fog": 1}),
    "severity-fraction": lambda s: s.accuracy(severity=[3.9]),
    "severity-text": lambda s: s.accuracy(severity="3"),
    "severity-bool": lambda s: s.records(severity=True),
    "severity-out-of-range": lambda s: s.reliability(severity=[7]),
    "bins-zero": lambda s: s.accuracy(n_bins=0),
    "bins-fraction": lambda s: s.reliability(n_bins=2.5),
    "bins-huge": lambda s: s.reliability(n_bins=10**9),
    "kind-a-list": lambda s: s.cases(kind=["flips"]),
    "order-unknown": lambda s: s.cases(order_by="nope"),
    "limit-negative": lambda s: s.cases(limit=-1),
    "limit-text": lambda s: s.cases(limit="5"),
    "threshold-above-one": lambda s: s.cases("confidently_wrong", threshold=2),
    "threshold-text": lambda s: s.cases("confidently_wrong", threshold="x"),
    "score-a-list": lambda s: s.ood_auroc(score=["energy"]),
    "score-unknown": lambda s: s.ood_auroc(score="nope"),
    "maps-severity-text": lambda s: s.maps("resnet20", "baseline", "fog", "3"),
    "maps-seed-negative": lambda s: s.maps("resnet20", "baseline", "fog", 3, seed=-1),
    "maps-images-text": lambda s: s.maps("resnet20", "baseline", "fog", 3, images="0"),
    "maps-method-absent": lambda s: s.maps("resnet20", "baseline", "fog", 3, method="wcam"),
    "covers-a-list": lambda s: s.covers(["resnet20"], "baseline", "fog", 3),
    "sql-not-text": lambda s: s.sql(None),
    "results-without-plan": lambda s: results.SweepResults(s.root, None),
}


@pytest.mark.parametrize("query", BAD_QUERIES.values(), ids=BAD_QUERIES)
def test_a_bad_query_argument_is_a_parameter_error(query, made):
    with results.open(made) as opened, pytest.raises(ParameterError):
        query(opened)


# ---------------------------------------------------------------------------------------------- sql: the store only


ESCAPES = {
    "read-csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read-text": "SELECT * FROM read_text('/etc/hostname')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "store-file-by-path": "SELECT count(*) FROM read_parquet('{store}/predictions/*/*/*/*.parquet')",
    "copy-out": "COPY (SELECT 1) TO '{tmp}/leak.csv'",
    "copy-into-store": "COPY (SELECT * FROM predictions) "
                       "TO '{store}/predictions/model=resnet20/variant=x/shift=fog/p.parquet'",
    "attach": "ATTACH '{tmp}/other.duckdb'",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "re-enable": "SET enable_external_access = true",
    "export": "EXPORT DATABASE '{tmp}/dump'",
    "several-statements": "SELECT 1; COPY (SELECT 1) TO '{tmp}/leak.csv'",
}


@pytest.mark.parametrize("query", ESCAPES.values(), ids=ESCAPES)
def test_sql_reads_nothing_but_the_store_and_writes_nothing(query, copy, tmp_path):
    before, outside = listing(copy), listing(tmp_path)
    with results.open(copy) as opened, pytest.raises(ShiftlabError) as caught:
        opened.sql(query.format(store=copy, tmp=tmp_path))
    assert isinstance(caught.value, ParameterError | SweepStoreError) and "\n" not in str(caught.value)
    assert listing(copy) == before and listing(tmp_path) == outside


def test_sql_returns_the_stores_rows(made):
    """The sandboxed views give the rows (and columns, in the order DuckDB's own Parquet reader gave them) that the
    store's other queries read."""
    with results.open(made) as opened:
        records = opened.records()
        rows = opened.sql("SELECT * FROM predictions ORDER BY model, variant, shift, severity, seed, image")
        drift = opened.sql("SELECT count(*) AS n, min(iou) AS iou FROM attributions WHERE shift = 'fog'")
        fog = opened.sql("SELECT image FROM predictions ORDER BY image", shift="fog")
    assert list(rows.columns[-3:]) == ["model", "shift", "variant"] and len(rows) == 2 * N
    pd.testing.assert_frame_equal(rows[list(records.columns)], records)
    assert drift["n"][0] == N and 0 <= drift["iou"][0] <= 1
    assert len(fog) == 2 * N  # the clean rows come with a shift filter, as before


def test_sql_on_the_shipped_store_still_answers(tmp_path):
    with results.open(shipped_store("attributions")) as opened:
        for method in opened.plan.methods:
            frame = opened.sql("SELECT method, count(*) AS n FROM attributions GROUP BY method", method=method)
            assert frame["method"].tolist() == [method] and frame["n"][0] == 390


COSTLY = {
    "too-many-rows": ("SELECT * FROM range(10000000)", "more than 5,000,000 rows"),
    "too-much-memory": ("SELECT list(range) FROM range(100000000)", "needs more than 256MB"),
    "too-long": ("SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b", "longer than 1 s"),
}


@pytest.mark.parametrize("query, words", COSTLY.values(), ids=COSTLY)
def test_sql_is_bounded_in_rows_memory_and_time(query, words, made, monkeypatch):
    monkeypatch.setattr(sandbox, "SQL_MEMORY", "256MB")
    monkeypatch.setattr(sandbox, "SQL_SECONDS", 1)
    started = time.perf_counter()
    with results.open(made) as opened, pytest.raises(ParameterError, match=words):
        opened.sql(query)
    assert time.perf_counter() - started < 20


# ---------------------------------------------------------------------------------------------- the app's folder box


@pytest.fixture()
def sweeps_root(made, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "sweeps"
    root.mkdir()
    shutil.copytree(made, root / "mine")
    shutil.copytree(made, root / "![x](https:evil.example)")
    shutil.copytree(made, root / ".hidden")
    (root / "no-plan").mkdir()
    (root / "a-file").write_text("x")
    (root / "new\nline").mkdir()
    monkeypatch.setenv(sweeps.SWEEPS_ENV_VAR, str(root))
    return root


def test_the_box_offers_the_shipped_stores_and_the_sweep_folders_by_name(sweeps_root):
    assert sweeps.sweep_choices() == [*sweeps.SHIPPED_CHOICES, "![x](https:evil.example)", "mine"]
    assert sweeps.open_choice("mine").root == sweeps_root / "mine"
    assert sweeps.open_choice("shipped: sample").root == shipped_store("sample")


FORBIDDEN = {"etc": "/etc", "root-home": "~root", "up": "../..", "dot-dot": "..", "dot": ".", "hidden": ".hidden",
             "no-plan": "no-plan", "a-file": "a-file", "absolute-sweep": "{root}/mine", "relative-escape": "mine/../..",
             "none": None, "number": 3, "control-character": "new\nline"}


@pytest.mark.parametrize("name", FORBIDDEN.values(), ids=FORBIDDEN)
def test_the_box_opens_nothing_it_does_not_offer(name, sweeps_root):
    name = name.format(root=sweeps_root) if isinstance(name, str) else name
    with pytest.raises(ParameterError, match="no sweep folder named"):
        sweeps.open_choice(name)


def test_without_a_sweeps_root_only_the_shipped_stores_are_offered(tmp_path, monkeypatch):
    monkeypatch.setenv(sweeps.SWEEPS_ENV_VAR, str(tmp_path / "absent"))
    assert sweeps.sweep_choices() == list(sweeps.SHIPPED_CHOICES)
    monkeypatch.delenv(sweeps.SWEEPS_ENV_VAR)
    assert sweeps.sweeps_root() == Path(__file__).resolve().parents[1] / "sweeps"


def test_a_corrupt_offered_folder_is_a_typed_error(sweeps_root):
    (sweeps_root / "mine" / "sweep.json").write_text("{")
    assert "mine" in sweeps.sweep_choices()
    with pytest.raises(SweepStoreError, match="mine/sweep.json: not a readable sweep plan"):
        sweeps.open_choice("mine")


# ---------------------------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_says_what_was_kept_and_leaves_nothing_half_written(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    compute, calls = SweepWorker.compute, []

    def interrupted_midway(self, unit):
        calls.append(unit)
        if len(calls) == 4:  # source (2 units) written, fog half computed
            raise KeyboardInterrupt
        return compute(self, unit)

    monkeypatch.setattr(SweepWorker, "compute", interrupted_midway)
    status, err = run_cli([*CLI, "--out", str(out)], capsys)
    assert status == 130
    assert err.splitlines()[-1] == (f"shiftlab sweep: interrupted; {out}: 1 of 2 partitions done, each whole; "
                                    "run the same command to resume")
    assert sorted(listing(out)) == ["predictions", "predictions/model=resnet20",
                                    "predictions/model=resnet20/variant=baseline",
                                    "predictions/model=resnet20/variant=baseline/shift=source",
                                    "predictions/model=resnet20/variant=baseline/shift=source/part-0.parquet",
                                    "sweep.json"]
    monkeypatch.setattr(SweepWorker, "compute", compute)
    assert run_cli([*CLI, "--out", str(out)], capsys)[0] == 0
    assert not store.pending(out, read_plan(out))


def test_ctrl_c_while_a_partition_is_written_leaves_no_part_of_it(tmp_path, monkeypatch):
    write_table = pq.write_table

    def dies_while_writing(table, where, **options):
        write_table(table.slice(0, 2), where, **options)
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", dies_while_writing)
    with pytest.raises(KeyboardInterrupt):
        tiny_sweep(tmp_path / "run")
    assert sorted(listing(tmp_path / "run")) == ["sweep.json"]
