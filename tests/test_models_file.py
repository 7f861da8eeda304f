"""A user's models file: parsing, every error it can hold, the three sources, and Grad-CAM's layer found by tracing."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torchvision

from shiftlab.errors import ModelsFileError, UnsupportedMethodError
from shiftlab.models.layers import find_gradcam_layer
from shiftlab.models.models_file import MODELS_ENV_VAR, models_file_path, read_models_file
from shiftlab.models.sources import attention_hooks, build_network, parse_source

GOOD = """
[models.pets]
source = "torchvision:resnet18"
classes = ["cat", "dog", "fox"]
input_size = 64
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]

[models.pets.variants]
baseline = "weights/a.safetensors"
augmix = "weights/b.pth"

[datasets.pets-photos]
folder = "photos"
"""


def write(folder, text: str, files=("weights/a.safetensors", "weights/b.pth"), dirs=("photos",)):
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    for name in dirs:
        (folder / name).mkdir(parents=True, exist_ok=True)
    path = folder / "shiftlab-models.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_file_parses_into_typed_entries(tmp_path):
    parsed = read_models_file(write(tmp_path, GOOD))
    (pets,) = parsed.models
    assert pets.arch == "pets" and str(pets.source) == "torchvision:resnet18"
    assert pets.classes == ("cat", "dog", "fox") and pets.input_size == 64 and pets.gradcam_layer is None
    assert pets.std == (0.229, 0.224, 0.225)
    assert [(v, p.relative_to(tmp_path).as_posix()) for v, p in pets.variants] == [
        ("baseline", "weights/a.safetensors"), ("augmix", "weights/b.pth")]
    (photos,) = parsed.datasets
    assert photos.name == "pets-photos" and photos.folder == tmp_path / "photos" and photos.labels is None


def test_the_file_is_found_by_environment_then_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(MODELS_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert models_file_path() is None
    path = write(tmp_path, GOOD)
    assert models_file_path() == path
    monkeypatch.setenv(MODELS_ENV_VAR, "/elsewhere.toml")
    assert str(models_file_path()) == "/elsewhere.toml"


def test_classes_from_a_file(tmp_path):
    (tmp_path / "classes.txt").write_text("cat\ndog\n\nfox\n")
    text = GOOD.replace('classes = ["cat", "dog", "fox"]', 'classes_file = "classes.txt"')
    assert read_models_file(write(tmp_path, text)).models[0].classes == ("cat", "dog", "fox")


BROKEN = [
    ("[models.pets\n", "not valid TOML"),
    ("[other]\nx = 1\n", "unknown sections"),
    (GOOD.replace("[models.pets]", '[models."a/b"]').replace("models.pets.variants", 'models."a/b".variants'),
     "names are letters"),
    (GOOD.replace("torchvision:resnet18", "keras:resnet18"), "source must be"),
    (GOOD.replace('classes = ["cat", "dog", "fox"]', 'classes = ["cat"]'), "2 to 1000 distinct"),
    (GOOD.replace('classes = ["cat", "dog", "fox"]', 'classes = ["cat", "cat"]'), "distinct"),
    (GOOD.replace('classes = ["cat", "dog", "fox"]\n', ""), "name the classes"),
    (GOOD.replace("input_size = 64", "input_size = 100000"), "input_size must be a whole number"),
    (GOOD.replace("std = [0.229, 0.224, 0.225]", "std = [0.2, 0.0, 0.2]"), "std must be three numbers"),
    (GOOD.replace("mean = [0.485, 0.456, 0.406]", "mean = [0.5, 0.5]"), "mean must be three numbers"),
    (GOOD.replace('augmix = "weights/b.pth"', 'augmix = "weights/missing.pth"'), "no file"),
    (GOOD.replace('augmix = "weights/b.pth"', '"../x" = "weights/b.pth"'), "variant '../x'"),
    (GOOD.replace("[models.pets.variants]\nbaseline = \"weights/a.safetensors\"\naugmix = \"weights/b.pth\"\n", ""),
     "add \\[models.<name>.variants\\]"),
    (GOOD.replace('folder = "photos"', 'folder = "nowhere"'), "no folder"),
    (GOOD.replace("input_size = 64", "input_size = 64\ninput_sise = 32"), "unknown keys \\['input_sise'\\]"),
]


@pytest.mark.parametrize("text, message", BROKEN)
def test_every_mistake_is_a_models_file_error_naming_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ModelsFileError, match=message) as caught:
        read_models_file(path)
    assert str(path) in str(caught.value)


def test_a_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ModelsFileError, match="SHIFTLAB_MODELS"):
        read_models_file(tmp_path / "none.toml")


@pytest.mark.parametrize("source, message", [
    ("torchvision:resnet1", "has no model 'resnet1'; did you mean resnet18"),
    ("timm:not_a_model", "timm has no model 'not_a_model'"),
])
def test_an_unknown_library_model_is_named_with_close_names(tmp_path, source, message):
    with pytest.raises(ModelsFileError, match=message):
        build_network(parse_source(source, tmp_path, "here"), 3, "here")


def test_an_hf_folder_needs_a_config(tmp_path):
    with pytest.raises(ModelsFileError, match="holds no config.json"):
        parse_source("hf:empty", tmp_path, "here")


def tiny_hf_vit(folder, labels=("cat", "dog", "fox")):
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64, num_labels=len(labels), id2label=dict(enumerate(labels)),
                       label2id={name: i for i, name in enumerate(labels)})
    torch.manual_seed(0)
    model = ViTForImageClassification(config).eval()
    model.save_pretrained(folder)
    return model


def test_an_hf_source_reads_its_classes_and_default_weights(tmp_path):
    tiny_hf_vit(tmp_path / "vit")
    text = """
    [models.tiny]
    source = "hf:vit"
    input_size = 32
    mean = [0.5, 0.5, 0.5]
    std = [0.5, 0.5, 0.5]
    """
    (tiny,) = read_models_file(write(tmp_path, text, files=(), dirs=())).models
    assert tiny.classes == ("cat", "dog", "fox")
    assert tiny.variants == (("baseline", tmp_path / "vit" / "model.safetensors"),)


def test_rollout_reads_hugging_face_and_timm_vits(tmp_path):
    timm = pytest.importorskip("timm")
    hf_model = tiny_hf_vit(tmp_path / "vit")
    hf = build_network(parse_source("hf:vit", tmp_path, "here"), 3, "here")
    hf.hf.load_state_dict(hf_model.state_dict())
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=3, img_size=32, patch_size=8)
    x = torch.rand(2, 3, 32, 32)
    for net, layers in ((hf.eval(), 2), (vit.eval(), 12)):
        hooks = attention_hooks(net, 32)
        logits, attentions = hooks.attentions(net, x)
        assert hooks.token_grid == 4 and len(attentions) == layers
        assert attentions[0].shape[-2:] == (17, 17)
        torch.testing.assert_close(attentions[-1].sum(-1), torch.ones_like(attentions[-1].sum(-1)))
        torch.testing.assert_close(logits, net(x))
    assert attention_hooks(torchvision.models.resnet18(num_classes=3), 32) is None


@pytest.mark.parametrize("build, layer", [
    (lambda: torchvision.models.resnet18(num_classes=3), "layer4"),
    (lambda: torchvision.models.mobilenet_v3_small(num_classes=3), "features"),
    (lambda: torchvision.models.efficientnet_b0(num_classes=3), "features"),
])
def test_the_traced_gradcam_layer_is_the_one_a_person_names(build, layer):
    assert find_gradcam_layer(build(), 64) == layer


def test_timm_convnext_and_mobilenet_layers():
    timm = pytest.importorskip("timm")
    assert find_gradcam_layer(timm.create_model("convnext_atto", num_classes=3), 64) == "stages"
    assert find_gradcam_layer(timm.create_model("mobilenetv3_small_050", num_classes=3), 64) == "blocks"


def test_a_vit_has_no_spatial_layer():
    with pytest.raises(UnsupportedMethodError, match="gradcam_layer"):
        find_gradcam_layer(torchvision.models.VisionTransformer(32, 8, num_layers=2, num_heads=2, hidden_dim=32,
                                                                mlp_dim=64, num_classes=3), 32)
