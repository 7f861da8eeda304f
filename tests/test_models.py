"""The model registry: every architecture builds, shipped checkpoints load and classify, ImageNet weights work."""

from __future__ import annotations

import os

import numpy as np
import pytest
import skimage.data
import torch

from bench.bench_cards import SUBSET, card_problems, subset_figures, weights_and_figures_digest
from shiftlab.data import fingerprint, load_dataset
from shiftlab.errors import CheckpointError, UnknownModelError, UnknownVariantError
from shiftlab.images import fit_to_model
from shiftlab.inference import predict_logits
from shiftlab.metrics import accuracy
from shiftlab.models import build_model, get_spec, list_models, list_variants, load_model
from shiftlab.models.cifar_resnet import CifarResNet
from shiftlab.zoo.evaluate import evaluate_clean

CIFAR_ARCHS = [a for a in list_models() if get_spec(a).dataset == "cifar10"]


@pytest.fixture(scope="module")
def sample():
    return load_dataset("cifar10-sample")


def test_registry_lists_every_family():
    assert {"resnet20", "resnet32", "resnet56", "vit_tiny", "efficientnet_lite0", "resnet50"} <= set(list_models())


def test_unknown_arch_is_a_typed_error():
    with pytest.raises(UnknownModelError, match="unknown model 'resnet18'.*resnet20"):
        load_model("resnet18")


@pytest.mark.parametrize("depth, params", [(20, 269_722), (32, 464_154), (56, 853_018)])
def test_cifar_resnet_depths_match_he_et_al(depth, params):
    """Parameter counts of He et al.'s table 6 (0.27 M, 0.46 M, 0.85 M)."""
    assert sum(p.numel() for p in CifarResNet(depth).parameters()) == params


def test_cifar_resnet_rejects_bad_depth():
    with pytest.raises(ValueError, match="6n\\+2"):
        CifarResNet(21)


@pytest.mark.parametrize("arch", CIFAR_ARCHS)
def test_forward_pass_on_sample(arch, sample):
    model = build_model(arch).eval()
    logits = predict_logits(model, sample.images[:16])
    assert logits.shape == (16, 10) and np.isfinite(logits).all()


def test_normalisation_lives_inside_the_wrapper():
    model = build_model("resnet20").eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        direct = model.net((x - model.mean) / model.std)
        np.testing.assert_allclose(model(x).numpy(), direct.numpy(), rtol=1e-6)
    assert "mean" not in model.state_dict() and "net.conv1.weight" in model.state_dict()


@pytest.mark.parametrize("arch", ["resnet20", "vit_tiny", "resnet50", "efficientnet_lite0"])
def test_inference_net_is_the_network_up_to_rounding(arch):
    loaded = load_model(arch, None, seed=0)
    fused = loaded.model.inference_net()
    x = torch.rand(2, 3, loaded.input_size, loaded.input_size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected, got = loaded.model.net(x), fused(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    assert loaded.model.net.training is False and loaded.model.inference_net() is fused  # kept, not remade


def test_inference_net_follows_the_weights():
    loaded = load_model("resnet20", None, seed=0)
    before = loaded.model.inference_net()
    with torch.no_grad():
        loaded.model.net.bn1.weight.mul_(2)
    after = loaded.model.inference_net()
    x = torch.rand(2, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(after(x), loaded.model.net(x), rtol=1e-4, atol=1e-4)
    assert after is not before and not any(isinstance(m, torch.nn.BatchNorm2d) for m in after.modules())
    loaded.model.to(torch.float64)  # moved: new storage, same versions
    assert loaded.model.inference_net() is not after


def test_inference_net_is_made_while_another_session_holds_hooks_on_the_network():
    loaded = load_model("resnet20", None, seed=0)
    calls = []
    handle = loaded.model.net.layer3.register_forward_hook(lambda module, args, out: calls.append(module))
    loaded.model.train()
    fused = loaded.model.inference_net()  # the hook is not traced into the copy, the original keeps its mode
    assert not calls and loaded.model.net.training
    with torch.inference_mode():
        fused(torch.rand(1, 3, 32, 32))
        loaded.model.net(torch.rand(2, 3, 32, 32))
    assert calls == [loaded.model.net.layer3]
    handle.remove()


def test_resnet20_baseline_is_shipped():
    assert "baseline" in list_variants("resnet20")


SHIPPED = [(arch, v) for arch in CIFAR_ARCHS for v in list_variants(arch)]


@pytest.mark.parametrize("arch, variant", SHIPPED)
def test_shipped_checkpoint_classifies_the_sample(arch, variant, sample):
    loaded = load_model(arch, variant, device="cpu")
    assert not loaded.model.training
    assert loaded.classes == sample.classes and loaded.input_size == 32
    acc = accuracy(sample.labels, predict_logits(loaded.model, sample.images))
    assert acc > 0.6, f"{arch}/{variant} reaches only {acc:.3f} on the embedded sample (chance is 0.1)"
    card = loaded.card
    assert card.arch == arch and card.variant == variant
    for key in ("accuracy", "macro_f1", "ece", "nll"):
        assert card.figure(key) is not None
    for key in ("epochs", "optimizer", "batch_size", "seed", "device", "wall_time_s"):
        assert getattr(card.recipe, key) is not None
    assert card.data["train"]["sha256"] and card.git_commit


@pytest.fixture(scope="module")
def cifar10_test(data_root):
    """The full CIFAR-10 test set, read once for every card check."""
    return load_dataset("cifar10", "test", root=data_root)


#: set to 1 to evaluate every shipped variant on the whole test set here, as python -m bench.bench_cards --all does
FULL_CARD_CHECK = os.environ.get("SHIFTLAB_FULL_CARD_CHECK") == "1"
#: sha256 of each shipped variant's weights file and of its card's clean figures, as they were when a full
#: evaluation of the test set last reproduced those figures (python -m bench.bench_cards --all prints them)
CHECKED_CARDS = {
    ("resnet20", "baseline"): "5cc17ae199df153a59b0046d64033f1d83e3c1de4426c9fbb9543ffcd7612b84",
    ("resnet20", "augmix"): "cabd1f5d69fc43761316b485952d1957a019ecb43351fb5063983bf32c3965da",
    ("resnet20", "pixmix"): "c47251dbdc8bddd51217207c9e5db3e73ba7448019f874a813b6c32215fc33ce",
    ("resnet20", "pgd_adv"): "9e8a2190251685103ddfb611d5e67bfc51cec6e2d02488d200b404958424fe8d",
    ("resnet20", "free_adv"): "a5b8938e8aca90e94114baa0345dfa12d17b47a5891c75bc331fab26cdbc351f",
    ("resnet20", "fast_adv"): "eead9854a5f08d195b6a9bfd2258ca3789a89eb10fb8f3b500fc5da3712e3414",
    ("vit_tiny", "baseline"): "f0a87b175c051db09c1039be9cb3c41ae25c9ffa39494f1c7732284c526e0c48",
    ("vit_tiny", "augmix"): "6d97ea1b23398f8962acf60abaec2f5ed0d12ea9cb8bc03ce42aa90e55dc8b29",
    ("vit_tiny", "fast_adv"): "a39ee00118e3489ba5e4ef1c9a84b8575addc44280233984bc12fd2f812aa82e",
}
#: accuracy and ECE of each architecture's first variant on the first bench_cards.SUBSET test images, computed by
#: bench/bench_cards.py when its evaluation of the whole test set last reproduced the card (the full evaluations,
#: 8 s for ResNet-20 and 24 s for the ViT on 2 cores, moved there)
SUBSET_FIGURES = {
    ("resnet20", "baseline"): {"accuracy": 0.928, "ece": 0.034533},
    ("vit_tiny", "baseline"): {"accuracy": 0.818, "ece": 0.05847},
}


@pytest.mark.parametrize("arch, variant", SHIPPED)
def test_card_accuracy_is_what_evaluation_computes(arch, variant, cifar10_test):
    # the weights and figures must be those a full evaluation last reproduced (bench/bench_cards.py), or the full
    # check runs here: the card's test set is this one, accuracy within 2e-4 (two images), ECE within 1e-3
    loaded = load_model(arch, variant, device="cpu")
    if FULL_CARD_CHECK:
        assert card_problems(loaded, evaluate_clean(loaded.model, cifar10_test)) == []
        return
    assert CHECKED_CARDS.get((arch, variant)) == weights_and_figures_digest(loaded), (
        f"{arch}/{variant}'s weights or card changed since a full evaluation reproduced its figures: run "
        "python -m bench.bench_cards --all and update CHECKED_CARDS and SUBSET_FIGURES")


@pytest.mark.parametrize("arch, variant", sorted(SUBSET_FIGURES))
def test_the_evaluation_still_gives_the_figures_of_the_last_full_check(arch, variant, cifar10_test):
    """The card's test set is this one, and the model's code and the evaluation still give, on the first test
    images, what they gave when the card's figures were last reproduced on the whole test set (its weights and
    card unchanged since: CHECKED_CARDS)."""
    loaded = load_model(arch, variant, device="cpu")
    assert loaded.card.reference_data("clean").sha256 == fingerprint(cifar10_test).sha256
    fresh = subset_figures(loaded, cifar10_test)
    recorded = SUBSET_FIGURES[arch, variant]
    assert fresh["accuracy"] == pytest.approx(recorded["accuracy"], abs=2 / SUBSET)
    assert fresh["ece"] == pytest.approx(recorded["ece"], abs=1e-3)


def test_missing_cifar_variant_names_the_expected_file():
    with pytest.raises(CheckpointError, match="resnet20/no_such_variant.*no_such_variant.safetensors"):
        load_model("resnet20", "no_such_variant")


def test_missing_resnet50_variant_says_where_to_get_it():
    with pytest.raises(CheckpointError, match="texture-vs-shape"):
        load_model("resnet50", "sin")


@pytest.fixture(scope="module")
def efficientnet():
    return load_model("efficientnet_lite0", device="cpu")


def _top_classes(loaded, image: np.ndarray, k: int) -> list[str]:
    logits = predict_logits(loaded.model, fit_to_model(image, loaded.input_size)[None])[0]
    return [loaded.classes[i] for i in np.argsort(logits)[::-1][:k]]


def test_efficientnet_lite0_recognises_chelsea_the_cat(efficientnet):
    top3 = _top_classes(efficientnet, skimage.data.chelsea(), 3)
    assert {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"} & set(top3), top3


def test_efficientnet_lite0_recognises_espresso(efficientnet):
    assert _top_classes(efficientnet, skimage.data.coffee(), 1) == ["espresso"]


def test_efficientnet_metadata(efficientnet):
    assert len(efficientnet.classes) == 1000 and efficientnet.input_size == 224
    assert list_variants("efficientnet_lite0") == ["baseline"]
    with pytest.raises(UnknownVariantError, match="has only the variants baseline, not 'augmix'"):
        load_model("efficientnet_lite0", "augmix")
