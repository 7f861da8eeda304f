"""Where a page's figures come from (Streamlit): the sidebar choice between computed here and a sweep folder
(Calibration, Cases, Robustness), and the shipped stores read in place of live computation where they hold the
view (the OOD page's defaults; the attribution store behind each explained pair of Compare, Variants, Spectral).

Kept apart from ``shiftlab.app.ui`` so that only the pages that read sweeps pay for importing DuckDB.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from shiftlab.app import caches, feedback, ood, text
from shiftlab.app.explain import PairExplanation, method_options
from shiftlab.app.gallery import Picture
from shiftlab.app.stored import stored_pair
from shiftlab.app.sweeps import (
    SHIPPED_CHOICES,
    SHIPPED_DATA,
    SWEEPS_ENV_VAR,
    covers_curves,
    covers_drift,
    covers_ood,
    drift_from,
    id_figures_from,
    ood_scores_from,
    open_choice,
    shipped_zoo_in_use,
    sweep_choices,
)
from shiftlab.app.view import ImageRef, View
from shiftlab.errors import ShiftlabError
from shiftlab.sweep.results import SweepResults

LIVE, SWEEP = "computed here", "a sweep folder"
#: the box's name of the shipped sample sweep, which makes the default curves instant
SAMPLE_CHOICE = next(iter(SHIPPED_CHOICES))
#: session-state key of the stores this session opened (one DuckDB connection per session: they are not shared)
STORES_KEY = "sweep_stores"


def session_store(name: str) -> SweepResults:
    """The offered sweep ``name`` (``sweeps.sweep_choices``), opened once per browser session."""
    stores = st.session_state.setdefault(STORES_KEY, {})
    if name not in stores:
        stores[name] = open_choice(name)
    return stores[name]


def pick_results() -> SweepResults | None:
    """Sidebar: figures computed here (None) or read from one of the offered sweep folders (the opened store); a
    folder that does not open is a note, and the figures are then computed here."""
    source = st.sidebar.radio("Figures from", (LIVE, SWEEP), key="results_from", help=text.SWEEP_HELP)
    if source == LIVE:
        return None
    name = st.sidebar.selectbox("Sweep folder", sweep_choices(), key="sweep_name",
                                help=f"the shipped sweeps, and the folders made by `shiftlab sweep --out` in the "
                                     f"sweeps root (${SWEEPS_ENV_VAR}, else `sweeps/` in the checkout)")
    try:
        store = session_store(name)
    except ShiftlabError as exc:
        st.sidebar.warning(f"The sweep folder {text.plain(name)} cannot be read: {text.plain(exc)}. "
                           "The figures are computed here.")
        return None
    for partition, problem in list(store.problems.items())[:3]:
        st.sidebar.warning(text.plain(f"{partition.model}/{partition.variant}/{partition.shift}: {problem}"))
    return store


def shipped_if_covering(dataset: str, arch: str, variants: list[str], shift: str, seed: int) -> SweepResults | None:
    """The shipped sweep when it holds every variant × severity of this view (the live figures are then read)."""
    if dataset != SHIPPED_DATA or not shipped_zoo_in_use():
        return None
    store = session_store(SAMPLE_CHOICE)
    return store if covers_curves(store, dataset, arch, variants, shift, seed) else None


# ---------------------------------------------------------------- the OOD page: the shipped store, else live


def _shipped_ood(name: str, dataset: str) -> SweepResults | None:
    """The shipped ``ood`` or ``ood_drift`` store for the embedded sample and the shipped zoo (else None)."""
    return session_store(f"shipped: {name}") if dataset == SHIPPED_DATA and shipped_zoo_in_use() else None


def _covering_ood(arch: str, variant: str, dataset: str, ood_set: str, seed: int) -> SweepResults | None:
    """The shipped ``ood`` store when it holds this model's predictions on ``dataset`` and ``ood_set`` (else None)."""
    store = _shipped_ood("ood", dataset)
    return store if store is not None and covers_ood(store, dataset, arch, variant, ood_set, seed) else None


def ood_scores(arch: str, variant: str, dataset: str, ood_set: str, seed: int) -> tuple[ood.Scores, ood.Scores]:
    """The OOD scores of the in-distribution and of the OOD images: read from the shipped store when it holds
    them (the same numbers, tested), else computed from the model's logits."""
    if (store := _covering_ood(arch, variant, dataset, ood_set, seed)) is not None:
        return ood_scores_from(store, arch, variant, ood_set)
    return (ood.scores(caches.cached_logits(arch, variant, dataset)),
            ood.scores(caches.cached_logits(arch, variant, dataset, ood_set, ood.SEVERITY, seed)))


def ood_id_figures(arch: str, variant: str, dataset: str, seed: int, ood_set: str) -> tuple[float, float]:
    """ID accuracy and ECE of a model whose classes the dataset's labels score (stored or live, as ``ood_scores``)."""
    if (store := _covering_ood(arch, variant, dataset, ood_set, seed)) is not None:
        return id_figures_from(store, arch, variant)
    data = caches.evaluation_images(dataset, caches.input_size(arch))
    return ood.id_figures(data.labels, caches.cached_logits(arch, variant, dataset))


def ood_drift(arch: str, variant: str, dataset: str, ood_set: str, seed: int, method: str,
              same_target: bool) -> dict[str, np.ndarray]:
    """``method``'s drift from the first ``ood.DRIFT_IMAGES`` images to their OOD replacements (stored or live)."""
    store = _shipped_ood("ood_drift", dataset)
    options = method_options(method, caches.input_size(arch))
    if same_target and store is not None and covers_drift(store, dataset, arch, variant, ood_set, seed, method, options,
                                                          ood.DRIFT_IMAGES):
        return drift_from(store, arch, variant, ood_set, method)
    return caches.cached_set_drift(arch, variant, dataset, ood_set, ood.SEVERITY, seed, method, ood.DRIFT_IMAGES,
                                   same_target)


# ---------------------------------------------------------------- explained pairs: the attribution store, else live


@st.cache_data(show_spinner=False, max_entries=256)
def _stored_pair(arch: str, variant: str, ref: ImageRef | None, pair: np.ndarray, shift: str, severity: int, seed: int,
                 method: str, options: dict) -> PairExplanation | None:
    """``stored_pair`` from the shipped attribution store, looked up once per view (DuckDB queries skipped on reruns)."""
    store = session_store("shipped: attributions")
    return stored_pair(store, caches.cached_model(arch, variant), arch, variant, ref, pair, shift, severity, seed,
                       method, options)


def stored_explanation(view: View, variant: str, picture: Picture, pair: np.ndarray, method: str,
                       options: dict) -> PairExplanation | None:
    """``method`` on the view's (source, shifted) ``pair``, both explained for the source's class, read from the
    shipped attribution store; None when the store does not hold it (``shiftlab.app.stored``)."""
    return _stored_pair(view.arch, variant, picture.ref, pair, view.shift, view.severity, view.seed, method, options)


def pair_explanation(view: View, variant: str, picture: Picture, pair: np.ndarray, method: str, same_target: bool,
                     options: dict) -> PairExplanation:
    """``method`` on the view's (source, shifted) ``pair``: from the shipped attribution store when it holds it,
    computed live otherwise (WCAM with its progress bar)."""
    stored = stored_explanation(view, variant, picture, pair, method, options) if same_target else None
    if stored is not None:
        return stored
    return caches.cached_explanation(view.arch, variant, pair, method, same_target, options,
                                     feedback.wcam_run(method))
