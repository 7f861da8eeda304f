"""What the Trust page computes: the image set, the cost said before it starts, the tables and the sanity strip.

The page measures, for one model, shift and severity over N images, whether each attribution method's maps still
point at what the model uses (``shiftlab.trust``) and whether they depend on the model's weights at all
(``shiftlab.metrics.randomisation``). This module turns those results into the page's tables; it does not
import Streamlit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from shiftlab.app.compare import grid_picture, is_signed
from shiftlab.app.experiment import model_inputs
from shiftlab.app.explain import method_options
from shiftlab.app.heatmaps import map_limits, overlay
from shiftlab.app.thumbnails import display_factor, enlarge
from shiftlab.attribution import attribute
from shiftlab.data import ImageDataset
from shiftlab.metrics.faithfulness import BASELINES
from shiftlab.metrics.imputation import impute
from shiftlab.metrics.randomisation import PASS_THRESHOLD, RandomisationCheck, randomisable_layers
from shiftlab.models import LoadedModel
from shiftlab.trust import CONDITIONS, TrustReport, TrustSettings

#: methods the page leaves out: each of their maps runs the model thousands of times (minutes for a set)
PERTURBATION_METHODS = ("wcam", "wam")
#: the image counts the page offers (the first images of each class, class by class)
IMAGE_COUNTS = (4, 8, 16, 32, 64)
#: the deletion baselines offered, and the pass bar of the sanity check (for the page's text)
BASELINE_CHOICES, SANITY_THRESHOLD = BASELINES, PASS_THRESHOLD
#: how many stages of the randomisation cascade the strip shows (the trained map, then evenly spaced stages)
STRIP_STAGES = 6
#: the images the sanity check runs on (the first of the set): each stage recomputes every map
SANITY_IMAGES = 2


def trust_images(data: ImageDataset, shifted: np.ndarray, count: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` images taken round the classes (the first of each class, then the second of each…), source and
    shifted, resized to the model's input: (indices, source, shifted)."""
    classes = np.unique(data.labels)
    per_class = -(-count // max(1, len(classes)))
    columns = [np.flatnonzero(data.labels == c)[:per_class] for c in classes]
    indices = np.array([column[r] for r in range(per_class) for column in columns if r < len(column)][:count])
    return indices, model_inputs(data.images[indices], size), model_inputs(shifted[indices], size)


@dataclass(frozen=True)
class TrustCost:
    """Model passes, sparse solves and the seconds they take on this server now (measured by a short probe)."""

    passes: int
    solves: int
    seconds: float


def _seconds_per_pass(loaded: LoadedModel) -> float:
    """One image's forward time through the inference net, timed now on a batch (this server's speed, loaded or not)."""
    size, batch = loaded.input_size, loaded.hooks.cpu_batch_size
    images = torch.rand(batch, 3, size, size, device=loaded.device)
    net = loaded.model.inference_net()
    with torch.inference_mode():
        net(loaded.model.normalize(images[:1]))
        started = time.perf_counter()
        net(loaded.model.normalize(images))
    return (time.perf_counter() - started) / batch


def _seconds_per_solve(size: int) -> float:
    """One ROAD imputation at half the pixels removed, timed now."""
    removed = np.zeros((size, size), dtype=bool)
    removed[::2] = True
    started = time.perf_counter()
    impute(np.zeros((3, size, size)), removed, noise=0.0)
    return time.perf_counter() - started


def _seconds_per_map(loaded: LoadedModel, method: str, images: np.ndarray) -> float:
    """One map's time by ``method`` at the page's options, timed now on ``images`` (after one warm-up map)."""
    options = method_options(method, loaded.input_size)
    attribute(loaded, images[:1], method, **options)
    started = time.perf_counter()
    attribute(loaded, images, method, **options)
    return (time.perf_counter() - started) / len(images)


def trust_cost(loaded: LoadedModel, images: np.ndarray, methods: list[str], settings: TrustSettings) -> TrustCost:
    """What measuring these source images and their shifted versions with ``methods`` will cost, from this
    server's speed now: the curves' and ROAD's model passes, ROAD's solves and the maps, each timed."""
    count, curve = len(images), settings.steps + 1
    road_points = len(settings.road_percentages or ())
    passes = len(CONDITIONS) * count * (settings.draws * 2 * curve + len(methods) * (2 * curve + 2 * road_points))
    solves = len(CONDITIONS) * count * len(methods) * 2 * road_points
    maps = len(CONDITIONS) * count * sum(_seconds_per_map(loaded, m, images[:1]) for m in methods)
    seconds = passes * _seconds_per_pass(loaded) + solves * _seconds_per_solve(loaded.input_size) + maps
    return TrustCost(passes, solves, seconds)


def stage_count(loaded: LoadedModel) -> int:
    """Stages of the randomisation cascade: one per layer with weights."""
    return len(randomisable_layers(loaded.model))


def sanity_cost(loaded: LoadedModel, images: np.ndarray, method: str) -> float:
    """Seconds the randomisation cascade of ``method`` takes on ``images``: the trained maps and one set per stage,
    each timed now."""
    return (stage_count(loaded) + 1) * _seconds_per_map(loaded, method, images) * len(images)


def records_frame(report: TrustReport, indices: np.ndarray) -> pd.DataFrame:
    """Every record of the report, with the dataset's image id instead of the position in the set."""
    frame = pd.DataFrame(report.records())
    return frame.assign(image=indices[frame["image"].to_numpy()])


def ranking_frame(report: TrustReport, checks: dict[str, RandomisationCheck] | None = None) -> pd.DataFrame:
    """The ranking (best first), with each method's change source → shifted and, when run, its sanity verdict."""
    frame = pd.DataFrame(report.ranking())
    frame["change"] = frame["gap_shifted"] - frame["gap_source"]
    if checks:
        frame["randomisation"] = [verdict(checks[m]) if m in checks else "not run"
                                  for m in frame["method"]]
        frame["final_spearman"] = [checks[m].final_spearman if m in checks else np.nan for m in frame["method"]]
    return frame


def means_frame(report: TrustReport) -> pd.DataFrame:
    """Mean of every measure per method and condition (the table under the plots)."""
    frame = pd.DataFrame(report.records()).drop(columns="image")
    return frame.groupby(["method", "condition"], sort=False).mean().reset_index()


def road_frame(report: TrustReport) -> pd.DataFrame:
    """ROAD's mean probability per method, condition, order (MoRF, LeRF) and percentage: one row each."""
    rows = []
    for trust in report.methods:
        for condition in CONDITIONS:
            removal = getattr(trust, condition).road
            if removal is None:
                continue
            for order, values in (("MoRF", removal.morf), ("LeRF", removal.lerf)):
                rows += [{"method": trust.method, "condition": condition, "order": order, "percent": int(p),
                          "probability": float(v)} for p, v in zip(removal.percentages, values.mean(axis=0))]
    return pd.DataFrame(rows)


def strip_stages(check: RandomisationCheck, shown: int = STRIP_STAGES) -> list[int]:
    """Which stages the strip shows after the trained map: evenly spaced through the cascade, the last included."""
    total = len(check.layers)
    return sorted({int(round(x)) for x in np.linspace(0, total - 1, min(shown - 1, total))})


def similarity_frame(check: RandomisationCheck) -> pd.DataFrame:
    """Mean Spearman and SSIM to the trained map after each stage (0: the trained model itself)."""
    rows = [{"stage": 0, "layer": "trained", "measure": m, "similarity": 1.0} for m in ("Spearman", "SSIM")]
    for stage, layer in enumerate(check.layers, 1):
        rows.append({"stage": stage, "layer": layer, "measure": "Spearman",
                     "similarity": float(np.nanmean(check.spearman[:, stage - 1]))})
        rows.append({"stage": stage, "layer": layer, "measure": "SSIM",
                     "similarity": float(np.nanmean(check.ssim[:, stage - 1]))})
    return pd.DataFrame(rows)


def strip_signed(check: RandomisationCheck) -> bool:
    """Whether the strip's maps are drawn on the diverging scale (the method's maps are signed)."""
    return is_signed(check.method)


def strip_limits(check: RandomisationCheck, index: int = 0) -> list[tuple[float, float]]:
    """The colour limits of each map of the strip: each its own (a random network's maps have another range),
    symmetric about 0 for a signed method."""
    maps = [check.original[index]] + [check.maps[stage][index] for stage in strip_stages(check)]
    return [map_limits(m, signed=strip_signed(check)) for m in maps]


def strip_maps(check: RandomisationCheck, image: np.ndarray, index: int = 0) -> list[np.ndarray]:
    """Image ``index``'s trained map, then its maps at ``strip_stages``, each over the image on its own scale
    (``strip_limits``), enlarged for the page."""
    factor = display_factor(image.shape[0], target=96)
    maps = [check.original[index]] + [check.maps[stage][index] for stage in strip_stages(check)]
    signed = strip_signed(check)
    return [enlarge(overlay(image, m, lim, signed=signed), factor) for m, lim in zip(maps, strip_limits(check, index))]


def strip_picture(check: RandomisationCheck, image: np.ndarray, index: int = 0) -> np.ndarray:
    """``strip_maps`` in one row, for the PNG download."""
    return grid_picture([strip_maps(check, image, index)])


def strip_labels(check: RandomisationCheck) -> list[str]:
    """What each map of ``strip_picture`` shows: "trained", then the layer reached and how many are random."""
    return ["trained"] + [f"{stage + 1} random, to {check.layers[stage]}" for stage in strip_stages(check)]


def verdict(check: RandomisationCheck) -> str:
    """"passes" or "fails", as the page words it."""
    return "passes" if check.passed else "fails"
