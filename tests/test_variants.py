"""Robust training variants on tiny batches: augmentation ranges, losses, adversarial constraints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from shiftlab.adversarial import fgsm_random_start, pgd, robust_accuracy
from shiftlab.data import load_dataset
from shiftlab.models import build_model
from shiftlab.models.training_record import Recipe
from shiftlab.training.augment import MIX_OPS
from shiftlab.training.config import RECIPES
from shiftlab.training.fractals import fractal_pictures
from shiftlab.training.variants import jensen_shannon, list_training_variants, make_variant, variant_class

EPS = 8 / 255


@pytest.fixture(scope="module")
def batch():
    ds = load_dataset("cifar10-sample", limit=32)
    return torch.from_numpy(ds.images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(ds.labels)


def recipe_for(name: str) -> Recipe:
    return dataclasses.replace(RECIPES["cnn"], variant_params=dict(variant_class(name).defaults))


def test_every_issue_variant_is_registered():
    assert set(list_training_variants()) >= {"baseline", "augmix", "pixmix", "pgd_adv", "free_adv", "fast_adv"}


@pytest.mark.parametrize("name", ["baseline", "augmix", "pixmix", "pgd_adv", "fast_adv", "free_adv"])
def test_training_step_runs_and_updates_weights(name, batch):
    torch.manual_seed(0)
    model = build_model("resnet20")
    variant = make_variant(name, recipe_for(name))
    variant.start_epoch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    before = model.net.fc.weight.detach().clone()
    x = variant.augment(batch[0])
    out = variant.train_step(model, optimizer, x, batch[1])
    assert torch.isfinite(out.loss) and out.logits.shape == (32, 10)
    assert not torch.equal(before, model.net.fc.weight)


def test_augmix_views_and_jsd(batch):
    torch.manual_seed(0)
    variant = make_variant("augmix", recipe_for("augmix"))
    views = variant.augment(batch[0])
    assert views.shape == (3, 32, 3, 32, 32) and views.min() >= 0 and views.max() <= 1
    assert not torch.equal(views[1], views[0]) and not torch.equal(views[1], views[2])
    logits = [torch.randn(8, 10) for _ in range(3)]
    jsd = jensen_shannon(logits)
    assert torch.isfinite(jsd) and jsd >= 0
    assert jensen_shannon([logits[0]] * 3) == pytest.approx(0.0, abs=1e-6)


def test_augmix_ops_exclude_the_test_corruptions():
    names = {op.__name__ for op in MIX_OPS}
    assert not names & {"_op_brightness", "_op_contrast", "_op_color", "_op_sharpness"}
    assert len(MIX_OPS) == 9


def test_pixmix_output_range_and_fractals(batch):
    torch.manual_seed(0)
    mixed = make_variant("pixmix", recipe_for("pixmix")).augment(batch[0])
    assert mixed.shape == (32, 3, 32, 32) and mixed.min() >= 0 and mixed.max() <= 1
    a, b = fractal_pictures(4, 32, seed=3), fractal_pictures(4, 32, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and a.shape == (4, 32, 32, 3) and a.max() > 100


def _loss(model, x, y):
    with torch.no_grad():
        return float(F.cross_entropy(model(x), y))


@pytest.mark.parametrize("attack", ["pgd", "fgsm"])
def test_adversarial_examples_stay_in_the_ball_and_raise_the_loss(attack, batch):
    torch.manual_seed(0)
    model = build_model("resnet20").eval()
    x = batch[0].float() / 255
    y = batch[1]
    if attack == "pgd":
        x_adv = pgd(model, x, y, EPS, 2 / 255, 10, generator=torch.Generator().manual_seed(0))
    else:
        x_adv = fgsm_random_start(model, x, y, EPS, 1.25 * EPS, generator=torch.Generator().manual_seed(0))
    assert (x_adv - x).abs().max() <= EPS + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert _loss(model, x_adv, y) > _loss(model, x, y)


def test_free_adv_keeps_delta_within_eps(batch):
    torch.manual_seed(0)
    model = build_model("resnet20")
    variant = make_variant("free_adv", recipe_for("free_adv"))
    variant.start_epoch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = variant.augment(batch[0])
    variant.train_step(model, optimizer, x, batch[1])
    assert variant.delta.abs().max() <= EPS + 1e-6 and variant.delta.abs().max() > 0
    variant.start_epoch()
    assert variant.delta is None


def test_robust_accuracy_is_seeded_and_below_clean():
    ds = load_dataset("cifar10-sample", limit=20)
    torch.manual_seed(0)
    model = build_model("resnet20")
    a = robust_accuracy(model, ds.images, ds.labels, steps=3, seed=1)
    b = robust_accuracy(model, ds.images, ds.labels, steps=3, seed=1)
    assert a == b and 0.0 <= a <= 1.0
