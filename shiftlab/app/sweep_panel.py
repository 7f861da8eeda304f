"""Where a page's figures come from (Streamlit): the sidebar choice between computed here and a sweep folder
(Calibration, Cases, Robustness), and the shipped stores read in place of live computation where they hold the
view (the OOD page's defaults; the attribution store behind each explained pair of Compare, Variants, Spectral).

Whether a store holds a view is ``shiftlab.sweep.lookup``'s one test, by content (the weights' SHA-256, the
images, the shift's parameters, the method's options). Kept apart from ``shiftlab.app.caches`` so that only the
pages that read sweeps pay for importing DuckDB.
"""

from __future__ import annotations

import copy

import duckdb
import numpy as np
import streamlit as st

from shiftlab.app import caches, ood, text
from shiftlab.app.explain import PairExplanation, method_options
from shiftlab.app.gallery import Picture
from shiftlab.app.sweeps import (
    SHIPPED_CHOICES,
    SHIPPED_DATA,
    SWEEPS_ENV_VAR,
    drift_from,
    id_figures_from,
    ood_scores_from,
    open_choice,
    sweep_choices,
)
from shiftlab.app.view import ImageRef, View
from shiftlab.errors import ShiftlabError
from shiftlab.inference import predict_logits
from shiftlab.sweep.lookup import SHIPPED_WEIGHTS, Request, StoredSweep, answer, stored_pair
from shiftlab.sweep.results import SweepResults

LIVE, SWEEP = "computed here", "a sweep folder"
#: session-state key of the stores this session opened (one DuckDB connection per session: they are not shared)
STORES_KEY = "sweep_stores"


@st.cache_resource(show_spinner=False)
def _shipped_store(name: str) -> SweepResults:
    """A shipped store, opened and its partitions checked once per process: it never changes while the app runs
    (30 sessions each opening the four took 0.3-0.7 s of the server apiece)."""
    return open_choice(name)


def session_store(name: str) -> SweepResults:
    """The offered sweep ``name`` (``sweeps.sweep_choices``), opened once per browser session; a shipped one is a
    copy of the process's, with a DuckDB connection of the session's own."""
    stores = st.session_state.setdefault(STORES_KEY, {})
    if name not in stores:
        if name in SHIPPED_CHOICES:
            stores[name] = copy.copy(_shipped_store(name))
            stores[name].connection = duckdb.connect()
        else:
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


def shipped(name: str, dataset: str) -> StoredSweep | None:
    """The shipped store ``name`` (``sample``, ``ood``, ``ood_drift``, ``attributions``), opened for this session
    when first asked, with the weights it was made with; None for a dataset other than the embedded sample's,
    which no shipped store holds (none is opened)."""
    if dataset != SHIPPED_DATA:
        return None
    return StoredSweep(lambda: session_store(f"shipped: {name}"), SHIPPED_WEIGHTS)


def shipped_if_covering(dataset: str, arch: str, variants: list[str], shift: str, seed: int) -> SweepResults | None:
    """The shipped sweep when it holds every variant × severity of this view (the live figures are then read)."""
    stored = shipped("sample", dataset)
    request = Request.of(arch, variants, dataset, seed, tuple((shift, severity) for severity in range(1, 6)))
    return stored.store if stored is not None and stored.holds(request) else None


# ---------------------------------------------------------------- the OOD page: the shipped store, else live


def _ood_request(arch: str, variant: str, dataset: str, ood_set: str, seed: int, **method: object) -> Request:
    """This model's clean and ``ood_set`` images (severity ``ood.SEVERITY``), all of them or a method's first."""
    return Request.of(arch, [variant], dataset, seed, ((ood_set, ood.SEVERITY),), **method)


def ood_scores(arch: str, variant: str, dataset: str, ood_set: str, seed: int) -> tuple[ood.Scores, ood.Scores]:
    """The OOD scores of the in-distribution and of the OOD images: read from the shipped store when it holds
    them (the same numbers, tested), else computed from the model's logits."""
    return answer(shipped("ood", dataset), _ood_request(arch, variant, dataset, ood_set, seed),
                  lambda stored: ood_scores_from(stored.store, arch, variant, ood_set),
                  lambda: (ood.scores(caches.cached_logits(arch, variant, dataset)),
                           ood.scores(caches.cached_logits(arch, variant, dataset, ood_set, ood.SEVERITY, seed))))


def ood_id_figures(arch: str, variant: str, dataset: str, seed: int, ood_set: str) -> tuple[float, float]:
    """ID accuracy and ECE of a model whose classes the dataset's labels score (stored or live, as ``ood_scores``)."""
    def compute() -> tuple[float, float]:
        data = caches.evaluation_images(dataset, caches.input_size(arch))
        return ood.id_figures(data.labels, caches.cached_logits(arch, variant, dataset))

    return answer(shipped("ood", dataset), _ood_request(arch, variant, dataset, ood_set, seed),
                  lambda stored: id_figures_from(stored.store, arch, variant), compute)


def ood_drift(arch: str, variant: str, dataset: str, ood_set: str, seed: int, method: str,
              same_target: bool) -> dict[str, np.ndarray]:
    """``method``'s drift from the first ``ood.DRIFT_IMAGES`` images to their OOD replacements (stored or live;
    the store explains the source's class in both maps)."""
    options = method_options(method, caches.input_size(arch))
    request = _ood_request(arch, variant, dataset, ood_set, seed, first=ood.DRIFT_IMAGES, method=method,
                           options=options)
    return answer(shipped("ood_drift", dataset) if same_target else None, request,
                  lambda stored: drift_from(stored.store, arch, variant, ood_set, method),
                  lambda: caches.cached_set_drift(arch, variant, dataset, ood_set, ood.SEVERITY, seed, method,
                                                  ood.DRIFT_IMAGES, same_target))


def prepare_ood(arch: str, variant: str, variants: list[str], dataset: str, ood_set: str, seed: int,
                methods: list[str], same_target: bool) -> None:
    """Compute, before the OOD page draws, what it shows of ``ood_set`` that the shipped stores do not hold: each
    variant's predictions, the view's methods' drift and every variant's Grad-CAM drift (``caches.ood_figures``:
    a long computation says its estimate first and runs in the server's job queue)."""
    parts: list[caches.OodPart] = []
    for each in variants:
        if not _holds(shipped("ood", dataset), _ood_request(arch, each, dataset, ood_set, seed)):
            parts += [("logits", each, None), ("logits", each, ood_set)]
    drift_store = shipped("ood_drift", dataset) if same_target else None
    for each, method in [(variant, method) for method in methods] + [(each, "gradcam") for each in variants]:
        request = _ood_request(arch, each, dataset, ood_set, seed, first=ood.DRIFT_IMAGES, method=method,
                               options=method_options(method, caches.input_size(arch)))
        if not _holds(drift_store, request):
            parts.append(("drift", each, method))
    if parts:
        caches.ood_figures(arch, variant, dataset, ood_set, seed, same_target, ood.DRIFT_IMAGES,
                           list(dict.fromkeys(parts)))


def _holds(stored: StoredSweep | None, request: Request) -> bool:
    return stored is not None and stored.holds(request)


# ---------------------------------------------------------------- explained pairs: the attribution store, else live


@st.cache_data(show_spinner=False, max_entries=256)
def _stored_pair(arch: str, variant: str, ref: ImageRef | None, pair: np.ndarray, shift: str, severity: int, seed: int,
                 method: str, options: dict) -> PairExplanation | None:
    """The pair's explanation read from the shipped attribution store, or None where it does not hold it; looked
    up once per view (DuckDB queries skipped on reruns)."""
    if ref is None:
        return None
    request = Request.of(arch, [variant], ref.source, seed, ((shift, severity),), image=ref.index, method=method,
                         options=options)
    stored = shipped("attributions", ref.source)
    if stored is None or not stored.holds(request):
        return None
    logits = predict_logits(caches.cached_model(arch, variant).model, pair)
    found = stored_pair(stored, request, logits)
    return None if found is None else PairExplanation(logits, *found)


def stored_explanation(view: View, variant: str, picture: Picture, pair: np.ndarray, method: str,
                       options: dict) -> PairExplanation | None:
    """``method`` on the view's (source, shifted) ``pair``, both explained for the source's class, read from the
    shipped attribution store; None when the store does not hold it (``shiftlab.sweep.lookup``)."""
    return _stored_pair(view.arch, variant, picture.ref, pair, view.shift, view.severity, view.seed, method, options)


def pair_explanation(view: View, variant: str, picture: Picture, pair: np.ndarray, method: str, same_target: bool,
                     options: dict) -> PairExplanation:
    """``method`` on the view's (source, shifted) ``pair``: from the shipped attribution store when it holds it,
    computed live otherwise (a long one in the server's job queue, its progress drawn)."""
    stored = stored_explanation(view, variant, picture, pair, method, options) if same_target else None
    if stored is not None:
        return stored
    return caches.explanation(view.arch, variant, pair, method, same_target, options)
