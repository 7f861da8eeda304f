"""The model registry and the variant vocabulary: registration at the definition site, duplicates refused,
a spec registered at run time listed and loaded like the shipped ones, every variant list derived from one place."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from shiftlab.errors import DuplicateNameError, ParameterError, UnknownVariantError
from shiftlab.models import (
    ModelCard,
    ModelSpec,
    Weights,
    get_spec,
    get_variant,
    known_variants,
    list_models,
    list_variants,
    load_model,
    register_model,
    register_variant,
    registry,
    resolve_variant,
    save_checkpoint,
)
from shiftlab.models import variants as vocabulary
from shiftlab.models.classifier import AttributionHooks
from shiftlab.training import variants as training
from shiftlab.zoo.targets import TARGETS

ZOO_VARIANTS = ["baseline", "augmix", "pixmix", "pgd_adv", "free_adv", "fast_adv"]


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registries as they are, restored after the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(vocabulary, "_VARIANTS", dict(vocabulary._VARIANTS))
    monkeypatch.setattr(vocabulary, "_ALIASES", dict(vocabulary._ALIASES))
    monkeypatch.setattr(training, "_VARIANTS", dict(training._VARIANTS))


def tiny_spec(arch: str = "pets_net", dataset: str = "pets") -> ModelSpec:
    """A model as a user's file of models might declare it: any ``nn.Module`` builder, its config and bounds."""
    return ModelSpec(
        arch=arch, dataset=dataset, build=lambda num_classes: torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
            torch.nn.Linear(4, num_classes)),
        config={"num_classes": 37}, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), input_size=16,
        classes=lambda: [f"breed {i}" for i in range(37)], description="a tiny pets classifier",
        hooks=lambda config: AttributionHooks(gradcam_layer="net.0", cpu_batch_size=8),
        weights=(Weights("augmix", "my own run", "AugMix on pets"),),
    )


def test_models_are_listed_by_dataset_then_registration_order():
    assert list_models() == ["resnet20", "resnet32", "resnet56", "vit_tiny", "efficientnet_lite0", "resnet50"]


def test_a_duplicate_architecture_is_refused(fresh_registry):
    with pytest.raises(DuplicateNameError, match="'resnet20' is already registered"):
        register_model(replace(get_spec("resnet20"), description="another"))
    assert get_spec("resnet20").description.startswith("CIFAR ResNet-20")


@pytest.mark.parametrize("change, message", [
    ({"arch": "../evil"}, "arch is letters"),
    ({"dataset": "a/b"}, "dataset is letters"),
    ({"config": {"num_classes": 37, "width": 4}}, r"config fields \['width'\] have no range"),
    ({"config": {"num_classes": 5000}}, "num_classes must be an integer from 2 to 1000"),
])
def test_a_malformed_spec_is_refused(fresh_registry, change, message):
    with pytest.raises(ParameterError, match=message):
        register_model(replace(tiny_spec(), **change))
    assert "pets_net" not in list_models()


def test_a_spec_registered_at_run_time_is_listed_and_loaded(fresh_registry, tmp_path, monkeypatch):
    monkeypatch.setenv(registry.CHECKPOINT_ENV_VAR, str(tmp_path))
    spec = register_model(tiny_spec())
    assert list_models()[-1] == "pets_net" and list_variants("pets_net") == []
    net = spec.build(num_classes=37)
    save_checkpoint(net, ModelCard("pets_net", "augmix", dataset="pets"), tmp_path / "pets" / "pets_net" / "augmix")
    assert list_variants("pets_net") == ["augmix"]
    loaded = load_model("pets_net", "augmix", device="cpu")
    assert loaded.card.variant == "augmix" and len(loaded.classes) == 37
    assert loaded.model(torch.rand(2, 3, 16, 16)).shape == (2, 37)


def test_the_variant_vocabulary_owns_every_variant_list():
    names = [v.name for v in known_variants()]
    assert names == ZOO_VARIANTS
    assert set(training.list_training_variants()) == set(names)
    assert [w.variant for w in get_spec("vit_tiny").weights] == names
    assert list(TARGETS) == [v.name for v in known_variants() if v.kind != "standard"]
    assert resolve_variant("adv") == "pgd_adv" and resolve_variant("adv_free") == "free_adv"
    assert get_variant("adv").name == "pgd_adv" and resolve_variant("mine") == "mine"


def test_a_duplicate_variant_or_alias_is_refused(fresh_registry):
    with pytest.raises(DuplicateNameError, match="'augmix' is already registered"):
        register_variant(vocabulary.Variant("augmix", "again", "augmentation", "#000000"))
    with pytest.raises(DuplicateNameError, match="'adv' is already registered"):
        register_variant(vocabulary.Variant("cutmix", "CutMix", "augmentation", "#000000", aliases=("adv",)))
    with pytest.raises(ParameterError, match="kind must be one of"):
        register_variant(vocabulary.Variant("cutmix", "CutMix", "regularisation", "#000000"))
    assert "cutmix" not in [v.name for v in known_variants()]


def test_a_training_variant_outside_the_vocabulary_or_twice_is_refused(fresh_registry):
    unknown = type("CutMix", (training.TrainingVariant,), {"name": "cutmix"})
    with pytest.raises(UnknownVariantError, match="unknown variant 'cutmix'"):
        training.register_training_variant(unknown)
    again = type("Again", (training.TrainingVariant,), {"name": "augmix"})
    with pytest.raises(DuplicateNameError, match="'augmix' is already registered"):
        training.register_training_variant(again)
    register_variant(vocabulary.Variant("cutmix", "CutMix", "augmentation", "#000000"))
    assert training.register_training_variant(unknown) is unknown
    assert "cutmix" in training.list_training_variants()
