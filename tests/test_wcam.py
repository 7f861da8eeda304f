"""WCAM's convergence figure, refinement, reference perturbation, progress and cost, on a tiny model (fast)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import pywt
import torch
from torch import nn

from shiftlab.attribution import AttributionError, attribute, estimate_cost
from shiftlab.attribution.sobol import sobol_design
from shiftlab.attribution.wavelets import wavedec
from shiftlab.attribution.wcam import (
    Convergence,
    cell_images,
    default_batch_size,
    default_grid,
    min_max_uint8,
    perturb,
    point_chunks,
    thresholds,
)
from shiftlab.models import LoadedModel, load_model
from shiftlab.models.classifier import Classifier
from shiftlab.models.registry import get_spec

SIZE = 16
#: 16-px images, 2 levels, a 4 × 4 grid: 18 model runs per design point
TINY = {"levels": 2, "grid_size": 4}


@pytest.fixture(scope="module")
def tiny() -> LoadedModel:
    """A seeded two-layer convolutional network on 16-px images, wrapped like a loaded model."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Tanh(), nn.AvgPool2d(4), nn.Flatten(), nn.Linear(8 * 16, 10))
    classifier = Classifier(net.eval(), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    return replace(load_model("resnet20", None, device="cpu"), model=classifier, input_size=SIZE)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8)


def run(loaded: LoadedModel, images: np.ndarray, nb_design: int, **options):
    return attribute(loaded, images, "wcam", nb_design=nb_design, max_design=nb_design, **{**TINY, **options})


def test_convergence_figure_separates_converged_from_noisy(tiny, image):
    noisy, converged = run(tiny, image, 16), run(tiny, image, 512)
    assert noisy.extras.verdict == ["noisy"] and converged.extras.verdict == ["stable"]
    assert converged.extras.map_agreement[0] > noisy.extras.map_agreement[0]
    assert converged.extras.profile_distance[0] < noisy.extras.profile_distance[0]
    assert (converged.extras.spectral_levels_std < noisy.extras.spectral_levels_std).all()
    # the prediction holds: another seed at 512 designs lands as close as the figure said
    other = run(tiny, image, 512, seed=1)
    measured = np.corrcoef(converged.extras.sobol_indices.ravel(), other.extras.sobol_indices.ravel())[0, 1]
    assert measured >= 0.9


def test_refining_reuses_designs_and_equals_a_single_run(tiny, image):
    first = run(tiny, image, 16)
    calls = []
    refined = run(tiny, image, 64, resume=first, progress=lambda done, total: calls.append((done, total)))
    single = run(tiny, image, 64)
    assert calls[-1] == (48 * 18, 48 * 18)  # only the 48 new design points ran
    assert refined.maps.tobytes() == single.maps.tobytes()
    np.testing.assert_array_equal(refined.extras.design_outputs[0], single.extras.design_outputs[0])
    assert refined.extras.nb_design.tolist() == [64] and refined.extras.forward_passes.tolist() == [64 * 18]


def test_adaptive_refinement_stops_when_stable_and_equals_a_single_run(tiny, image):
    adaptive = attribute(tiny, image, "wcam", nb_design=16, max_design=1024, **TINY)
    n = int(adaptive.extras.nb_design[0])
    assert 16 < n <= 1024 and adaptive.extras.verdict == ["stable"]
    assert adaptive.maps.tobytes() == run(tiny, image, n).maps.tobytes()


def test_resume_refuses_other_settings_or_images(tiny, image):
    first = run(tiny, image, 4)
    with pytest.raises(AttributionError, match="seed"):
        run(tiny, image, 8, seed=5, resume=first)
    with pytest.raises(AttributionError, match="other images"):
        run(tiny, 255 - image, 8, resume=first)


def test_progress_counts_perturbed_images(tiny, image):
    calls = []
    result = run(tiny, np.concatenate([image, image[:, ::-1]]), 8,
                 progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert calls[-1] == (2 * 8 * 18, 2 * 8 * 18) == (result.extras.forward_passes.sum(),) * 2


def test_determinism_per_seed(tiny, image):
    first = attribute(tiny, image, "wcam", nb_design=8, max_design=64, seed=3, **TINY)
    again = attribute(tiny, image, "wcam", nb_design=8, max_design=64, seed=3, **TINY)
    other = attribute(tiny, image, "wcam", nb_design=8, max_design=64, seed=4, **TINY)
    for key in ("wavelet_map", "map_agreement", "spectral_levels_std"):
        assert getattr(first.extras, key).tobytes() == getattr(again.extras, key).tobytes()
    assert not np.array_equal(first.extras.sobol_indices, other.extras.sobol_indices)


def test_a_run_stops_with_a_wider_margin_than_the_verdict_asks():
    def figure(agreement: float, distance: float) -> Convergence:
        return Convergence(agreement, distance, np.zeros(4), np.zeros((3, 3)), np.zeros(64))

    assert thresholds() == pytest.approx((0.9, 0.05)) and thresholds(0.85) == pytest.approx((0.915, 0.0425))
    assert thresholds(0.75) == pytest.approx((0.925, 0.0375))
    stopped = figure(0.95, 0.035)
    assert stopped.converged and stopped.stable
    at_the_cap = figure(0.95, 0.04)  # would refine further; called stable if it ends here
    assert not at_the_cap.converged and at_the_cap.stable
    assert not figure(0.92, 0.03).converged and figure(0.92, 0.03).stable
    assert not figure(0.95, 0.045).stable and not figure(0.91, 0.03).stable


def test_batches_run_side_by_side_give_the_same_bits():
    # on 2 threads the batches run on two one-thread workers; one thread runs them in turn
    loaded = load_model("resnet20", None, device="cpu")
    images = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    threads = torch.get_num_threads()
    try:
        maps = []
        for count in (1, 2):
            torch.set_num_threads(count)
            result = attribute(loaded, images, "wcam", nb_design=4, max_design=4, batch_size=66)
            maps.append((result.maps.tobytes(), result.extras.sobol_indices.tobytes()))
            assert torch.get_num_threads() == count  # the one-thread workers leave the caller's count alone
    finally:
        torch.set_num_threads(threads)
    assert maps[0] == maps[1]


@pytest.mark.parametrize("approximation", [True, False])
def test_cell_images_perturb_as_the_inverse_transform(approximation):
    coefficients = wavedec(torch.rand(3, SIZE, SIZE, generator=torch.Generator().manual_seed(0)), 2)
    rows = torch.rand(20, 16, generator=torch.Generator().manual_seed(1))
    cells = cell_images(coefficients, 4, 2, approximation)
    assert cells.shape == (16, 3, SIZE, SIZE)
    torch.testing.assert_close(perturb(coefficients, rows, 2, approximation, cells=cells),
                               perturb(coefficients, rows, 2, approximation), rtol=0, atol=1e-6)


def test_reference_perturbation_by_hand():
    # a 2×2 image, one Haar level, approximation removed: what is left of each channel is x - its mean,
    # scaled by the mask value (which min-max rescaling cancels); then min-max over all values and 8 bits
    x = torch.tensor([[[0.13, 0.52], [0.37, 0.91]], [[0.24, 0.21], [0.66, 0.43]], [[0.83, 0.02], [0.17, 0.71]]],
                     dtype=torch.float64)
    perturbed = perturb(wavedec(x, 1), torch.tensor([[0.6]], dtype=torch.float64), 1, approximation=False)
    centred = x - x.mean((1, 2), keepdim=True)
    expected = torch.floor((centred - centred.min()) / (centred.max() - centred.min()) * 255) / 255
    np.testing.assert_allclose(min_max_uint8(perturbed)[0], expected, atol=1e-12)


def test_reference_perturbation_matches_the_published_recipe(image):
    # the reference code: pywt per channel, mask over the coeffs_to_array layout, approximation zeroed,
    # inverse, (x - min) / (max - min) * 255 cast to uint8; here on a 16-px image, 2 levels, a 4 × 4 grid
    pixels = image[0].astype(np.float64) / 255
    row = sobol_design(16, 2, seed=0)[5]
    mask = np.kron(row.reshape(4, 4), np.ones((4, 4)))
    mask[:4, :4] = 0
    channels = []
    for c in range(3):
        array, slices = pywt.coeffs_to_array(pywt.wavedec2(pixels[..., c], "haar", level=2))
        channels.append(pywt.waverec2(pywt.array_to_coeffs(array * mask, slices, output_format="wavedec2"), "haar"))
    stacked = np.stack(channels)
    expected = ((stacked - stacked.min()) / (stacked.max() - stacked.min()) * 255).astype(np.uint8) / 255
    coefficients = wavedec(torch.from_numpy(pixels).permute(2, 0, 1), 2)
    ours = perturb(coefficients, torch.from_numpy(row[None]).double(), 2, approximation=False, normalize=lambda v: v)
    np.testing.assert_allclose(ours[0].numpy(), expected, atol=1e-12)


def test_reference_mode_settings(tiny, image):
    result = run(tiny, image, 4, perturbation="reference")
    assert result.extras.settings == {"grid_size": 4, "output": "probability", "approximation": False}
    assert result.extras.spectral_levels[0, 0] == 0.0  # the approximation band is never perturbed
    assert run(tiny, image, 4).extras.settings["output"] == "log_odds"


def test_point_chunks_never_straddle_a_power_of_two():
    assert point_chunks(0, 16, 4) == [(0, 1), (1, 2), (2, 4), (4, 8), (8, 12), (12, 16)]
    assert point_chunks(8, 16, 4) == [(8, 12), (12, 16)]
    assert point_chunks(0, 4, 1) == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_default_grid_keeps_cells_inside_bands():
    assert default_grid(32, 3) == 8 and default_grid(224, 3) == 32 and default_grid(16, 2) == 4


@pytest.mark.parametrize("arch, batch",
                         [("resnet20", 66), ("vit_tiny", 33), ("efficientnet_lite0", 4), ("resnet50", 8)])
def test_a_cpu_batch_is_the_architectures_fastest(arch, batch):
    """On a CPU a batch holds the images the architecture runs fastest per image; a GPU takes about 4 M pixels."""
    spec = get_spec(arch)
    loaded = SimpleNamespace(device=torch.device("cpu"), input_size=spec.input_size, hooks=spec.hooks(spec.config))
    assert default_batch_size(loaded) == batch
    on_gpu = SimpleNamespace(device=torch.device("cuda"), input_size=spec.input_size, hooks=loaded.hooks)
    assert default_batch_size(on_gpu) == max(128, (1 << 22) // spec.input_size**2)


def test_estimate_cost(tiny):
    cost = estimate_cost(tiny, n_images=2, nb_design=8, max_design=32, **TINY)
    assert (cost.forward_passes, cost.max_forward_passes) == (2 * 8 * 18, 2 * 32 * 18)
    assert 0 < cost.seconds < cost.max_seconds
    with pytest.raises(AttributionError, match="unknown"):
        estimate_cost(tiny, designs=8)
