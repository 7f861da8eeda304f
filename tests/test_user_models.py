"""A user's own models join the zoo: torchvision, timm and Hugging Face sources load strictly from local files,
predict what the plain library model predicts, and every attribution method runs on them."""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file

from shiftlab.attribution import attribute, list_methods
from shiftlab.data import fingerprint, list_datasets, load_dataset
from shiftlab.errors import CheckpointMismatchError, UnknownDatasetError, UnknownModelError, UnsupportedMethodError
from shiftlab.models import forget_models_file, list_models, load_model, models_file_problem, use_models_file
from tests.test_models_file import tiny_hf_vit

ZOO = list_models()
MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
WCAM_QUICK = {"grid_size": 8, "nb_design": 2, "max_design": 2}


@pytest.fixture(autouse=True)
def no_models_file_after():
    yield
    forget_models_file()


def models_file(folder, arch: str, source: str, size: int, variants: dict[str, str], classes=("cat", "dog", "fox"),
                extra: str = "") -> object:
    lines = "\n".join(f'{name} = "{path}"' for name, path in variants.items())
    text = f"""
    [models.{arch}]
    source = "{source}"
    classes = {list(classes)!r}
    input_size = {size}
    mean = {MEAN}
    std = {STD}
    {extra}
    [models.{arch}.variants]
    """
    path = folder / "shiftlab-models.toml"
    path.write_text(textwrap.dedent(text).replace("'", '"') + lines + "\n")
    return path


def seeded(build):
    torch.manual_seed(0)
    return build().eval()


def same_logits(arch: str, variant: str, net: torch.nn.Module, size: int) -> object:
    loaded = load_model(arch, variant, device="cpu")
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    normalised = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), net(normalised))
    return loaded


def every_method_runs(loaded, size: int) -> None:
    images = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    for method in list_methods(loaded):
        options = WCAM_QUICK if method == "wcam" else {"n_steps": 4} if method == "integrated_gradients" else {}
        result = attribute(loaded, images, method, **options)
        assert result.maps.shape == (1, size, size) and np.isfinite(result.maps).all(), method


def test_a_torchvision_model_with_two_variants_joins_the_zoo(tmp_path):
    nets = {v: seeded(lambda: torchvision.models.resnet18(num_classes=3)) for v in ("plain", "augmix")}
    torch.nn.init.normal_(nets["augmix"].fc.weight)
    save_file(nets["plain"].state_dict(), tmp_path / "plain.safetensors")
    torch.save({"state_dict": {f"module.{k}": v for k, v in nets["augmix"].state_dict().items()}}, tmp_path / "a.pth")
    use_models_file(models_file(tmp_path, "pets", "torchvision:resnet18", 48,
                                {"baseline": "plain.safetensors", "augmix": "a.pth"}))
    assert list_models() == [*ZOO, "pets"]
    for variant in ("baseline", "augmix"):
        loaded = same_logits("pets", variant, nets["plain" if variant == "baseline" else "augmix"], 48)
    assert loaded.hooks.gradcam_layer == "net.layer4" and loaded.classes == ["cat", "dog", "fox"]
    assert list_methods(loaded) == ["saliency", "integrated_gradients", "gradcam", "wcam", "wam"]
    every_method_runs(loaded, 48)  # layer4's map is 2×2 at 48 px: the smallest side Grad-CAM has a map at


def timm_in_models_file(folder, arch: str, name: str, size: int) -> torch.nn.Module:
    """A seeded timm network saved as ``arch``'s baseline in a models file that is then used."""
    timm = pytest.importorskip("timm")
    net = seeded(lambda: timm.create_model(name, pretrained=False, num_classes=3))
    save_file(net.state_dict(), folder / "w.safetensors")
    use_models_file(models_file(folder, arch, f"timm:{name}", size, {"baseline": "w.safetensors"}))
    return net


def test_a_timm_convnext_and_a_named_gradcam_layer(tmp_path):
    net = timm_in_models_file(tmp_path, "tiny", "convnext_atto", 64)
    loaded = same_logits("tiny", "baseline", net, 64)
    assert loaded.hooks.gradcam_layer == "net.stages"
    forget_models_file()
    use_models_file(models_file(tmp_path, "tiny", "timm:convnext_atto", 64, {"baseline": "w.safetensors"},
                                extra='gradcam_layer = "stages.2"'))
    assert load_model("tiny", "baseline").hooks.gradcam_layer == "net.stages.2"


def test_a_timm_vit_gets_rollout_and_token_gradcam(tmp_path):
    net = timm_in_models_file(tmp_path, "vitty", "vit_tiny_patch16_224", 224)
    loaded = same_logits("vitty", "baseline", net, 224)
    assert loaded.family == "vit" and loaded.hooks.token_grid == 14
    assert loaded.hooks.gradcam_layer == "net.blocks.11.norm1"
    images = np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    for method in ("attention_rollout", "gradient_rollout", "gradcam"):
        assert attribute(loaded, images, method).maps.shape == (1, 224, 224)


def test_a_hugging_face_vit_loads_its_save_pretrained_weights_and_gets_rollout(tmp_path):
    model = tiny_hf_vit(tmp_path / "vit")
    path = tmp_path / "shiftlab-models.toml"
    path.write_text(textwrap.dedent(f"""
    [models.hfvit]
    source = "hf:vit"
    input_size = 32
    mean = {MEAN}
    std = {STD}
    """))
    use_models_file(path)
    loaded = load_model("hfvit", "baseline", device="cpu")
    x = torch.rand(2, 3, 32, 32)
    normalised = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(pixel_values=normalised).logits)
    assert loaded.family == "vit" and loaded.classes == ["cat", "dog", "fox"]
    assert {"attention_rollout", "gradient_rollout", "gradcam"} <= set(list_methods(loaded))
    every_method_runs(loaded, 32)


def test_a_wrong_class_count_names_the_file(tmp_path):
    save_file(seeded(lambda: torchvision.models.resnet18(num_classes=4)).state_dict(), tmp_path / "w.safetensors")
    use_models_file(models_file(tmp_path, "pets", "torchvision:resnet18", 32, {"baseline": "w.safetensors"}))
    with pytest.raises(CheckpointMismatchError, match="w.safetensors"):
        load_model("pets", "baseline")


def test_a_name_of_the_zoo_or_a_broken_file_leaves_the_zoo_working(tmp_path):
    save_file(seeded(lambda: torchvision.models.resnet18(num_classes=3)).state_dict(), tmp_path / "w.safetensors")
    use_models_file(models_file(tmp_path, "resnet20", "torchvision:resnet18", 32, {"baseline": "w.safetensors"}))
    assert "is a model of shiftlab's zoo" in str(models_file_problem())
    assert list_models() == ZOO and load_model("resnet20", "baseline").arch == "resnet20"
    (tmp_path / "shiftlab-models.toml").write_text("[models.x\n")
    use_models_file(tmp_path / "shiftlab-models.toml")
    assert "not valid TOML" in str(models_file_problem()) and list_models() == ZOO
    with pytest.raises(UnknownModelError):
        load_model("pets")


def test_a_network_without_a_spatial_layer_is_not_offered_gradcam(tmp_path):
    save_file(seeded(lambda: torchvision.models.resnet18(num_classes=3)).state_dict(), tmp_path / "w.safetensors")
    use_models_file(models_file(tmp_path, "pets", "torchvision:resnet18", 64, {"baseline": "w.safetensors"}))
    loaded = load_model("pets", "baseline")
    flat = dataclasses.replace(loaded, hooks=dataclasses.replace(loaded.hooks, gradcam_layer=None))
    assert "gradcam" not in list_methods(flat)
    with pytest.raises(UnsupportedMethodError, match="gradcam needs a spatial layer .* name one with gradcam_layer"):
        attribute(flat, np.zeros((1, 32, 32, 3), np.uint8), "gradcam")


def test_a_folder_dataset_is_ordered_like_the_models_classes(tmp_path):
    for i, name in enumerate(["dog", "cat", "fox", "dog"]):
        (tmp_path / "photos" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(tmp_path / "photos" / name / f"{i}.png")
    save_file(seeded(lambda: torchvision.models.resnet18(num_classes=3)).state_dict(), tmp_path / "w.safetensors")
    path = models_file(tmp_path, "pets", "torchvision:resnet18", 48, {"baseline": "w.safetensors"},
                       classes=("fox", "dog", "cat"))
    path.write_text(path.read_text() + '\n[datasets.pets-photos]\nfolder = "photos"\n')
    use_models_file(path)
    assert list_datasets()["pets-photos"] == ("test",)
    data = load_dataset("pets-photos")
    assert data.classes == ["fox", "dog", "cat"] and data.labels.tolist() == [2, 1, 1, 0]
    assert data.images.shape == (4, 48, 48, 3) and not data.images._decoded
    assert fingerprint(data).n == 4 and not data.images._decoded  # fingerprinted from the files' bytes
    assert data.subset([3]).images.shape == (1, 48, 48, 3)
    forget_models_file()
    with pytest.raises(UnknownDatasetError, match="unknown dataset"):
        load_dataset("pets-photos")


def test_a_folder_is_evaluated_and_the_card_goes_beside_the_users_weights(tmp_path):
    from shiftlab.models import get_spec
    from shiftlab.zoo.evaluate import measure
    from shiftlab.zoo.publish import publish_results

    for i, name in enumerate(["cat", "dog", "fox", "cat"]):
        (tmp_path / "photos" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((40, 40, 3), 50 * i, np.uint8)).save(tmp_path / "photos" / name / f"{i}.png")
    network = seeded(lambda: torchvision.models.mobilenet_v3_small(num_classes=3))
    save_file(network.state_dict(), tmp_path / "w.safetensors")
    path = models_file(tmp_path, "pets", "torchvision:mobilenet_v3_small", 32, {"baseline": "w.safetensors"})
    path.write_text(path.read_text() + '\n[datasets.photos]\nfolder = "photos"\n')
    use_models_file(path)
    results = measure("pets", "baseline", ("clean", "corruptions"), data="photos", log=None)
    clean, corruptions = (result.figures for result in results)
    assert clean.n == 4 and 0 <= corruptions.mean_accuracy <= 1
    card = publish_results("pets", "baseline", results)
    assert card == tmp_path / "w.json" and get_spec("pets").external
    assert load_model("pets", "baseline").card.measurements["photos/test"].clean.n == 4


def test_a_sweep_runs_the_models_files_variants_on_its_folder(tmp_path):
    from shiftlab.sweep.results import open as open_sweep
    from shiftlab.sweep.run import sweep

    for i, name in enumerate(["cat", "dog", "fox"]):
        (tmp_path / "photos" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((40, 40, 3), 60 * i, np.uint8)).save(tmp_path / "photos" / name / f"{i}.png")
    for variant in ("a", "b"):
        save_file(seeded(lambda: torchvision.models.mobilenet_v3_small(num_classes=3)).state_dict(),
                  tmp_path / f"{variant}.safetensors")
    path = models_file(tmp_path, "pets", "torchvision:mobilenet_v3_small", 32,
                       {"baseline": "a.safetensors", "augmix": "b.safetensors"})
    path.write_text(path.read_text() + '\n[datasets.photos]\nfolder = "photos"\n')
    use_models_file(path)
    sweep(tmp_path / "sweep", ["pets"], ["fog"], severities=(1,), data="photos", progress=False)
    accuracy = open_sweep(tmp_path / "sweep").accuracy()
    assert sorted(set(accuracy["variant"])) == ["augmix", "baseline"] and set(accuracy["model"]) == {"pets"}
