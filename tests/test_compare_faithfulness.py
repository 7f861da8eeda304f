"""Compare's deletion and insertion figures (issue 25 item 2): each method's row shows its deletion and insertion
areas, source → shifted, beside the random order's, equal to what the core computes for the same view; its
curves on demand; a long measure waits for a click and runs in the job queue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from shiftlab.app import faithfulness, text
from shiftlab.app.explain import explain_pair, image_pair, method_options
from shiftlab.data import load_dataset
from shiftlab.metrics.faithfulness import deletion_insertion, random_reference
from shiftlab.models import load_model
from shiftlab.trust import TrustSettings

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "compare.py")
#: README's example view, with the two methods that cost one pass each (a cheap page)
VIEW = {"arch": "resnet20", "variant": "baseline", "image": "cifar10-sample:37", "shift": "fog", "severity": "3",
        "seed": "0", "methods": "saliency,gradcam", "target": "source"}


def compare_page(**changes: str) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=300)
    app.query_params.update({**VIEW, **changes})
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    return app


def figures(app: AppTest) -> list[str]:
    return [m.value for m in app.markdown if m.value.startswith(("Deletion area", "Insertion area"))]


@pytest.fixture(scope="module", autouse=True)
def quick_pace():
    """The model's pace as on a quiet server (a loaded one would ask before measuring: the last test's case)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(faithfulness, "forward_seconds", lambda book, loaded, images: 0.001 * images)
        yield


@pytest.fixture(scope="module")
def page() -> AppTest:
    return compare_page()


@pytest.fixture(scope="module")
def core() -> dict:
    """The view's figures computed by the core alone: the pair as the view defines it (image 37 of the sample, fog
    at severity 3 from its own place in the random stream), each method's maps for the source's class, and
    deletion/insertion at the Trust page's settings."""
    loaded = load_model("resnet20", "baseline")
    pair = image_pair(load_dataset("cifar10-sample").images[37], "fog", 3, 0, loaded.input_size, 37)
    settings, measured = TrustSettings(), {}
    for method in VIEW["methods"].split(","):
        attribution = explain_pair(loaded, pair, method, True, **method_options(method, loaded.input_size)).attribution
        reference = random_reference(loaded, pair, attribution.target, steps=settings.steps,
                                     baseline=settings.baseline, draws=settings.draws, seed=settings.seed)
        measured[method] = deletion_insertion(loaded, pair, attribution.maps, attribution.target,
                                              steps=settings.steps, baseline=settings.baseline, order=settings.order,
                                              seed=settings.seed, reference=reference)
    return measured


def expected_lines(curves) -> list[str]:
    def pair(values):
        return f"{values[0]:.3f}\u00a0→\u00a0{values[1]:.3f}"

    return [f"Deletion area: **{pair(curves.deletion_auc)}**  \n"
            f":gray[random order: {pair(curves.random_deletion_auc)}]",
            f"Insertion area: **{pair(curves.insertion_auc)}**  \n"
            f":gray[random order: {pair(curves.random_insertion_auc)}]"]


def test_each_row_shows_the_areas_the_core_computes_for_the_view(page, core):
    expected = [line for method in VIEW["methods"].split(",") for line in expected_lines(core[method])]
    assert figures(page) == expected
    assert [t.label for t in page.toggle if t.key and t.key.startswith("curves_")] == [text.CURVES_TOGGLE] * 2
    helps = {m.help for m in page.markdown if m.value.startswith(("Deletion area", "Insertion area"))}
    assert helps == {text.DELETION_HELP, text.INSERTION_HELP}


def test_the_map_beats_the_random_order_where_the_model_is_sure(core):
    """Grad-CAM of the source's truck (74 %): its pixels take the class's probability down sooner than random."""
    curves = core["gradcam"]
    assert curves.deletion_auc[0] < curves.random_deletion_auc[0]
    assert curves.insertion_auc[0] > curves.random_insertion_auc[0]


def test_the_curves_are_drawn_on_demand_from_the_same_figures(page, core):
    assert not page.get("vega_lite_chart")
    page.toggle(key="curves_gradcam").set_value(True).run()
    [chart] = page.get("vega_lite_chart")
    assert text.FAITHFULNESS_READ in [c.value for c in page.caption]
    frame = faithfulness.curves_frame(core["gradcam"])
    assert len(frame) == 2 * 2 * 2 * 21
    shown = frame.query("curve == 'deletion' and order == 'map' and condition == 'shifted'")["probability"]
    np.testing.assert_array_equal(shown.to_numpy(), core["gradcam"].deletion[1])
    assert '"deletion"' in chart.proto.spec and '"insertion"' in chart.proto.spec


def test_presentation_mode_keeps_the_figures(core):
    app = compare_page(present="1", methods="gradcam")
    assert figures(app) == expected_lines(core["gradcam"])
    assert not [p for p in app.get("popover")]


def test_a_long_measure_says_its_cost_and_waits_for_a_click(monkeypatch, core):
    """Estimated above ``ASK_SECONDS`` (here by a slow pace): the cost and a button, no figures; after the click the
    measure runs in the job queue and the same figures appear."""
    monkeypatch.setattr(faithfulness, "forward_seconds", lambda book, loaded, images: 0.1 * images)
    app = compare_page(methods="gradcam")
    assert not figures(app)
    passes = faithfulness.model_passes(1)
    assert text.FAITHFULNESS_COST.format(passes=passes, seconds=0.1 * passes) in [c.value for c in app.caption]
    app.button(key="faithfulness_run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert figures(app) == expected_lines(core["gradcam"])


def test_a_map_with_a_nan_is_left_out_and_said_undefined():
    def script():
        from types import SimpleNamespace

        import numpy as np

        from shiftlab.app import faithfulness

        nan_maps = SimpleNamespace(maps=np.full((2, 32, 32), np.nan), target=np.zeros(2, int))
        broken = SimpleNamespace(attribution=nan_maps)
        pair = np.zeros((2, 32, 32, 3), np.uint8)
        measured = faithfulness.measure("resnet20", "baseline", pair, {"saliency": broken})
        assert measured == {}
        faithfulness.show_figures(measured.get("saliency"), "saliency")

    app = AppTest.from_function(script).run()
    assert not app.exception, [e.value for e in app.exception]
    assert [m.value for m in app.markdown] == ["Deletion and insertion: **undefined**"] and not app.toggle
