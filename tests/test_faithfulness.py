"""Faithfulness and sanity checks of maps (issue 25): hand-worked linear cases, determinism, bounds, and quantus.

A linear two-class model on 8×8 images has a known attribution: pixel p moves the logit difference by
Σ_c (w_target − w_other)[c, p] · x[c, p]. Deleting pixels to black in that order is the fastest way down, so its
deletion curve lies under every random order's at every step, and the curve itself can be written by hand.
quantus (test-only) computes pixel flipping, noisy linear imputation and model-parameter randomisation with
matched settings.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from shiftlab.attribution import METHODS, attribute
from shiftlab.attribution.base import AttributionMethod
from shiftlab.errors import MetricInputError, ParameterError, UnknownOptionError
from shiftlab.inference import to_tensor
from shiftlab.metrics import faithfulness
from shiftlab.metrics.faithfulness import (
    area,
    baseline_images,
    deletion_insertion,
    importance_ranks,
    random_reference,
    road,
)
from shiftlab.metrics.imputation import impute
from shiftlab.metrics.randomisation import PASS_THRESHOLD, randomisable_layers, randomisation_check
from shiftlab.models import LoadedModel, ModelCard, get_spec, list_models, load_model
from shiftlab.models.classifier import AttributionHooks, Classifier

SIDE = 8


def linear_model(positive: bool = True, seed: int = 0) -> LoadedModel:
    """Two classes, a linear layer on the flattened [0, 1] image: with ``positive`` every pixel's weight favours
    class 0 (and the bias class 1), otherwise weights are uniform in [-0.5, 0.5] and the bias 0."""
    generator = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIDE * SIDE, 2))
    with torch.no_grad():
        if positive:
            weights = 0.03 * torch.rand(3 * SIDE * SIDE, generator=generator)
            net[1].weight.copy_(torch.stack([weights, -weights]))
            net[1].bias.copy_(torch.tensor([-1.0, 1.0]))
        else:
            net[1].weight.copy_(torch.rand(2, 3 * SIDE * SIDE, generator=generator) - 0.5)
            net[1].bias.zero_()
    model = Classifier(net, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)).eval()
    card = ModelCard(arch="linear", variant="test", classes=["a", "b"], input_size=SIDE)
    return LoadedModel(model, card, ["a", "b"], SIDE, torch.device("cpu"), AttributionHooks("net.0", 8))


def images(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(30, 256, size=(n, SIDE, SIDE, 3), dtype=np.uint8)


def contributions(loaded: LoadedModel, pixels: np.ndarray, target: int = 0) -> np.ndarray:
    """Each pixel's exact share of the target's logit lead: Σ_c (w_target − w_other) · x (N×H×W)."""
    weight = loaded.model.net[1].weight.detach().numpy()
    difference = (weight[target] - weight[1 - target]).reshape(3, SIDE, SIDE)
    x = pixels.astype(np.float64).transpose(0, 3, 1, 2) / 255.0
    return (difference[None] * x).sum(axis=1)


def by_hand_deletion(loaded: LoadedModel, pixels: np.ndarray, steps: int) -> np.ndarray:
    """The deletion curve to black of the exact attribution, written out: sigmoid of the bias difference plus
    the contributions of the pixels still there."""
    contribution = contributions(loaded, pixels).reshape(len(pixels), -1)
    bias = loaded.model.net[1].bias.detach().numpy()
    order = np.argsort(-contribution, axis=1)
    counts = np.round(np.linspace(0, SIDE * SIDE, steps + 1)).astype(int)
    curves = []
    for c, o in zip(contribution, order):
        remaining = [c.sum() - c[o[:k]].sum() for k in counts]
        curves.append(1 / (1 + np.exp(-(bias[0] - bias[1] + np.asarray(remaining)))))
    return np.asarray(curves)


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return linear_model()


def test_the_exact_attribution_deletes_as_written_by_hand(loaded):
    pixels = images()
    result = deletion_insertion(loaded, pixels, contributions(loaded, pixels), 0, steps=16, baseline="black",
                                order="positive")
    np.testing.assert_allclose(result.deletion, by_hand_deletion(loaded, pixels, 16), rtol=1e-5, atol=1e-6)
    assert result.fractions[0] == 0 and result.fractions[-1] == 1 and len(result.fractions) == 17


@pytest.mark.parametrize("baseline", ["black", "mean", "blur"])
def test_the_exact_attribution_beats_the_random_order(loaded, baseline):
    pixels = images()
    result = deletion_insertion(loaded, pixels, contributions(loaded, pixels), 0, steps=16, baseline=baseline,
                                order="positive", draws=4)
    assert np.all(result.deletion_auc < result.random_deletion_auc)
    assert np.all(result.insertion_auc > result.random_insertion_auc)


def test_to_black_the_exact_order_is_below_every_random_draw_at_every_step(loaded):
    pixels = images()
    exact = deletion_insertion(loaded, pixels, contributions(loaded, pixels), 0, steps=16, baseline="black",
                               order="positive", draws=1)
    for seed in range(5):
        single = random_reference(loaded, pixels, 0, steps=16, baseline="black", draws=1, seed=seed)
        assert np.all(exact.deletion <= single.deletion + 1e-7)
        assert np.all(exact.insertion >= single.insertion - 1e-7)


def test_a_constant_map_is_the_random_order(loaded):
    pixels = images()
    result = deletion_insertion(loaded, pixels, np.ones((3, SIDE, SIDE)), 0, steps=16, draws=1, seed=7)
    np.testing.assert_array_equal(result.deletion, result.reference.deletion)
    np.testing.assert_array_equal(result.insertion, result.reference.insertion)
    np.testing.assert_array_equal(result.deletion_auc, result.random_deletion_auc)


def test_the_curves_start_and_end_where_they_must(loaded):
    pixels = images()
    result = deletion_insertion(loaded, pixels, contributions(loaded, pixels), 0, steps=8, baseline="black")
    probabilities = torch.softmax(loaded.model(torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255), 1)
    np.testing.assert_allclose(result.deletion[:, 0], probabilities[:, 0].detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.insertion[:, -1], probabilities[:, 0].detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.deletion[:, -1], result.insertion[:, 0])
    assert area(np.ones(5), np.linspace(0, 1, 5)) == pytest.approx(1.0)


def test_the_random_reference_is_seeded(loaded):
    pixels = images()
    first = random_reference(loaded, pixels, 0, steps=8, draws=2, seed=3)
    again = random_reference(loaded, pixels, 0, steps=8, draws=2, seed=3)
    other = random_reference(loaded, pixels, 0, steps=8, draws=2, seed=4)
    assert first.deletion.tobytes() == again.deletion.tobytes()
    assert first.insertion.tobytes() == again.insertion.tobytes()
    assert first.deletion.tobytes() != other.deletion.tobytes()


def test_a_shared_reference_gives_the_same_figures(loaded):
    pixels = images()
    maps = contributions(loaded, pixels)
    reference = random_reference(loaded, pixels, 0, steps=8, draws=2, seed=5)
    shared = deletion_insertion(loaded, pixels, maps, 0, steps=8, reference=reference)
    own = deletion_insertion(loaded, pixels, maps, 0, steps=8, draws=2, seed=5)
    np.testing.assert_array_equal(shared.deletion, own.deletion)
    np.testing.assert_array_equal(shared.random_deletion_auc, own.random_deletion_auc)
    with pytest.raises(MetricInputError, match="reference was computed for 3 images, 8 steps"):
        deletion_insertion(loaded, pixels, maps, 0, steps=10, reference=reference)


@pytest.fixture(scope="module")
def resnet20() -> LoadedModel:
    """ResNet-20 with seeded random weights: the curves' batching depends on the network's operations, not on the
    values of its weights."""
    return load_model("resnet20", None)


@pytest.mark.parametrize("arch", [arch for arch in list_models()
                                  if get_spec(arch).hooks(get_spec(arch).config).batch_invariant])
def test_a_batch_invariant_network_gives_an_image_the_same_bits_in_any_batch(arch):
    """What lets their curves run together: every image's logits are the same bits in batches of 2 and in batches
    of the model's CPU size (untrained weights: the kernels are those of the trained network; no lone image)."""
    loaded = load_model(arch, None)
    batch, size = loaded.hooks.cpu_batch_size, loaded.input_size
    x = torch.rand(batch + batch % 2 + 2, 3, size, size, generator=torch.Generator().manual_seed(0))
    net = loaded.model.inference_net()
    with torch.inference_mode():
        pairs, full = (torch.cat([net(loaded.model.normalize(chunk)) for chunk in x.split(split)])
                       for split in (2, batch))
    assert torch.equal(pairs, full)


@pytest.mark.parametrize("n, steps", [(2, 5), (1, 66), (3, 1)])
def test_the_curves_run_together_equal_the_curves_run_one_by_one(resnet20, n, steps):
    """Bit for bit: the ends run once and every curve in shared batches, or each curve on its own in consecutive
    batches of 66 (one image at 66 steps: its last image alone, which rounds differently from a batch)."""
    x = to_tensor(np.random.default_rng(n).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8))  # channels-last
    base = baseline_images(x, "blur")
    assert x.stride() == base.stride()
    rng = np.random.default_rng(steps)
    ranks = np.stack([faithfulness.random_ranks(n, 32 * 32, rng) for _ in range(1 if steps > 20 else 2)])
    targets = np.arange(n) % 10
    net = resnet20.model.inference_net()
    with torch.inference_mode():
        together = faithfulness._curves_together(resnet20, net, x, base, ranks, targets, steps)
        one_by_one = faithfulness._curves_one_by_one(resnet20, net, x, base, ranks, targets, steps)
    for joint, alone in zip(together, one_by_one):
        assert joint.shape == (len(ranks), n, steps + 1) and joint.tobytes() == alone.tobytes()


def test_batches_are_never_a_lone_row_and_never_over_the_size():
    for batch in (2, 3, 8, 66):
        for total in range(2, 200):
            sizes = [len(b) for b in faithfulness._batches(total, batch)]
            assert sum(sizes) == total and min(sizes) >= 2 and max(sizes) <= max(batch, 3)
    assert [len(b) for b in faithfulness._batches(5, 1)] == [1] * 5


def test_the_order_reads_the_absolute_value_or_the_positive_part():
    maps = np.array([[[0.5, -2.0], [1.0, 0.0]]])
    np.testing.assert_array_equal(importance_ranks(maps, "abs"), [[2, 0, 1, 3]])
    assert importance_ranks(maps, "positive")[0, :3].tolist()[0] == 1 and importance_ranks(maps, "positive")[0, 2] == 0


def test_the_baselines():
    x = torch.rand(2, 3, 32, 32)
    assert baseline_images(x, "black").abs().sum() == 0
    mean = baseline_images(x, "mean")
    torch.testing.assert_close(mean[:, :, 5, 7], x.mean(dim=(2, 3)))
    blurred = baseline_images(x, "blur")
    assert blurred.shape == x.shape and blurred.std() < x.std()


@pytest.mark.parametrize("kwargs, error, words", [
    ({"steps": 0}, ParameterError, "steps must be an integer from 1 to 256"),
    ({"steps": 10**9}, ParameterError, "steps must be an integer from 1 to 256"),
    ({"steps": 2.5}, ParameterError, "steps"),
    ({"draws": 0}, ParameterError, "draws must be an integer from 1 to 64"),
    ({"seed": -1}, ParameterError, "seed"),
    ({"baseline": "white"}, UnknownOptionError, "baseline must be one of blur, mean, black"),
    ({"order": "signed"}, UnknownOptionError, "order must be one of abs, positive"),
])
def test_bad_options_are_typed_errors(loaded, kwargs, error, words):
    pixels = images(1)
    with pytest.raises(error, match=words):
        deletion_insertion(loaded, pixels, np.ones((1, SIDE, SIDE)), 0, **kwargs)


@pytest.mark.parametrize("maps, words", [
    (np.ones((2, SIDE, SIDE)), "one 8×8 map per image"),
    (np.ones((1, 4, 4)), "one 8×8 map per image"),
    (np.full((1, SIDE, SIDE), np.nan), "NaN or infinite"),
])
def test_bad_maps_are_typed_errors(loaded, maps, words):
    with pytest.raises(MetricInputError, match=words):
        deletion_insertion(loaded, images(1), maps, 0)


@pytest.mark.parametrize("percentages", [(), (0, 50), (50, 100), (12.5,), tuple(range(1, 100)) + (50,)])
def test_road_takes_whole_percentages_from_1_to_99(loaded, percentages):
    with pytest.raises(ParameterError, match="percentages"):
        road(loaded, images(1), np.ones((1, SIDE, SIDE)), 0, percentages=percentages)


def test_road_morf_falls_and_lerf_holds_for_the_exact_attribution(loaded):
    pixels = images(4)
    result = road(loaded, pixels, contributions(loaded, pixels), 0, order="positive", percentages=(20, 50, 80))
    assert result.morf.shape == result.lerf.shape == (4, 3)
    assert np.all(result.morf.mean(0) < result.lerf.mean(0))
    assert result.morf_accuracy.shape == (3,)


def test_road_is_seeded(loaded):
    pixels = images(2)
    maps = contributions(loaded, pixels)
    first, again = road(loaded, pixels, maps, 0, seed=1), road(loaded, pixels, maps, 0, seed=1)
    assert first.morf.tobytes() == again.morf.tobytes() and first.lerf.tobytes() == again.lerf.tobytes()


def test_imputation_fills_a_hole_in_a_flat_image_with_its_colour():
    image = np.full((3, 6, 6), 0.25)
    removed = np.zeros((6, 6), dtype=bool)
    removed[2:4, 1:5] = True
    np.testing.assert_allclose(impute(image, removed, noise=0), image, atol=1e-12)


def test_imputation_of_a_ramp_keeps_the_ramp():
    """On a linear ramp each pixel is the mean of its neighbours (symmetric weights), so the hole refills exactly."""
    ramp = np.broadcast_to(np.arange(7, dtype=np.float64), (3, 7, 7)).copy()
    removed = np.zeros((7, 7), dtype=bool)
    removed[2:5, 2:5] = True
    np.testing.assert_allclose(impute(ramp, removed, noise=0), ramp, atol=1e-9)


def test_imputation_needs_a_generator_for_noise():
    with pytest.raises(MetricInputError, match="rng"):
        impute(np.zeros((3, 4, 4)), np.eye(4, dtype=bool), noise=0.01)


class ImageIntensity(AttributionMethod):
    """A 'map' that ignores the model: the image's brightness (what a failing method does in the paper)."""

    name = "image_intensity"

    def _compute(self, x, target):
        return x.mean(1), {}


def test_the_gradient_of_a_linear_model_passes_the_randomisation_check(loaded):
    check = randomisation_check(loaded, images(4), "saliency", 0)
    assert check.layers == ("net.1",)
    assert check.spearman.shape == check.ssim.shape == (4, 1)
    assert check.maps.shape == (1, 4, SIDE, SIDE)
    assert check.final_spearman < PASS_THRESHOLD and check.passed


def test_a_map_that_ignores_the_weights_fails_the_randomisation_check(loaded, monkeypatch):
    monkeypatch.setitem(METHODS, ImageIntensity.name, ImageIntensity)
    check = randomisation_check(loaded, images(4), ImageIntensity.name, 0)
    np.testing.assert_allclose(check.spearman, 1.0)
    assert not check.passed


def test_the_randomisation_check_leaves_the_model_alone(loaded):
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    randomisation_check(loaded, images(2), "saliency", 0, seed=3)
    for key, value in loaded.model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_the_cascade_goes_from_the_top_layer_down():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    assert randomisable_layers(Classifier(net, (0, 0, 0), (1, 1, 1))) == ["net.4", "net.1", "net.0"]


@pytest.mark.parametrize("kwargs", [{"seed": -1}, {"seed": 2**40}, {"max_stages": 0}, {"max_stages": 10**6}])
def test_randomisation_bounds(loaded, kwargs):
    with pytest.raises(ParameterError):
        randomisation_check(loaded, images(1), "saliency", 0, **kwargs)


# --- quantus, with matched settings ------------------------------------------------------------------------------

quantus = pytest.importorskip("quantus", reason="quantus is a test-only cross-check (requirements-test.txt)")


def test_deletion_to_black_equals_quantus_pixel_flipping(loaded):
    """quantus flips features (channel values) in the map's order, a multiple of the map's 64 pixels at a time:
    4 channel values a step, so every third of its 48 steps ends on whole pixels, 4 more than the last (ours: 16
    steps of 4 pixels). Its "black" is each image's darkest value, so each image gets a 0 somewhere."""
    pixels = images(2)
    pixels[:, 3, 5, 1] = 0
    maps = contributions(loaded, pixels)
    ours = deletion_insertion(loaded, pixels, maps, 0, steps=16, baseline="black", order="positive")
    x = pixels.transpose(0, 3, 1, 2).astype(np.float32) / 255
    flipping = quantus.PixelFlipping(features_in_step=4, perturb_baseline="black", abs=False, normalise=False,
                                     disable_warnings=True)
    theirs = flipping(model=loaded.model, x_batch=x, y_batch=np.zeros(2, dtype=int), a_batch=maps[:, None],
                      softmax=True, channel_first=True, device="cpu")
    np.testing.assert_allclose(ours.deletion[:, 1:], np.asarray(theirs)[:, 2::3], rtol=1e-5, atol=1e-6)


def test_imputation_equals_quantus_noisy_linear_imputation():
    from quantus.functions.perturb_func import noisy_linear_imputation

    rng = np.random.default_rng(0)
    image = rng.random((3, 16, 16))
    for share in (0.05, 0.5, 0.95):
        removed = rng.random((16, 16)) < share
        theirs = noisy_linear_imputation(image, np.flatnonzero(removed), noise=0.0)
        np.testing.assert_allclose(impute(image, removed, noise=0), theirs, atol=1e-12)


def test_the_randomisation_similarity_equals_quantus_mprt(loaded):
    """One layer, so quantus's seed (its seed + 1 for every layer) and ours (seed + stage) draw the same weights;
    quantus also lists the trained map against itself ('original')."""
    pixels = images(3)

    def explain(model, inputs, targets, **kwargs):
        uint8 = np.round(np.asarray(inputs).transpose(0, 2, 3, 1) * 255).astype(np.uint8)
        copy = LoadedModel(model, loaded.card, loaded.classes, SIDE, torch.device("cpu"), loaded.hooks)
        return attribute(copy, uint8, "saliency", np.asarray(targets)).maps[:, None]

    mprt = quantus.MPRT(layer_order="top_down", seed=42, abs=True, normalise=False, disable_warnings=True)
    x = pixels.transpose(0, 3, 1, 2).astype(np.float32) / 255
    theirs = mprt(model=loaded.model, x_batch=x, y_batch=np.zeros(3, dtype=int), a_batch=None, explain_func=explain,
                  device="cpu", softmax=False, channel_first=True)
    ours = randomisation_check(loaded, pixels, "saliency", 0, seed=43)
    assert list(theirs) == ["original", "net.1"]
    np.testing.assert_allclose(ours.spearman[:, -1], theirs["net.1"], atol=1e-9)


def test_road_morf_equals_quantus_road_on_grey_images():
    """quantus's ROAD indexes one map channel per image channel, so it runs on one-channel images: grey images
    (R = G = B), which our imputation fills identically in each channel, and the model fed the channel three times."""
    loaded = linear_model(positive=False, seed=1)
    grey = np.repeat(images(8, seed=2)[..., :1], 3, axis=-1)
    target = loaded.model(torch.from_numpy(grey).permute(0, 3, 1, 2).float() / 255).argmax(1).numpy()
    lead = contributions(loaded, grey)  # each pixel's share of class 0's lead over class 1
    maps = np.where(target[:, None, None] == 0, lead, -lead)
    percentages = (10, 30, 50, 70, 90)
    ours = road(loaded, grey, maps, target, percentages=percentages, order="positive", noise=0.0)
    one_channel = nn.Sequential(ThreeChannels(), loaded.model).eval()
    metric = quantus.ROAD(noise=0.0, percentages=list(percentages), abs=False, normalise=False, disable_warnings=True)
    theirs = metric(model=one_channel, x_batch=grey[..., :1].transpose(0, 3, 1, 2).astype(np.float32) / 255,
                    y_batch=target, a_batch=maps[:, None], softmax=True, channel_first=True, device="cpu")
    np.testing.assert_allclose(ours.morf_accuracy, [theirs[p] for p in percentages])
    assert 0 < ours.morf_accuracy.min() < 1  # some predictions do change: the comparison means something


class ThreeChannels(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, 3, -1, -1)
