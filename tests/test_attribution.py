"""Attribution methods: shapes and support on every architecture, the methods' own invariants, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
import torch

from shiftlab.attribution import (
    METHODS,
    AttributionError,
    AttributionMethod,
    UnsupportedMethodError,
    attribute,
    get_method,
    list_methods,
    register_method,
)
from shiftlab.attribution.rollout import attention_rollout, discard_lowest, gradient_rollout
from shiftlab.attribution.sobol import jansen_total_order, sobol_design
from shiftlab.attribution.wavelets import bands, project_to_image, wavedec, waverec
from shiftlab.data import load_dataset
from shiftlab.errors import DuplicateNameError, ImageInputError, UnknownOptionError
from shiftlab.inference import predict_logits, to_tensor
from shiftlab.models import LoadedModel, get_spec, load_model

#: small settings so that the whole file runs in well under a minute on 2 CPU cores
FAST = {
    "integrated_gradients": {"n_steps": 8},
    "wcam": {"nb_design": 2, "max_design": 2, "grid_size": 4},
    "wam": {"n_samples": 2},
}
CNN_ONLY = ("attention_rollout", "gradient_rollout")


def random_model(arch: str) -> LoadedModel:
    """A seeded, randomly initialised ``arch`` wrapped like ``load_model``'s result (no checkpoint needed)."""
    return load_model(arch, None, device="cpu")


@pytest.fixture(scope="module")
def models() -> dict[str, LoadedModel]:
    return {
        "resnet20": random_model("resnet20"),
        "vit_tiny": random_model("vit_tiny"),
        "efficientnet_lite0": load_model("efficientnet_lite0", device="cpu"),
    }


@pytest.fixture(scope="module")
def cifar_images() -> np.ndarray:
    return load_dataset("cifar10-sample").images[:2]


def images_for(loaded: LoadedModel, cifar: np.ndarray) -> np.ndarray:
    """Two CIFAR images at 32 px, or one upscaled to 224 px (EfficientNet is slow on the CPU)."""
    if loaded.input_size == 32:
        return cifar
    return cifar[:1].repeat(7, axis=1).repeat(7, axis=2)


# ----- every method on every architecture ------------------------------------------------------


@pytest.mark.parametrize("arch", ["resnet20", "vit_tiny", "efficientnet_lite0"])
@pytest.mark.parametrize("method", list(METHODS))
def test_method_runs_or_refuses(models, cifar_images, arch, method):
    loaded = models[arch]
    images = images_for(loaded, cifar_images)
    if method in CNN_ONLY and get_spec(arch).family == "cnn":
        with pytest.raises(UnsupportedMethodError, match=rf"{method} needs a model of family 'vit'; {arch} is a 'cnn'"):
            attribute(loaded, images, method)
        return
    result = attribute(loaded, images, method, **FAST.get(method, {}))
    size = loaded.input_size
    assert result.maps.shape == (len(images), size, size) and result.maps.dtype == np.float32
    assert np.isfinite(result.maps).all()
    assert result.method == method
    np.testing.assert_array_equal(result.target, predict_logits(loaded.model, images).argmax(1))
    assert result.options == {**METHODS[method].defaults(), **FAST.get(method, {})}


def test_list_methods_by_family(models):
    assert list_methods() == list(METHODS)
    assert list_methods(models["vit_tiny"]) == list(METHODS)
    assert set(list_methods(models["resnet20"])) == set(METHODS) - set(CNN_ONLY)


def test_methods_register_where_they_are_defined_in_the_pages_order():
    assert list(METHODS) == ["saliency", "integrated_gradients", "gradcam", "attention_rollout", "gradient_rollout",
                             "wcam", "wam"]
    assert all(get_method(name).name == name for name in METHODS)


def test_a_second_method_of_a_registered_name_is_refused():
    class Impostor(AttributionMethod):
        name = "saliency"

        def _compute(self, x, target):
            return x[:, 0], {}

    registered = dict(METHODS)
    with pytest.raises(DuplicateNameError, match="'saliency' is already registered"):
        register_method(Impostor)
    assert METHODS == registered


def test_each_method_declares_what_a_page_needs_to_know():
    for method in METHODS.values():
        assert method.title and method.description
        assert set(method.interactive_options) | set(method.large_input_options) | set(method.run_controls) <= set(
            method.defaults()), method.name
    assert [name for name, method in METHODS.items() if method.many_passes] == ["integrated_gradients", "wcam", "wam"]


# ----- targets, images and options ------------------------------------------------------------


def test_explicit_targets(models, cifar_images):
    loaded = models["resnet20"]
    assert attribute(loaded, cifar_images, "saliency", target=3).target.tolist() == [3, 3]
    assert attribute(loaded, cifar_images, "saliency", target=[1, 2]).target.tolist() == [1, 2]
    one = attribute(loaded, cifar_images, "gradcam", target=[1, 2]).maps
    other = attribute(loaded, cifar_images, "gradcam", target=[5, 6]).maps
    assert not np.array_equal(one, other)


@pytest.mark.parametrize(
    "target, message",
    [(10, r"\[0, 10\)"), (-1, r"\[0, 10\)"), ([1, 2, 3], "one per image"), (1.5, "int class index"),
     (True, "int class index")],
)
def test_bad_targets_raise(models, cifar_images, target, message):
    with pytest.raises(AttributionError, match=message):
        attribute(models["resnet20"], cifar_images, "saliency", target=target)


def test_bad_images_raise(models, cifar_images):
    loaded = models["resnet20"]
    with pytest.raises(ImageInputError, match="32×32"):
        attribute(loaded, cifar_images[:, :16, :16], "saliency")
    with pytest.raises(ImageInputError, match="uint8"):
        attribute(loaded, cifar_images.astype(np.float32), "saliency")
    with pytest.raises(ImageInputError, match="at least one"):
        attribute(loaded, cifar_images[:0], "saliency")


def test_unknown_method_and_options_raise(models, cifar_images):
    loaded = models["resnet20"]
    with pytest.raises(UnsupportedMethodError, match="known: saliency"):
        attribute(loaded, cifar_images, "lime")
    with pytest.raises(UnknownOptionError, match="unknown option.*steps.*options: n_steps"):
        attribute(loaded, cifar_images, "integrated_gradients", steps=4)


@pytest.mark.parametrize(
    "method, options, message",
    [
        ("integrated_gradients", {"n_steps": 0}, "n_steps"),
        ("integrated_gradients", {"integration": "simpson"}, "integration"),
        ("gradcam", {"layer": "net.layer9"}, "no module"),
        ("wcam", {"nb_design": 3}, "power of two"),
        ("wcam", {"grid_size": 5}, "divide"),
        ("wcam", {"levels": 6}, "levels"),
        ("wam", {"noise": -1.0}, "noise"),
    ],
)
def test_bad_option_values_raise(models, cifar_images, method, options, message):
    with pytest.raises(AttributionError, match=message):
        attribute(models["resnet20"], cifar_images, method, **options)


@pytest.mark.parametrize("options, message",
                         [({"head_fusion": "median"}, "head_fusion"), ({"discard_ratio": 1.0}, "discard_ratio")])
def test_bad_rollout_options_raise(models, cifar_images, options, message):
    with pytest.raises(AttributionError, match=message):
        attribute(models["vit_tiny"], cifar_images, "attention_rollout", **options)


def test_training_mode_is_restored_and_not_used(models, cifar_images):
    loaded = models["resnet20"]
    expected = attribute(loaded, cifar_images, "gradcam").maps
    loaded.model.train()
    try:
        np.testing.assert_array_equal(attribute(loaded, cifar_images, "gradcam").maps, expected)
        assert loaded.model.training
    finally:
        loaded.model.eval()


# ----- integrated gradients, Grad-CAM ---------------------------------------------------------


# a randomly initialised ReLU network is rough along the path: its quadrature needs more steps than the ViT's
@pytest.mark.parametrize("arch, n_steps", [("resnet20", 256), ("vit_tiny", 64)])
def test_integrated_gradients_completeness(models, cifar_images, arch, n_steps):
    loaded = models[arch]
    result = attribute(loaded, cifar_images, "integrated_gradients", n_steps=n_steps, internal_batch_size=128)
    with torch.no_grad():
        x = to_tensor(cifar_images)
        gap = (loaded.model(x) - loaded.model(torch.zeros_like(x)))[np.arange(2), result.target].numpy()
    np.testing.assert_allclose(result.maps.sum((1, 2)), gap, rtol=0.01, atol=5e-3)
    np.testing.assert_allclose(result.extras["convergence_delta"], result.maps.sum((1, 2)) - gap, atol=1e-4)


@pytest.mark.parametrize("arch, coarse", [("resnet20", 8), ("vit_tiny", 8), ("efficientnet_lite0", 7)])
def test_gradcam_is_non_negative_with_the_layer_shape(models, cifar_images, arch, coarse):
    loaded = models[arch]
    images = images_for(loaded, cifar_images)
    result = attribute(loaded, images, "gradcam")
    assert result.extras["coarse"].shape == (len(images), coarse, coarse)
    assert (result.maps >= 0).all() and (result.extras["coarse"] >= 0).all()
    assert result.maps.max() > 0  # the chosen layer does carry gradient (e.g. the ViT's patch tokens)


def test_vit_gradcam_matches_a_hand_computation(models, cifar_images):
    loaded = models["vit_tiny"]
    saved = {}
    layer = loaded.model.net.hf.vit.layers[-1].layernorm_before
    handle = layer.register_forward_hook(lambda module, inputs, output: saved.setdefault("tokens", output))
    try:
        logits = loaded.model(to_tensor(cifar_images))
    finally:
        handle.remove()
    target = logits.argmax(1)
    (gradient,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), saved["tokens"])
    weights = gradient[:, 1:].mean(1, keepdim=True)  # channel weights: gradient averaged over the 64 patches
    cam = torch.relu((saved["tokens"][:, 1:] * weights).sum(-1)).view(2, 8, 8)
    result = attribute(loaded, cifar_images, "gradcam")
    np.testing.assert_allclose(result.extras["coarse"], cam.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_gradcam_custom_layer(models, cifar_images):
    result = attribute(models["resnet20"], cifar_images, "gradcam", layer="net.layer2")
    assert result.extras["coarse"].shape == (2, 16, 16) and result.extras["layer"] == "net.layer2"


# ----- rollouts ---------------------------------------------------------------------------------


def test_rollout_of_one_layer_hand_worked():
    attention = torch.tensor([[[[0.5, 0.5], [0.2, 0.8]]]])
    expected = torch.tensor([[[0.75, 0.25], [0.1, 0.9]]])
    torch.testing.assert_close(attention_rollout([attention]), expected)
    two_heads = torch.cat([attention, torch.eye(2)[None, None]], 1)
    # max fusion [[1, 0.5], [0.2, 1]], plus the identity, row 1 normalised by 2.2
    torch.testing.assert_close(attention_rollout([two_heads], "max")[0, 1], torch.tensor([0.2, 2.0]) / 2.2)


def test_discard_keeps_class_token_and_works_per_item():
    attention = torch.tensor([[0.0, 0.5, 0.1], [0.3, 0.05, 0.4], [0.2, 0.2, 0.25]])
    batch = torch.stack([attention, attention + 1])
    discarded = discard_lowest(batch, 0.34)  # 3 of 9 entries per item
    torch.testing.assert_close(discarded[0, 1], torch.tensor([0.3, 0.0, 0.4]))
    assert (discarded[0] == 0).sum() == 4  # the entry (0, 0) was already 0, three more zeroed
    # the second item is thinned too, and its smallest entry (0, 0) is the one that is never discarded
    assert (discarded[1] == 0).sum() == 3 and discarded[1, 0, 0] == 1.0


@pytest.mark.parametrize("head_fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.9])
def test_rollout_matrices_are_row_stochastic(models, cifar_images, head_fusion, discard_ratio):
    result = attribute(models["vit_tiny"], cifar_images, "attention_rollout", head_fusion=head_fusion,
                       discard_ratio=discard_ratio)
    rollout = result.extras["rollout"]
    assert rollout.shape == (2, 65, 65) and (rollout >= 0).all()
    np.testing.assert_allclose(rollout.sum(-1), 1.0, atol=1e-5)


def test_rollout_discard_applies_to_every_image(models, cifar_images):
    loaded = models["vit_tiny"]
    batch = attribute(loaded, cifar_images, "attention_rollout", discard_ratio=0.9).maps
    for i in range(2):
        alone = attribute(loaded, cifar_images[i : i + 1], "attention_rollout", discard_ratio=0.9).maps[0]
        np.testing.assert_allclose(batch[i], alone, atol=1e-5)


def test_gradient_rollout_hand_worked():
    attention = torch.tensor([[[[0.5, 0.5], [0.2, 0.8]], [[1.0, 0.0], [0.0, 1.0]]]])
    gradient = torch.tensor([[[[1.0, -1.0], [2.0, 1.0]], [[0.5, 3.0], [1.0, -2.0]]]])
    # mean over heads of clamp(grad * A, 0): head 0 [[0.5, 0], [0.4, 0.8]], head 1 [[0.5, 0], [0, 0]]
    expected = torch.eye(2) + torch.tensor([[0.5, 0.0], [0.2, 0.4]])
    torch.testing.assert_close(gradient_rollout([attention], [gradient])[0], expected)


def test_gradient_rollout_is_class_specific(models, cifar_images):
    loaded = models["vit_tiny"]
    first = attribute(loaded, cifar_images, "gradient_rollout", target=0)
    second = attribute(loaded, cifar_images, "gradient_rollout", target=1)
    assert not np.allclose(first.maps, second.maps)
    assert (first.maps >= 0).all()
    assert (np.diagonal(first.extras["relevance"], axis1=1, axis2=2) >= 1).all()


# ----- wavelets, Sobol design ------------------------------------------------------------------


def test_dyadic_layout_matches_pywt_and_inverts():
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    dyadic = wavedec(x, 3)
    expected, _ = pywt.coeffs_to_array(pywt.wavedec2(x[1, 2].numpy(), "haar", level=3))
    np.testing.assert_allclose(dyadic[1, 2].numpy(), expected, atol=1e-12)
    torch.testing.assert_close(waverec(dyadic, 3), x)


def test_projection_covers_each_coefficients_haar_support():
    assert len(bands(32, 3)) == 10
    dyadic = torch.zeros(1, 32, 32)
    dyadic[0, 4 + 1, 2] = 1.0  # level-3 horizontal detail (rows 4:8, cols 0:4), coefficient (1, 2)
    image = project_to_image(dyadic, 3)[0]
    assert image.sum() == 64 and image[8:16, 16:24].eq(1).all()


def test_sobol_design_structure_and_seed():
    design = sobol_design(dim=3, nb_design=8, seed=7)
    assert design.shape == (8 * 5, 3) and design.dtype == np.float32
    points = design.reshape(8, 5, 3)  # per point: a, b, c_1, c_2, c_3
    a, b, c = points[:, 0], points[:, 1], points[:, 2:]
    for i in range(3):
        np.testing.assert_array_equal(c[:, i, i], b[:, i])
        np.testing.assert_array_equal(np.delete(c[:, i], i, axis=1), np.delete(a, i, axis=1))
    assert design.tobytes() == sobol_design(3, 8, 7).tobytes()
    # the design of 4 points is the first 4 points of the design of 8: a run can be refined
    assert sobol_design(3, 4, 7).tobytes() == design[: 4 * 5].tobytes()
    assert not np.array_equal(design, sobol_design(3, 8, 8))


def test_jansen_recovers_total_indices_of_a_linear_function():
    # f = sum c_i u_i with independent uniform u_i: ST_i = c_i² / sum c_j²
    weights = np.array([1.0, 2.0, 3.0])
    design = sobol_design(3, 1024, seed=0).astype(np.float64)
    indices = jansen_total_order((design @ weights).reshape(1024, 5))
    np.testing.assert_allclose(indices, weights**2 / np.sum(weights**2), atol=0.02)


def test_jansen_refuses_a_constant_output():
    with pytest.raises(AttributionError, match="did not vary"):
        jansen_total_order(np.ones((8, 5)))


# ----- WCAM, WAM -------------------------------------------------------------------------------


def test_wcam_is_deterministic_for_a_seed(models, cifar_images):
    loaded = models["resnet20"]
    options = {"nb_design": 4, "max_design": 4, "grid_size": 8}
    first = attribute(loaded, cifar_images[:1], "wcam", seed=3, **options)
    again = attribute(loaded, cifar_images[:1], "wcam", seed=3, **options)
    other = attribute(loaded, cifar_images[:1], "wcam", seed=4, **options)
    assert first.maps.tobytes() == again.maps.tobytes()
    assert first.extras.wavelet_map.tobytes() == again.extras.wavelet_map.tobytes()
    assert not np.array_equal(first.extras.sobol_indices, other.extras.sobol_indices)


def test_wcam_outputs_are_consistent(models, cifar_images):
    result = attribute(models["resnet20"], cifar_images, "wcam", nb_design=4, max_design=4, levels=2, grid_size=8)
    levels, subbands = result.extras.spectral_levels, result.extras.spectral_subbands
    assert levels.shape == (2, 3) and subbands.shape == (2, 2, 3)
    np.testing.assert_allclose(levels.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(levels[:, 0] + subbands.sum((1, 2)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(levels[:, 1:], subbands.sum(2), rtol=1e-5)
    cells = result.extras.sobol_indices
    assert cells.shape == (2, 8, 8) and (cells >= 0).all()
    np.testing.assert_array_equal(result.extras.wavelet_map, cells.repeat(4, 1).repeat(4, 2))


def test_wcam_without_approximation(models, cifar_images):
    result = attribute(models["resnet20"], cifar_images[:1], "wcam", nb_design=2, max_design=2, grid_size=8,
                       approximation=False)
    # the 4×4 approximation band is one grid cell, never perturbed: zero importance
    assert result.extras.sobol_indices[0, 0, 0] == 0.0 and result.extras.spectral_levels[0, 0] == 0.0


def test_wcam_explains_imagenet_classes_above_255(models, cifar_images):
    loaded = models["efficientnet_lite0"]
    result = attribute(loaded, images_for(loaded, cifar_images), "wcam", target=700, nb_design=2, max_design=2,
                       grid_size=4)
    assert result.target.tolist() == [700]
    np.testing.assert_allclose(result.extras.spectral_levels.sum(), 1.0, rtol=1e-5)


def test_wam_is_deterministic_and_noise_free_averaging_is_stable(models, cifar_images):
    loaded = models["resnet20"]
    first = attribute(loaded, cifar_images, "wam", n_samples=3, seed=1)
    assert first.maps.tobytes() == attribute(loaded, cifar_images, "wam", n_samples=3, seed=1).maps.tobytes()
    np.testing.assert_allclose(first.extras["spectral_levels"].sum(1), 1.0, rtol=1e-5)
    plain = attribute(loaded, cifar_images, "wam", n_samples=1, noise=0.0).maps
    maps = attribute(loaded, cifar_images, "wam", n_samples=3, noise=0.0).maps
    np.testing.assert_allclose(maps, plain, rtol=1e-4, atol=1e-6)


def test_sessions_sharing_a_model_get_the_answers_they_would_get_alone():
    """One server's sessions share a cached model: Grad-CAM's layer hooks, the folded inference net and the
    randomised copies must not leak into another thread's computation."""
    from concurrent.futures import ThreadPoolExecutor

    from shiftlab.metrics.randomisation import randomisation_check

    loaded = load_model("resnet20", "baseline")
    images = load_dataset("cifar10-sample").images[:4]
    alone = {m: attribute(loaded, images, m).maps for m in ("gradcam", "saliency")}
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = loaded.model(x)

    def explain(i: int) -> bool:
        method = ("gradcam", "saliency")[i % 2]
        return np.allclose(attribute(loaded, images, method).maps, alone[method], atol=1e-6)

    def predict(_: int) -> bool:
        loaded.model._inference = None  # fold anew while the others run
        with torch.no_grad():
            return torch.allclose(loaded.model.inference_net()(loaded.model.normalize(x)), logits, atol=1e-4)

    with ThreadPoolExecutor(4) as pool:
        jobs = [pool.submit(explain if i % 3 else predict, i) for i in range(24)]
        jobs.append(pool.submit(randomisation_check, loaded, images[:1], "gradcam", max_stages=2))
        assert all(job.result() for job in jobs[:-1])
        jobs[-1].result()


def test_gradcam_hooks_a_lent_copy_made_once_and_dropped_when_the_weights_change(monkeypatch):
    """Grad-CAM never hooks the shared model, and its copy is kept for the next call instead of made anew."""
    from shiftlab.models.classifier import Classifier

    loaded = load_model("resnet20", "baseline")
    images = load_dataset("cifar10-sample").images[:2]
    made = []
    original = Classifier.copy
    monkeypatch.setattr(Classifier, "copy", lambda self: made.append(1) or original(self))
    loaded.model._spares = []
    first = attribute(loaded, images, "gradcam").maps
    np.testing.assert_array_equal(attribute(loaded, images, "gradcam").maps, first)
    assert len(made) == 1, "the second call borrows the copy the first one made"
    assert not any(m._forward_hooks or m._backward_hooks for m in loaded.model.modules())
    assert not any(m._forward_hooks for _, spare in loaded.model._spares for m in spare.modules())
    with torch.no_grad():
        loaded.model.net.fc.bias.add_(0.0)  # an in-place change, even a null one, makes the spare stale
    attribute(loaded, images, "gradcam")
    assert len(made) == 2
