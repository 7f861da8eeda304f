"""The training CLI on tiny subsets of the embedded sample: learning, determinism, resume, the card."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from shiftlab.models.cards import read_card
from shiftlab.models.training_record import EpochRecord, Lineage, Recipe, TrainingStart
from shiftlab.training.config import TrainConfig
from shiftlab.training.optimizer import learning_rate
from shiftlab.training.state import STATE_FILE, read_state
from shiftlab.training.train import main, parse_args, train


def tiny_config(tmp_path, name: str, arch: str = "resnet20", **kw) -> TrainConfig:
    # float32: bf16 autocast is emulated, ten times slower, on CPUs without native bf16 (AVX-512 BF16, AMX)
    overrides = {"epochs": 3, "batch_size": 64, "lr": 0.05, "warmup_epochs": 0, "precision": "float32",
                 **kw.pop("overrides", {})}
    return TrainConfig(arch=arch, data="cifar10-sample", eval_data="cifar10-sample", limit=kw.pop("limit", 128),
                       run_dir=str(tmp_path / name / "run"), progress=False, overrides=overrides, **kw)


def weights(path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The tiny recipe trained once without a stop: the card test reads it, the determinism test compares with it."""
    return train(tiny_config(tmp_path_factory.mktemp("train"), "a"))


def test_training_lowers_the_loss_and_writes_a_card(straight):
    path = straight
    card = json.loads(path.with_suffix(".json").read_text())
    losses = [epoch["loss"] for epoch in card["history"]]
    assert losses[-1] < losses[0], losses
    assert card["arch"] == "resnet20" and card["variant"] == "baseline"
    assert card["recipe"]["epochs"] == 3 and card["recipe"]["seed"] == 0 and card["recipe"]["device"] == "cpu"
    assert [epoch["device"] for epoch in card["history"]] == ["cpu"] * 3
    assert path.parts[-3:] == ("a", "run", "baseline.safetensors")
    assert set(card["measurements"]["cifar10-sample/test"]["clean"]) >= {"accuracy", "macro_f1", "ece", "nll"}
    assert card["data"]["train"]["n"] == 128 and len(card["data"]["train"]["sha256"]) == 64
    assert card["data"]["train"]["of"] == 500
    typed = read_card(path.with_suffix(".json"))
    assert isinstance(typed.recipe, Recipe) and typed.recipe.epochs == 3 and typed.recipe.epochs_done == 3
    assert typed.recipe.to_json() == card["recipe"], "the typed recipe writes back what training wrote"
    assert [epoch.loss for epoch in typed.history] == losses and isinstance(typed.history[0], EpochRecord)


def test_same_seed_same_weights_and_resume_matches_uninterrupted_run(tmp_path, straight):
    again = train(tiny_config(tmp_path, "again"))
    interrupted = tiny_config(tmp_path, "resumed", stop_after=1)
    train(interrupted)
    assert read_state(tmp_path / "resumed" / "run" / STATE_FILE)[0].epochs_done == 1
    interrupted.stop_after, interrupted.resume = None, True
    resumed = train(interrupted)
    reference = weights(straight)
    for other in (weights(again), weights(resumed)):
        assert reference.keys() == other.keys()
        for key in reference:
            torch.testing.assert_close(other[key], reference[key], rtol=0, atol=0)


def test_other_seed_other_weights(tmp_path):
    a = weights(train(tiny_config(tmp_path, "s0", limit=64, overrides={"epochs": 1})))
    b = weights(train(tiny_config(tmp_path, "s1", seed=1, limit=64, overrides={"epochs": 1})))
    assert not torch.equal(a["fc.weight"], b["fc.weight"])


def test_resume_with_a_changed_recipe_is_refused(tmp_path):
    config = tiny_config(tmp_path, "r", stop_after=1)
    train(config)
    changed = tiny_config(tmp_path, "r", resume=True, overrides={"lr": 0.2})
    with pytest.raises(ValueError, match="different recipe"):
        train(changed)


def test_vit_recipe_runs_with_randaugment(tmp_path):
    path = train(tiny_config(tmp_path, "vit", arch="vit_tiny", limit=64, overrides={"epochs": 1, "lr": 1e-3}))
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["recipe"]["optimizer"] == "adamw" and card["recipe"]["randaugment"] == [2, 7]
    assert card["config"]["patch_size"] == 4


@pytest.mark.parametrize("variant", ["augmix", "pixmix", "pgd_adv", "free_adv", "fast_adv"])
def test_variants_with_their_own_augmentation_do_not_claim_randaugment(variant):
    recipe = TrainConfig(arch="vit_tiny", variant=variant).recipe()
    assert recipe.randaugment is None and recipe.optimizer == "adamw"
    assert "randaugment" in recipe.to_json(), "the card says the variant applies no RandAugment"
    assert TrainConfig(arch="vit_tiny").recipe().randaugment == [2, 7]


def test_init_starts_from_the_weights_and_records_their_lineage(tmp_path):
    parent = train(tiny_config(tmp_path, "parent", limit=64, overrides={"epochs": 1}))
    child = train(tiny_config(tmp_path, "child", init=str(parent), limit=64, overrides={"epochs": 1, "lr": 1e-12}))
    torch.testing.assert_close(weights(child)["fc.weight"], weights(parent)["fc.weight"], rtol=0, atol=1e-6)
    init = json.loads(child.with_suffix(".json").read_text())["recipe"]["init"]
    assert init["checkpoint"] == parent.name and init["sha256"] == hashlib.sha256(parent.read_bytes()).hexdigest()
    assert init["from_card"]["epochs"] == 1 and init["from_card"]["arch"] == "resnet20"
    start = read_card(child.with_suffix(".json")).recipe.init
    assert isinstance(start, TrainingStart) and isinstance(start.from_card, Lineage) and start.from_card.epochs == 1
    bare = tmp_path / "bare.safetensors"
    shutil.copy(parent, bare)
    orphan = train(tiny_config(tmp_path, "orphan", init=str(bare), limit=64, overrides={"epochs": 1}))
    assert "from_card" not in json.loads(orphan.with_suffix(".json").read_text())["recipe"]["init"]


def test_unknown_recipe_field_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown recipe fields"):
        train(tiny_config(tmp_path, "bad", overrides={"momentumm": 0.5}))


def test_learning_rate_schedule():
    assert learning_rate(0, 100, 10, 1.0) == pytest.approx(0.1)
    assert learning_rate(9, 100, 10, 1.0) == pytest.approx(1.0)
    assert learning_rate(55, 100, 10, 1.0) == pytest.approx(0.5)
    assert learning_rate(100, 100, 10, 1.0) == pytest.approx(0.0)


def test_command_line(tmp_path, capsys):
    config = parse_args(["--model", "resnet20/baseline", "--epochs", "2", "--lr", "0.3", "--resume", "--device", "cpu"])
    assert config.overrides == {"epochs": 2, "lr": 0.3} and config.resume and config.device == "cpu"
    # 8 images: the command's default recipe trains in bf16 autocast, emulated on CPUs without native bf16
    main(["--data", "cifar10-sample", "--eval-data", "cifar10-sample", "--limit", "8", "--epochs", "1",
          "--run-dir", str(tmp_path / "r"), "--no-progress"])
    assert (tmp_path / "r" / "baseline.safetensors").is_file()
    assert "wrote" in capsys.readouterr().out


def test_an_unknown_precision_is_refused(tmp_path):
    with pytest.raises(ValueError, match="precision must be one of bf16-autocast, float32"):
        train(tiny_config(tmp_path, "p", overrides={"precision": "fp16"}))
