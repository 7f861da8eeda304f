"""Does a map point at what the model uses? Deletion and insertion curves against a random order, and ROAD.

Deletion and insertion (Petsiuk et al. 2018): the image's pixels are replaced by a baseline image (deletion) or
restored onto it (insertion) in the map's order of importance, ``steps`` equal shares at a time, and the
probability of the explained class is read after each step. A map that tracks the model makes the deletion curve
fall early (a small area under it) and the insertion curve rise early (a large area). The same pixels taken in a
random order give the reference: a map whose deletion area is not below the random order's says nothing about
what the model uses. Importance is the map's absolute value (``order="abs"``: evidence either way counts) or its
positive part (``order="positive"``: only evidence for the class). Ties are broken by the seeded random
permutation that is also the random reference's first draw, so a constant map gives exactly that random order
(raster order would favour the top of the image). The random reference depends on the images, not on the map,
so ``random_reference`` computes it once for every method of a view.

ROAD (Rong et al. 2022, "remove and debias"): the most (MoRF) or least (LeRF) important share of pixels is
removed and filled by noisy linear imputation (``shiftlab.metrics.imputation``), which leaks less of the mask's
shape than a constant baseline; the result is the explained class's probability and whether the model still
predicts it, at each share. A faithful map makes MoRF fall fast and LeRF stay high.

All functions take the images the app shows: uint8 N×S×S×3 at the model's input size (the normalisation is the
model wrapper's), maps N×S×S, and the explained classes (None: the predicted ones). Random draws are seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.functional import gaussian_blur

from shiftlab.attribution.base import eval_mode, prepare_images, resolve_target
from shiftlab.errors import ParameterError, UnknownOptionError
from shiftlab.metrics._checks import MetricInputError
from shiftlab.metrics.imputation import impute
from shiftlab.models import LoadedModel

BASELINES = ("blur", "mean", "black")
ORDERS = ("abs", "positive")
#: the blur baseline's Gaussian standard deviation, as a share of the image side (1.6 px at 32 px, 11.2 at 224)
BLUR_SIGMA = 0.05
MAX_STEPS = 256
MAX_DRAWS = 64
MAX_SEED = 2**32 - 1
#: ROAD's shares of removed pixels, in percent (the paper's figures use 10 to 90)
ROAD_PERCENTAGES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
#: standard deviation of the noise ROAD adds to imputed pixels, on the [0, 1] image scale (the paper's value)
ROAD_NOISE = 0.01


def area(curve: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Area under each curve (last axis) over the shares of pixels perturbed, by the trapezoid rule."""
    return np.trapezoid(curve, fractions, axis=-1)


@dataclass(frozen=True)
class Curves:
    """Deletion and insertion curves, N×(steps+1), over ``fractions``: the share of pixels perturbed at each point
    (0 to 1); their areas per image."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_auc(self) -> np.ndarray:
        return area(self.deletion, self.fractions)

    @property
    def insertion_auc(self) -> np.ndarray:
        return area(self.insertion, self.fractions)


@dataclass(frozen=True)
class RandomReference(Curves):
    """The curves of pixels taken in random orders, averaged over ``draws`` seeded permutations."""

    baseline: str
    draws: int
    seed: int


@dataclass(frozen=True)
class DeletionInsertion(Curves):
    """The curves of one map per image, taken in the map's ``order``, with the random reference."""

    reference: RandomReference
    order: str

    @property
    def baseline(self) -> str:
        return self.reference.baseline

    @property
    def random_deletion_auc(self) -> np.ndarray:
        return self.reference.deletion_auc

    @property
    def random_insertion_auc(self) -> np.ndarray:
        return self.reference.insertion_auc


@dataclass(frozen=True)
class ROADResult:
    """ROAD per image (N×P, P = ``percentages``): the explained class's probability after removing the most
    (``morf``) or least (``lerf``) important share of pixels, and whether it is still the predicted class."""

    percentages: np.ndarray
    morf: np.ndarray
    lerf: np.ndarray
    morf_kept: np.ndarray
    lerf_kept: np.ndarray
    order: str

    @property
    def morf_accuracy(self) -> np.ndarray:
        """Share of images still predicted as their explained class, at each MoRF percentage (the paper's curve)."""
        return self.morf_kept.mean(axis=0)

    @property
    def lerf_accuracy(self) -> np.ndarray:
        return self.lerf_kept.mean(axis=0)


def _check_bounded(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ParameterError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return int(value)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UnknownOptionError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _inputs(loaded: LoadedModel, images: np.ndarray,
            target: int | np.ndarray | None) -> tuple[torch.Tensor, np.ndarray]:
    """The images as the model's float input and the explained class of each (the model runs, in eval mode, only
    to find the predicted classes: setting every layer's mode twice per call was a twentieth of a curve's time)."""
    x = prepare_images(images, loaded)
    if target is not None:
        return x, resolve_target(loaded, x, target)
    with eval_mode(loaded.model):
        return x, resolve_target(loaded, x, target)


def _check_maps(maps: np.ndarray, x: torch.Tensor) -> np.ndarray:
    maps = np.asarray(maps, dtype=np.float64)
    expected = (len(x), *x.shape[-2:])
    if maps.shape != expected:
        raise MetricInputError(f"maps must be one {expected[1]}×{expected[2]} map per image, shape {expected}, "
                               f"got {maps.shape}")
    if not np.isfinite(maps).all():
        raise MetricInputError("maps hold NaN or infinite values")
    return maps


def random_ranks(n_images: int, n_pixels: int, rng: np.random.Generator) -> np.ndarray:
    """One random rank per pixel for each image (N×pixels): a random order of the pixels."""
    return np.stack([rng.permutation(n_pixels) for _ in range(n_images)])


def importance_ranks(maps: np.ndarray, order: str, seed: int = 0) -> np.ndarray:
    """Each pixel's rank (0 = most important) in every N×H×W map, flattened to N×(H·W); ties are broken by
    ``random_ranks`` drawn with ``seed`` (the random reference's first draw)."""
    _check_choice("order", order, ORDERS)
    scores = np.abs(maps) if order == "abs" else np.maximum(maps, 0.0)
    flat = scores.reshape(len(scores), -1)
    ties = random_ranks(len(flat), flat.shape[1], np.random.default_rng(seed))
    by_importance = np.stack([np.lexsort((tie, -score)) for tie, score in zip(ties, flat)])
    ranks = np.empty_like(by_importance)
    np.put_along_axis(ranks, by_importance, np.arange(flat.shape[1])[None], axis=1)
    return ranks


def baseline_images(x: torch.Tensor, baseline: str) -> torch.Tensor:
    """What deleted pixels become: a Gaussian blur of the image (σ = ``BLUR_SIGMA`` × side), its mean colour, or
    black."""
    _check_choice("baseline", baseline, BASELINES)
    if baseline == "black":
        return torch.zeros_like(x)
    if baseline == "mean":
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x).contiguous()
    sigma = BLUR_SIGMA * x.shape[-1]
    kernel = min(2 * int(np.ceil(3 * sigma)) + 1, 2 * (min(x.shape[-2:]) // 2) - 1)
    return gaussian_blur(x, kernel_size=[kernel, kernel], sigma=[sigma, sigma])


def _fractions(steps: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, steps + 1)




def _batches(total: int, batch: int) -> list[np.ndarray]:
    """Row indices of ``total`` rows (at least 2) in batches of about equal size, at most ``batch``, and never a lone
    row unless ``batch`` is 1."""
    count = total if batch == 1 else min(-(-total // batch), total // 2)
    return np.array_split(np.arange(total), count)


def _probabilities(loaded: LoadedModel, net: torch.nn.Module, images: torch.Tensor,
                   targets: torch.Tensor) -> np.ndarray:
    """Softmax probability of ``targets`` for float [0, 1] ``images`` (one batch) through ``net``, the model's
    inference net (batch norms folded: the same function up to float32 rounding, a quarter faster)."""
    logits = net(loaded.model.normalize(images)).float()
    return logits.softmax(1).gather(1, targets.view(-1, 1))[:, 0].double().cpu().numpy()


@dataclass(frozen=True)
class _Rows:
    """The perturbed images of every curve of a call, one row each, described and not yet made: the image, its
    rank map, how many pixels come from the other end, and whether the curve is an insertion."""

    image: torch.Tensor
    ranks: torch.Tensor
    count: torch.Tensor
    insertion: torch.Tensor

    @staticmethod
    def of(n_images: int, n_sets: int, steps: int, n_pixels: int) -> _Rows:
        """The two untouched ends of each image (the image whole, then its baseline), then each rank set's deletion
        and insertion images at the ``steps`` − 1 steps between: the ends are the same for every curve, so they
        run once."""
        counts = np.round(_fractions(steps) * n_pixels).astype(np.int64)
        ends = [np.tile(np.arange(n_images), 2), np.zeros(2 * n_images, np.int64),
                np.repeat([0, n_pixels], n_images), np.zeros(2 * n_images, bool)]
        grid = np.meshgrid(np.arange(n_sets), [False, True], np.arange(n_images), counts[1:-1], indexing="ij")
        sets, insertion, images, between = (axis.ravel() for axis in grid)
        middle = [images, sets * n_images + images, between, insertion]
        return _Rows(*(torch.from_numpy(np.concatenate(pair)) for pair in zip(ends, middle)))

    def images(self, rows: np.ndarray, x: torch.Tensor, base: torch.Tensor, rank_maps: torch.Tensor) -> torch.Tensor:
        """The perturbed images of ``rows``: a pixel is the baseline's where it is taken (rank below the count) in a
        deletion, or where it is not yet taken in an insertion."""
        index = torch.from_numpy(rows)
        taken = rank_maps[self.ranks[index].to(x.device)] < self.count[index].view(-1, 1, 1, 1).to(x.device)
        from_base = taken != self.insertion[index].view(-1, 1, 1, 1).to(x.device)
        image = self.image[index].to(x.device)
        return torch.where(from_base, base[image], x[image])


def _curve_ends(first: np.ndarray, between: np.ndarray, last: np.ndarray) -> np.ndarray:
    """S×N×(steps+1) curves from each image's first value (N), the S×N×(steps−1) values between and its last (N)."""
    shape = (len(between), len(first), 1)
    return np.concatenate([np.broadcast_to(first[:, None], shape), between, np.broadcast_to(last[:, None], shape)], 2)


def _curves_together(loaded: LoadedModel, net: torch.nn.Module, x: torch.Tensor, base: torch.Tensor, ranks: np.ndarray,
                     targets: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``_curves`` of a batch-invariant network: every perturbed image of every curve in the fewest batches, made a
    batch at a time (the memory is one batch's), the untouched ends once."""
    n_sets, n, _, height, width = len(ranks), *x.shape
    rows, batch = _Rows.of(n, n_sets, steps, height * width), loaded.hooks.cpu_batch_size
    rank_maps = torch.from_numpy(ranks.astype(np.int32)).to(x.device).view(n_sets * n, 1, height, width)
    row_targets = torch.from_numpy(targets).to(x.device)[rows.image.to(x.device)]
    values = np.concatenate([_probabilities(loaded, net, rows.images(chunk, x, base, rank_maps), row_targets[chunk])
                             for chunk in _batches(len(rows.image), batch)])
    whole, blank, between = values[:n], values[n:2 * n], values[2 * n:].reshape(n_sets, 2, n, steps - 1)
    deletion, insertion = _curve_ends(whole, between[:, 0], blank), _curve_ends(blank, between[:, 1], whole)
    if batch > 1 and n * (steps + 1) % batch == 1:
        # a curve on its own in consecutive batches runs its last image (the last image's far end) alone
        last = torch.from_numpy(targets[-1:]).to(x.device)
        deletion[:, -1, -1] = _probabilities(loaded, net, base[-1:], last)
        insertion[:, -1, -1] = _probabilities(loaded, net, x[-1:], last)
    return deletion, insertion


def _curves_one_by_one(loaded: LoadedModel, net: torch.nn.Module, x: torch.Tensor, base: torch.Tensor,
                       ranks: np.ndarray, targets: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``_curves`` of any network: each curve's N×(steps+1) images in consecutive batches of the model's size."""
    n, _, height, width = x.shape
    counts = torch.from_numpy(np.round(_fractions(steps) * height * width).astype(np.int64)).to(x.device)
    batch, repeated = loaded.hooks.cpu_batch_size, torch.from_numpy(np.repeat(targets, steps + 1)).to(x.device)
    curves = []
    for rank_set in ranks:
        taken = torch.from_numpy(rank_set).to(x.device).view(n, 1, 1, height, width) < counts.view(1, -1, 1, 1, 1)
        for start, end in ((x, base), (base, x)):
            mixed = torch.where(taken, end[:, None], start[:, None]).flatten(0, 1)
            curves += [_probabilities(loaded, net, chunk, chunk_targets)
                       for chunk, chunk_targets in zip(mixed.split(batch), repeated.split(batch))]
    both = np.concatenate(curves).reshape(len(ranks), 2, n, steps + 1)
    return both[:, 0], both[:, 1]


@torch.inference_mode()
def _curves(loaded: LoadedModel, x: torch.Tensor, base: torch.Tensor, ranks: np.ndarray, targets: np.ndarray,
            steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves (each S×N×(steps+1)) of the S rank sets ``ranks`` (S×N×pixels): probability of
    each image's target as its pixels go from ``x`` to ``base`` (deletion) or back (insertion) in rank order.

    The curves of a batch-invariant network run together when the image and its baseline lie the same way in
    memory (the images come channels-last, and so do a blur and black; a convolution rounds differently on the
    other layout, and a deletion mixing two layouts takes the baseline's, an insertion the image's): the mean
    colour's curves run one by one."""
    net = loaded.model.inference_net()
    # a network whose hooks say it is batch-invariant (a test checks each one) runs every curve in shared batches;
    # another runs each curve on its own in consecutive batches, as the curves always ran, since a curve's value
    # must not change with the way it is computed
    together = (loaded.hooks.batch_invariant and loaded.model.foldable and x.device.type == "cpu"
                and x.stride() == base.stride())
    return (_curves_together if together else _curves_one_by_one)(loaded, net, x, base, ranks, targets, steps)


def random_reference(loaded: LoadedModel, images: np.ndarray, target: int | np.ndarray | None = None, *,
                     steps: int = 20, baseline: str = "blur", draws: int = 3, seed: int = 0) -> RandomReference:
    """Deletion and insertion curves of random pixel orders (``draws`` seeded permutations, averaged)."""
    steps = _check_bounded("steps", steps, 1, MAX_STEPS)
    draws = _check_bounded("draws", draws, 1, MAX_DRAWS)
    x, targets = _inputs(loaded, images, target)
    rng = np.random.default_rng(_check_bounded("seed", seed, 0, MAX_SEED))
    ranks = np.stack([random_ranks(len(x), x.shape[-2] * x.shape[-1], rng) for _ in range(draws)])
    deletions, insertions = _curves(loaded, x, baseline_images(x, baseline), ranks, targets, steps)
    deletion, insertion = np.zeros((len(x), steps + 1)), np.zeros((len(x), steps + 1))
    for draw in range(draws):  # summed draw by draw, in order: the same bits as ever
        deletion += deletions[draw]
        insertion += insertions[draw]
    return RandomReference(_fractions(steps), deletion / draws, insertion / draws, baseline, draws, seed)


def deletion_insertion(loaded: LoadedModel, images: np.ndarray, maps: np.ndarray,
                       target: int | np.ndarray | None = None, *, steps: int = 20, baseline: str = "blur",
                       order: str = "abs", draws: int = 3, seed: int = 0,
                       reference: RandomReference | None = None) -> DeletionInsertion:
    """Deletion and insertion curves of ``maps`` on ``images`` for ``target``, with the random-order reference.

    Pass ``reference`` (from ``random_reference`` with the same images, target, steps and baseline) to share it
    between methods; otherwise it is computed here with ``draws`` and ``seed``.
    """
    steps = _check_bounded("steps", steps, 1, MAX_STEPS)
    seed = _check_bounded("seed", seed, 0, MAX_SEED)
    x, targets = _inputs(loaded, images, target)
    ranks = importance_ranks(_check_maps(maps, x), order, seed)
    if reference is None:
        reference = random_reference(loaded, images, targets, steps=steps, baseline=baseline, draws=draws, seed=seed)
    elif reference.baseline != baseline or reference.deletion.shape != (len(x), steps + 1):
        raise MetricInputError(f"the reference was computed for {reference.deletion.shape[0]} images, "
                               f"{reference.deletion.shape[1] - 1} steps and the {reference.baseline} baseline; "
                               f"these are {len(x)} images, {steps} steps and the {baseline} baseline")
    deletion, insertion = _curves(loaded, x, baseline_images(x, baseline), ranks[None], targets, steps)
    return DeletionInsertion(_fractions(steps), deletion[0], insertion[0], reference, order)


@torch.inference_mode()
def _road_side(loaded: LoadedModel, x: torch.Tensor, ranks: np.ndarray, targets: np.ndarray, percentages: np.ndarray,
               most_first: bool, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Probability of the target and whether it is still predicted, per image and percentage, for one order."""
    n, _, height, width = x.shape
    pixels, n_pixels = x.double().cpu().numpy(), height * width
    removed_counts = (percentages * n_pixels // 100).astype(np.int64)
    filled = []
    for i in range(n):
        rank = ranks[i] if most_first else n_pixels - 1 - ranks[i]
        filled += [impute(pixels[i], (rank < count).reshape(height, width), noise, rng) for count in removed_counts]
    batch = torch.from_numpy(np.stack(filled)).to(x.device, x.dtype)
    net, size = loaded.model.inference_net(), loaded.hooks.cpu_batch_size
    logits = torch.cat([net(loaded.model.normalize(chunk)).float() for chunk in batch.split(size)])
    repeated = torch.from_numpy(np.repeat(targets, len(percentages))).to(x.device)
    probabilities = logits.softmax(1).gather(1, repeated.view(-1, 1))[:, 0]
    kept = logits.argmax(1) == repeated
    return (probabilities.view(n, -1).double().cpu().numpy(), kept.view(n, -1).cpu().numpy())


def road(loaded: LoadedModel, images: np.ndarray, maps: np.ndarray, target: int | np.ndarray | None = None, *,
         percentages: tuple[int, ...] = ROAD_PERCENTAGES, order: str = "abs", noise: float = ROAD_NOISE,
         seed: int = 0) -> ROADResult:
    """ROAD with noisy linear imputation, MoRF and LeRF, at each of ``percentages`` (integers from 1 to 99);
    ``noise`` is the imputation noise's standard deviation on the [0, 1] scale."""
    shares = np.asarray(percentages)
    if shares.ndim != 1 or shares.size == 0 or shares.size > 99 or not np.issubdtype(shares.dtype, np.integer) \
            or shares.min() < 1 or shares.max() > 99:
        raise ParameterError(f"percentages must be 1 to 99 integers from 1 to 99, got {percentages!r}")
    seed = _check_bounded("seed", seed, 0, MAX_SEED)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 1:
        raise ParameterError(f"noise must be a number from 0 to 1, got {noise!r}")
    x, targets = _inputs(loaded, images, target)
    ranks = importance_ranks(_check_maps(maps, x), order, seed)
    rng = np.random.default_rng(seed)
    morf, morf_kept = _road_side(loaded, x, ranks, targets, shares, True, noise, rng)
    lerf, lerf_kept = _road_side(loaded, x, ranks, targets, shares, False, noise, rng)
    return ROADResult(shares, morf, lerf, morf_kept, lerf_kept, order)
