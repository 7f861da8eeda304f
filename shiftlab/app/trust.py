"""What the Trust page shows: the image set, the stored figures or the cost said before computing them, the tables
and the sanity strip.

The page measures, for one model, shift and severity over N images, whether each attribution method's maps still
point at what the model uses (``shiftlab.trust``) and whether they depend on the model's weights at all
(``shiftlab.metrics.randomisation``). Its default view is read from the shipped faithfulness store
(``shiftlab.sweep.ship``): the records and the cascades, when the store holds the view with the page's settings
(``shiftlab.sweep.lookup``), else they are measured here. This module turns either into the page's tables; it
does not import Streamlit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shiftlab.app.caches import as_a_job_runs, pace_book
from shiftlab.app.compare import grid_picture, is_signed
from shiftlab.app.experiment import model_inputs
from shiftlab.app.explain import method_options
from shiftlab.app.heatmaps import map_limits, overlay
from shiftlab.app.thumbnails import display_factor, enlarge
from shiftlab.data import ImageDataset
from shiftlab.estimates import forward_seconds, map_seconds
from shiftlab.metrics.randomisation import PASS_THRESHOLD, randomisable_layers
from shiftlab.models import LoadedModel
from shiftlab.sweep import results
from shiftlab.sweep.lookup import SHIPPED_WEIGHTS, Request, StoredCascades, StoredSweep, stored_faithfulness
from shiftlab.sweep.ship import ATTRIBUTION_SEVERITY, ATTRIBUTION_SHIFTS, CASCADES, SAMPLE, shipped_store
from shiftlab.trust import (
    AREAS,
    BASELINES,
    CONDITIONS,
    DEFAULT_COUNT,
    IMAGE_COUNTS,
    SANITY_IMAGES,
    Cascade,
    TrustSettings,
    gap,
    ranking,
    road_columns,
    trust_indices,
)

#: methods the page leaves out: each of their maps runs the model thousands of times (minutes for a set)
PERTURBATION_METHODS = ("wcam", "wam")
#: what the page offers: the image counts (the default is the one stored) and the deletion baselines; the images the
#: sanity check runs on (the first of the set) and its pass bar
IMAGE_CHOICES, DEFAULT_IMAGES, BASELINE_CHOICES = IMAGE_COUNTS, DEFAULT_COUNT, BASELINES
SANITY_COUNT, SANITY_THRESHOLD = SANITY_IMAGES, PASS_THRESHOLD


@dataclass(frozen=True)
class ShippedTrust:
    """The shipped faithfulness store and its cascades (one per session: the store's DuckDB connection is not
    shared between threads)."""

    records: StoredSweep
    cascades: StoredCascades


def shipped_trust() -> ShippedTrust:
    """The shipped stores of the Trust page, opened when first read."""
    folder = shipped_store("faithfulness")
    return ShippedTrust(StoredSweep(lambda: results.open(folder), SHIPPED_WEIGHTS),
                        StoredCascades(folder / CASCADES, SHIPPED_WEIGHTS))


def image_indices(data: ImageDataset, count: int) -> np.ndarray:
    """The indices of ``count`` images of ``data`` taken round the classes (the first of each class, then the
    second of each…)."""
    return trust_indices(data.labels, count)


def set_images(images: np.ndarray, indices: np.ndarray, size: int) -> np.ndarray:
    """The images ``indices`` of ``images`` (a dataset's, or its shifted copy), resized to the model's input."""
    return model_inputs(images[indices], size)


def stored_records(shipped: ShippedTrust, arch: str, variant: str, dataset: str, shift: str, severity: int,
                   seed: int, methods: tuple[str, ...], indices: np.ndarray, settings: TrustSettings,
                   input_size: int) -> pd.DataFrame | None:
    """The records of this view from the shipped store (``TrustReport.records``' columns), or None when the store
    does not hold it with these settings and the methods' page options."""
    requests = [Request.of(arch, [variant], dataset, seed, ((shift, severity),), images=tuple(indices.tolist()),
                           method=method, options=method_options(method, input_size), product="faithfulness")
                for method in methods]
    return stored_faithfulness(shipped.records, requests, settings)


def stored_cascade(shipped: ShippedTrust, arch: str, variant: str, dataset: str, indices: np.ndarray, method: str,
                   target: np.ndarray, input_size: int) -> Cascade | None:
    """The randomisation cascade of ``method`` on images ``indices`` for ``target``, from the shipped store; None
    when it does not hold it."""
    request = Request.of(arch, [variant], dataset, 0, (), images=tuple(indices.tolist()), method=method,
                         options=method_options(method, input_size))
    return shipped.cascades.read(request, target)


def store_scope() -> dict[str, str | int]:
    """What the shipped store holds, for the page's caption."""
    return {"count": DEFAULT_COUNT, "shifts": ", ".join(ATTRIBUTION_SHIFTS), "severity": int(ATTRIBUTION_SEVERITY),
            "dataset": SAMPLE, "baseline": TrustSettings().baseline}


@dataclass(frozen=True)
class TrustCost:
    """Model passes, sparse solves and the seconds they take on this server now (measured by a short probe)."""

    passes: int
    solves: int
    seconds: float


def _forward_seconds(loaded: LoadedModel, n_images: int) -> float:
    """Seconds the model takes to predict ``n_images`` images here now, as the job worker runs it (the server's
    measured pace, ``shiftlab.estimates``: probed once when stale, not on every render)."""
    return as_a_job_runs(lambda: forward_seconds(pace_book(), loaded, n_images))


def _map_seconds(loaded: LoadedModel, method: str, n_images: int) -> float:
    """Seconds ``n_images`` maps by ``method`` at the page's options take here now, as the job worker runs them."""
    options = method_options(method, loaded.input_size)
    return as_a_job_runs(lambda: map_seconds(pace_book(), loaded, method, options, n_images))


def _seconds_per_solve(size: int) -> float:
    """One ROAD imputation at half the pixels removed, timed now."""
    # imported here: scipy's sparse solvers cost a stored view's first render a few tenths of a second
    from shiftlab.metrics.imputation import impute

    removed = np.zeros((size, size), dtype=bool)
    removed[::2] = True
    started = time.perf_counter()
    impute(np.zeros((3, size, size)), removed, noise=0.0)
    return time.perf_counter() - started


def trust_cost(loaded: LoadedModel, images: np.ndarray, methods: list[str], settings: TrustSettings) -> TrustCost:
    """What measuring these source images and their shifted versions with ``methods`` will cost, from this
    server's speed now: the curves' and ROAD's model passes, ROAD's solves and the maps, each timed."""
    count, curve = len(images), settings.steps + 1
    road_points = len(settings.road_percentages)
    passes = len(CONDITIONS) * count * (settings.draws * 2 * curve + len(methods) * (2 * curve + 2 * road_points))
    solves = len(CONDITIONS) * count * len(methods) * 2 * road_points
    maps = sum(_map_seconds(loaded, method, len(CONDITIONS) * count) for method in methods)
    seconds = _forward_seconds(loaded, passes) + solves * _seconds_per_solve(loaded.input_size) + maps
    return TrustCost(passes, solves, seconds)


def stage_count(loaded: LoadedModel) -> int:
    """Stages of the randomisation cascade: one per layer with weights."""
    return len(randomisable_layers(loaded.model))


def sanity_cost(loaded: LoadedModel, images: np.ndarray, method: str) -> float:
    """Seconds the randomisation cascade of ``method`` takes on ``images``: the trained maps and one set per stage,
    each timed now."""
    return _map_seconds(loaded, method, (stage_count(loaded) + 1) * len(images))


def targets(records: pd.DataFrame, count: int) -> np.ndarray:
    """The classes explained for the first ``count`` images of the set (each image's target, from its records)."""
    first = records.drop_duplicates("image").set_index("image")["target"]
    return first.loc[np.arange(count)].to_numpy(np.int64)


def summary_frame(records: pd.DataFrame, indices: np.ndarray) -> pd.DataFrame:
    """Every image's figures: the dataset's image id, method, condition, the areas, the gap to random and ROAD's
    mean probability over its percentages (MoRF, LeRF), then its probability at each percentage."""
    road = [c for c in records.columns if c.startswith("road_")]
    frame = records[["method", "condition", *AREAS]].assign(
        image=indices[records["image"].to_numpy()], gap=gap(records),
        road_morf=records[[c for c in road if c.startswith("road_morf_")]].mean(axis=1),
        road_lerf=records[[c for c in road if c.startswith("road_lerf_")]].mean(axis=1))
    return pd.concat([frame[["image", "method", "condition", *AREAS, "gap", "road_morf", "road_lerf"]],
                      records[road]], axis=1)


def ranking_frame(records: pd.DataFrame, cascades: dict[str, Cascade] | None = None) -> pd.DataFrame:
    """The ranking (best first), with each method's change source → shifted and, when known, its sanity verdict."""
    frame = ranking(records)
    frame["change"] = frame["gap_shifted"] - frame["gap_source"]
    if cascades:
        frame["randomisation"] = [verdict(cascades[m]) if m in cascades else "not run" for m in frame["method"]]
        frame["final_spearman"] = [cascades[m].final_spearman if m in cascades else np.nan for m in frame["method"]]
    return frame


def means_frame(records: pd.DataFrame, indices: np.ndarray) -> pd.DataFrame:
    """Mean of each method's figures per condition (the table under the plots): deletion and insertion areas, gap
    and ROAD; the random order's areas are every method's (``random_areas``)."""
    frame = summary_frame(records, indices)[["method", "condition", "deletion_auc", "insertion_auc", "gap",
                                             "road_morf", "road_lerf"]]
    return frame.groupby(["method", "condition"], sort=False).mean().reset_index()


def random_areas(records: pd.DataFrame) -> dict[str, float]:
    """The random order's mean deletion and insertion areas on the source and the shifted images, the reference
    every method is measured against (one per image, shared by the methods): ``deletion_source``… keys."""
    per_image = records.drop_duplicates(["condition", "image"]).groupby("condition")
    means = per_image[["random_deletion_auc", "random_insertion_auc"]].mean()
    return {f"{area}_{condition}": float(means.loc[condition, f"random_{area}_auc"])
            for area in ("deletion", "insertion") for condition in CONDITIONS}


def road_frame(records: pd.DataFrame, settings: TrustSettings) -> pd.DataFrame:
    """ROAD's mean probability per method, condition, order (MoRF, LeRF) and percentage: one row each."""
    columns = road_columns(settings.road_percentages)
    means = records.groupby(["method", "condition"], sort=False)[columns].mean().reset_index()
    rows = []
    for row in means.itertuples(index=False):
        values = row._asdict()
        for order, side in (("MoRF", "morf"), ("LeRF", "lerf")):
            rows += [{"method": row.method, "condition": row.condition, "order": order, "percent": int(p),
                      "probability": float(values[f"road_{side}_{p}"])} for p in settings.road_percentages]
    return pd.DataFrame(rows)


def similarity_frame(cascade: Cascade) -> pd.DataFrame:
    """Mean Spearman and SSIM to the trained map after each stage (0: the trained model itself)."""
    rows = [{"stage": 0, "layer": "trained", "measure": m, "similarity": 1.0} for m in ("Spearman", "SSIM")]
    for stage, layer in enumerate(cascade.layers, 1):
        rows.append({"stage": stage, "layer": layer, "measure": "Spearman",
                     "similarity": float(np.nanmean(cascade.spearman[:, stage - 1]))})
        rows.append({"stage": stage, "layer": layer, "measure": "SSIM",
                     "similarity": float(np.nanmean(cascade.ssim[:, stage - 1]))})
    return pd.DataFrame(rows)


def strip_signed(cascade: Cascade) -> bool:
    """Whether the strip's maps are drawn on the diverging scale (the method's maps are signed)."""
    return is_signed(cascade.method)


def strip_limits(cascade: Cascade) -> list[tuple[float, float]]:
    """The colour limits of each map of the strip: each its own (a random network's maps have another range),
    symmetric about 0 for a signed method."""
    return [map_limits(m, signed=strip_signed(cascade)) for m in cascade.maps]


def strip_maps(cascade: Cascade, image: np.ndarray) -> list[np.ndarray]:
    """The first image's trained map, then its maps at the strip's stages, each over the image on its own scale
    (``strip_limits``), enlarged for the page."""
    factor = display_factor(image.shape[0], target=96)
    signed = strip_signed(cascade)
    return [enlarge(overlay(image, m, lim, signed=signed), factor)
            for m, lim in zip(cascade.maps, strip_limits(cascade))]


def strip_picture(cascade: Cascade, image: np.ndarray) -> np.ndarray:
    """``strip_maps`` in one row, for the PNG download."""
    return grid_picture([strip_maps(cascade, image)])


def strip_labels(cascade: Cascade) -> list[str]:
    """What each map of ``strip_picture`` shows: "trained", then the layer reached and how many are random."""
    return ["trained"] + [f"{stage + 1} random, to {cascade.layers[stage]}" for stage in cascade.stages]


def verdict(cascade: Cascade) -> str:
    """"passes" or "fails", as the page words it."""
    return "passes" if cascade.passed else "fails"
