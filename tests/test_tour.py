"""The guided tour: its preset (read from the shipped store, the one the live search finds), and every step's
sentences against what that step's page shows of the tour's view (AppTest, from Home's start button to Finish)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from shiftlab.app import sweeps, text, tour, tour_facts
from shiftlab.app.pages import PAGES
from shiftlab.app.tour import (
    STEPS,
    TOUR_ARCH,
    TOUR_KEY,
    TOUR_SEVERITY,
    TOUR_SHIFTS,
    TOUR_VARIANTS,
    TOUR_VIEW_KEY,
    Outcomes,
    Preset,
    find_preset,
    preset_from_store,
    step_text,
)
from shiftlab.app.view import View
from shiftlab.data import load_dataset
from shiftlab.errors import SweepStoreError
from shiftlab.inference import predict_logits
from shiftlab.models import load_model
from shiftlab.shifts import apply
from shiftlab.sweep.lookup import SHIPPED_WEIGHTS, Request, StoredSweep
from shiftlab.sweep.ship import ATTRIBUTION_SEVERITY, ATTRIBUTION_SHIFTS, TOUR_IMAGE

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_find_preset_picks_the_largest_drop_by_hand():
    labels = np.array([0, 1])

    def outcomes(probs: list[list[float]]) -> Outcomes:
        return Outcomes.of(labels, np.log(probs))

    clean = {"baseline": outcomes([[0.9, 0.1], [0.2, 0.8]]), "augmix": outcomes([[0.8, 0.2], [0.3, 0.7]])}
    shifted = {"fog": {"baseline": outcomes([[0.4, 0.6], [0.6, 0.4]]), "augmix": outcomes([[0.7, 0.3], [0.4, 0.6]])},
               "noise": {"baseline": outcomes([[0.2, 0.8], [0.1, 0.9]]), "augmix": outcomes([[0.3, 0.7], [0.2, 0.8]])}}
    preset = find_preset(clean, shifted)  # fog: image 0 drops 0.5, image 1 drops 0.4; noise: augmix fails 0
    assert (preset.index, preset.shift, round(preset.drop, 6)) == (0, "fog", 0.5)
    assert find_preset(clean, {"noise": {**shifted["noise"], "augmix": shifted["noise"]["baseline"]}}) is None


def test_the_stored_preset_is_the_one_the_search_finds():
    """The preset read from the shipped prediction store (what the app opens on) is the live search's: the image
    where the baseline goes from right to wrong and AugMix stays right, with the largest drop."""
    sample = load_dataset("cifar10-sample")
    models = {v: load_model(TOUR_ARCH, v).model for v in TOUR_VARIANTS}
    logits = {(v, s): predict_logits(m, sample.images if s is None else apply(s, sample.images, TOUR_SEVERITY, 0))
              for v, m in models.items() for s in (None, *TOUR_SHIFTS)}
    clean = {v: Outcomes.of(sample.labels, logits[v, None]) for v in TOUR_VARIANTS}
    shifted = {s: {v: Outcomes.of(sample.labels, logits[v, s]) for v in TOUR_VARIANTS} for s in TOUR_SHIFTS}
    live = find_preset(clean, shifted)
    label = sample.labels[live.index]
    assert logits["baseline", None][live.index].argmax() == label != logits["baseline", live.shift][live.index].argmax()
    assert logits["augmix", live.shift][live.index].argmax() == label
    request = Request.of(TOUR_ARCH, TOUR_VARIANTS, "cifar10-sample", 0, tuple((s, TOUR_SEVERITY) for s in TOUR_SHIFTS))
    store = sweeps.shipped()
    assert StoredSweep(lambda: store, SHIPPED_WEIGHTS).holds(request)  # the app reads it rather than searching
    stored = preset_from_store(store)
    assert (stored.index, stored.shift) == (live.index, live.shift)
    assert stored.drop == pytest.approx(live.drop, abs=1e-6)  # the store keeps the label's probability in float32
    assert live.index == TOUR_IMAGE and live.shift in ATTRIBUTION_SHIFTS  # the tour's maps are in the store
    assert str(TOUR_SEVERITY) == ATTRIBUTION_SEVERITY


def test_a_store_that_does_not_read_leaves_the_preset_to_the_search(monkeypatch):
    def broken():
        raise SweepStoreError("predictions/part-0.parquet: corrupt Parquet file")

    monkeypatch.setattr(tour.sweep_panel, "shipped", lambda name, dataset: StoredSweep(broken, SHIPPED_WEIGHTS))
    monkeypatch.setattr(tour, "live_preset", lambda: Preset(7, "fog", 0.5))
    assert tour.cached_tour_preset((("baseline", "a broken store's key"),)) == Preset(7, "fog", 0.5)


def test_the_tour_visits_the_pages_with_a_stop_in_menu_order():
    assert [step.name for step in STEPS] == ["compare", "variants", "triptych", "calibration", "spectral", "trust"]
    assert STEPS == tuple(page for page in PAGES if page.tour)


# ------------------------------------------------ each step's sentences against its page (AppTest of the tour)

def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def check_compare(at: AppTest, view: View, facts: dict) -> None:
    shown = markdown(at)
    assert sum(f"[**{facts['outcome']}**]" in m for m in shown) == 1  # the outcome flag
    assert text.OUTCOME_CHANGE.format(before=text.plain(facts["before"]), after=text.plain(facts["after"])) in shown
    assert len([m for m in shown if m.startswith("**`")]) == facts["rows"]  # one row per method
    assert any(f"{view.model}**  \n{facts['image']} ·" in m for m in shown)


def check_variants(at: AppTest, view: View, facts: dict) -> None:
    shown = markdown(at)
    names = [m for m in shown if m.startswith("**`")]
    flags = [m for m in shown if m.startswith((":green", ":red"))]
    assert len(names) == facts["n"]
    assert f"[**{facts['baseline_outcome']}**]" in flags[names.index("**`baseline`**")]
    right = facts["right_names"].split(", ")
    assert [n.strip("*`") for n, f in zip(names, flags) if f.startswith(":green")] == right
    label = next(m for m in shown if m.startswith(f"**{facts['right']} of {facts['n']}** variants are right"))
    assert f"under {view.shift} at severity {view.severity}" in label


def check_triptych(at: AppTest, view: View, facts: dict) -> None:
    captions = [c.value for c in at.caption]
    assert f"severity {facts['kept_severity']}, seed {facts['kept_seed']}" in captions
    assert f"severity {facts['flipped_severity']}, seed {facts['flipped_seed']}" in captions
    assert text.TRIPTYCH_SEARCH.format(n=facts["tried"], shift=view.shift, kept=facts["kept"]) in markdown(at)
    flags = [m for m in markdown(at) if m.startswith((":green", ":red"))]
    assert f"[**{facts['kept_outcome']}**]" in flags[0] and f"[**{facts['flipped_outcome']}**]" in flags[1]
    if "both_severity" in facts:
        assert facts["kept_severity"] == facts["flipped_severity"] == facts["both_severity"]


def check_calibration(at: AppTest, view: View, facts: dict) -> None:
    assert metric(at, "accuracy, source → shifted") == facts["accuracy"]
    assert metric(at, "ECE, source → shifted") == facts["ece"]
    captions = [c.value for c in at.caption]
    assert any(f"({facts['held_out']}, clean) fit the temperature" in c and f"({facts['evaluated']}) are evaluated"
               in c for c in captions)
    assert any(c.startswith(f"Every variant on the same {facts['curve_images']} images") for c in captions)


def check_spectral(at: AppTest, view: View, facts: dict) -> None:
    assert any(c.value.startswith(text.WCAM_STORED) for c in at.caption)
    assert any(f"({facts['levels']} Haar levels" in c.value for c in at.caption)
    chart = at.get("vega_lite_chart")[0].proto  # share of importance per level, source and shifted
    bars = pa.ipc.open_stream(chart.datasets[0].data.data).read_all().to_pandas()
    share = {(r.condition, r.level): f"{r.share:.0%}" for r in bars.itertuples()}
    assert [share["source", "approx."], share["source", "level 1"], share["shifted", "approx."],
            share["shifted", "level 1"]] == [facts[k] for k in ("approx_before", "finest_before", "approx_after",
                                                                  "finest_after")]


def check_trust(at: AppTest, view: View, facts: dict) -> None:
    assert text.TRUST_READ in markdown(at)  # how pixels are removed, as the first sentence says
    measured = [c.value for c in at.caption if c.value.startswith("Measuring ")]
    ranked = [frame.value for frame in at.dataframe if "method" in frame.value.columns]
    assert measured or ranked
    if measured:
        assert f" with {facts['methods']}: " in measured[0]
    if ranked:
        assert sorted(ranked[0]["method"]) == sorted(facts["methods"].split(", "))


CHECKS: dict[str, Callable[[AppTest, View, dict], None]] = {
    "compare": check_compare, "variants": check_variants, "triptych": check_triptych,
    "calibration": check_calibration, "spectral": check_spectral, "trust": check_trust,
}


#: the sentences the tour's view leaves unsaid: its image has a label, its WCAM is stored
UNSAID = {"variants": {"kept"}, "calibration": {"agreement"}, "spectral": {"run_label"}}


def tour_panel(at: AppTest) -> str:
    panels = [m for m in markdown(at) if m.startswith("**Guided tour — ")]
    assert len(panels) == 1
    return panels[0]


def test_each_step_says_what_its_page_shows():
    """Home → Start → Next through every step to Finish: each step's sentences are its stop's templates filled
    with the facts, and each fact is what the step's page shows (its flag, figures, captions, chart)."""
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.button(key="start_tour").click().run()
    view = at.session_state[TOUR_VIEW_KEY]
    assert (view.image.index, view.shift) == (TOUR_IMAGE, "gaussian_noise")  # the preset (stored store's)
    for index, step in enumerate(STEPS):
        assert not at.exception and not at.error, (step.name, [e.value for e in [*at.exception, *at.error]])
        assert at.title[0].value == step.title and at.session_state[TOUR_KEY] == index
        facts = tour_facts.facts(step.name, view)
        assert {f for f in step.tour.fields() if facts.get(f) is None} == UNSAID.get(step.name, set()), step.name
        assert tour_panel(at) == f"**Guided tour — {index + 1} · {step.tour.title}**  \n{step_text(step, view)}"
        CHECKS[step.name](at, view, facts)
        labels = [b.label for b in at.button if str(b.key).startswith("tour_")]
        last = index == len(STEPS) - 1
        assert labels == (["Finish"] if last else [f"Next → {STEPS[index + 1].menu_title}", "End the tour"])
        at.button(key="tour_finish" if last else "tour_next").click().run()
    assert TOUR_KEY not in at.session_state and not [m for m in markdown(at) if m.startswith("**Guided tour")]
