"""Evaluation on the embedded sample: clean, corruption and PGD figures land in a card, keyed by their data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from shiftlab.data import load_dataset
from shiftlab.models import ModelCard, build_model, read_card, save_checkpoint
from shiftlab.shifts.corruptions import BENCHMARK
from shiftlab.zoo.evaluate import evaluate_corruptions, evaluate_pgd, main, measure, write_evaluation


@pytest.fixture()
def zoo(tmp_path, monkeypatch):
    """A zoo folder holding one randomly initialised ResNet-20 with a minimal card."""
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(tmp_path))
    torch.manual_seed(0)
    save_checkpoint(build_model("resnet20").net, ModelCard("resnet20", "trial"),
                    tmp_path / "cifar10" / "resnet20" / "trial")
    return tmp_path / "cifar10" / "resnet20" / "trial.json"


def test_all_suites_are_recorded_under_the_data_they_ran_on(zoo, tmp_path):
    # 8 images are enough for the bookkeeping tested here (the suites' figures are tested elsewhere); 60 took 12 s
    results = measure("resnet20", "trial", ("clean", "corruptions", "pgd"), data="cifar10-sample", limit=8, log=None)
    card = read_card(write_evaluation("resnet20", "trial", results, tmp_path / "run"))
    assert [result.suite for result in results] == ["clean", "corruptions", "pgd"]
    sample = card.measurements["cifar10-sample/test (8 of 500)"]
    assert sample.clean == results[0].figures and sample.data.n == 8 and sample.clean.weights_sha256
    assert set(sample.corruptions.per_corruption) == set(BENCHMARK) and len(BENCHMARK) == 15
    per = sample.corruptions.per_corruption
    assert sample.corruptions.mean_accuracy == pytest.approx(np.mean([a for accs in per.values() for a in accs]))
    assert sample.pgd.steps == 20 and 0 <= sample.pgd.accuracy <= 1
    assert card.figure("accuracy") is None, "figures on the sample are not the card's test-set figures"


def test_unknown_suite_is_refused(zoo):
    with pytest.raises(ValueError, match="unknown evaluation suites"):
        measure("resnet20", "trial", ("clean", "vibes"), data="cifar10-sample")


def test_command_line_writes_the_run_folder_and_publish_the_zoo(zoo, tmp_path, capsys):
    main(["--model", "resnet20/trial", "--data", "cifar10-sample", "--suite", "clean",
          "--run-dir", str(tmp_path / "run")])
    assert "measurements" not in json.loads(zoo.read_text()), "the zoo card is left alone by default"
    card = json.loads((tmp_path / "run" / "trial.json").read_text())
    assert set(card["measurements"]["cifar10-sample/test"]) == {"data", "clean"}
    assert "clean on cifar10-sample/test" in capsys.readouterr().out
    main(["--model", "resnet20/trial", "--data", "cifar10-sample", "--suite", "clean", "--publish"])
    published = json.loads(zoo.read_text())["measurements"]["cifar10-sample/test"]
    assert published["clean"]["accuracy"] == card["measurements"]["cifar10-sample/test"]["clean"]["accuracy"]


def test_corruption_accuracy_of_a_perfect_lookup_model():
    """A model that recognises images only when unchanged: severities that alter pixels lower its accuracy."""
    ds = load_dataset("cifar10-sample", limit=40)
    clean = torch.from_numpy(ds.images).permute(0, 3, 1, 2).float() / 255
    labels = torch.from_numpy(ds.labels)

    class Lookup(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            distance = ((x[:, None] - clean[None]) ** 2).flatten(2).mean(2)
            hits = distance.argmin(1)
            exact = distance.min(1).values < 1e-10
            out = torch.full((len(x), 10), -5.0)
            out[torch.arange(len(x)), torch.where(exact, labels[hits], (labels[hits] + 1) % 10)] = 5.0
            return out

    result = evaluate_corruptions(Lookup(), ds, corruptions=("gaussian_noise", "brightness")).figures
    assert result.per_corruption["gaussian_noise"] == [0.0] * 5
    assert result.mean_accuracy == pytest.approx(np.mean(sum(result.per_corruption.values(), [])))


def test_pgd_accuracy_never_exceeds_clean():
    ds = load_dataset("cifar10-sample", limit=50)
    torch.manual_seed(1)
    model = build_model("resnet20").eval()
    clean = (model(torch.from_numpy(ds.images).permute(0, 3, 1, 2).float() / 255).argmax(1).numpy() == ds.labels).mean()
    assert evaluate_pgd(model, ds, n=50, steps=5).figures.accuracy <= clean
