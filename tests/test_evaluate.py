"""Evaluation on the embedded sample: clean, corruption and PGD figures land in the card."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from shiftlab.data import load_dataset
from shiftlab.models import ModelCard, build_model, save_checkpoint
from shiftlab.shifts.corruptions import BENCHMARK
from shiftlab.zoo.evaluate import evaluate_corruptions, evaluate_pgd, main, update_card


@pytest.fixture()
def zoo(tmp_path, monkeypatch):
    """A zoo folder holding one randomly initialised ResNet-20 with a minimal card."""
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(tmp_path))
    torch.manual_seed(0)
    save_checkpoint(build_model("resnet20").net, ModelCard("resnet20", "trial"),
                    tmp_path / "cifar10" / "resnet20" / "trial")
    return tmp_path / "cifar10" / "resnet20" / "trial.json"


def test_all_suites_write_the_card(zoo):
    metrics = update_card("resnet20", "trial", ("clean", "corruptions", "pgd"), data="cifar10-sample", log=None)
    card = json.loads(zoo.read_text())
    assert card["metrics"] == metrics
    assert set(card["robustness"]["corruptions"]["per_corruption"]) == set(BENCHMARK) and len(BENCHMARK) == 15
    per = card["robustness"]["corruptions"]["per_corruption"]
    assert metrics["corruption_accuracy"] == pytest.approx(np.mean([a for accs in per.values() for a in accs]))
    assert card["robustness"]["pgd"]["steps"] == 20 and card["robustness"]["pgd"]["dataset"]["n"] == 500
    assert 0 <= metrics["pgd20_accuracy"] <= 1 and metrics["dataset"]["name"] == "cifar10-sample"


def test_unknown_suite_is_refused(zoo):
    with pytest.raises(ValueError, match="unknown evaluation suites"):
        update_card("resnet20", "trial", ("clean", "vibes"), data="cifar10-sample")


def test_command_line_updates_only_the_chosen_suite(zoo, capsys):
    main(["--arch", "resnet20", "--variant", "trial", "--data", "cifar10-sample", "--suite", "clean"])
    card = json.loads(zoo.read_text())
    assert "accuracy" in card["metrics"] and "robustness" not in card
    assert "accuracy" in capsys.readouterr().out


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

    result = evaluate_corruptions(Lookup(), ds, corruptions=("gaussian_noise", "brightness"))
    assert result["per_corruption"]["gaussian_noise"] == [0.0] * 5
    assert result["mean_accuracy"] == pytest.approx(np.mean(sum(result["per_corruption"].values(), [])))


def test_pgd_accuracy_never_exceeds_clean():
    ds = load_dataset("cifar10-sample", limit=50)
    torch.manual_seed(1)
    model = build_model("resnet20").eval()
    clean = (model(torch.from_numpy(ds.images).permute(0, 3, 1, 2).float() / 255).argmax(1).numpy() == ds.labels).mean()
    assert evaluate_pgd(model, ds, n=50, steps=5)["accuracy"] <= clean
