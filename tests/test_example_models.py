"""The shipped example models file (examples/): every page runs on a user's model and image folder, and a deep
link to it opens in a real browser."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from shiftlab.models import forget_models_file, list_variants, load_model, use_models_file

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "shiftlab-models.toml"
VIEW = {"arch": "pets", "variant": "augmix", "image": "pets-photos:3", "shift": "fog", "severity": "3", "seed": "0",
        "methods": "saliency,gradcam,integrated_gradients"}


@pytest.fixture(scope="module", autouse=True)
def example_models():
    use_models_file(EXAMPLE)
    yield
    forget_models_file()


def run_page(page: str) -> AppTest:
    app = AppTest.from_file(str(REPO / "app_pages" / f"{page}.py"), default_timeout=300)
    app.query_params.update(VIEW)
    app.run()
    assert not app.exception, app.exception[0].message
    return app


def test_the_example_loads_with_its_cards():
    assert list_variants("pets") == ["baseline", "augmix"]
    loaded = load_model("pets", "augmix")
    assert loaded.classes == ["cat", "dog", "deer"] and loaded.hooks.gradcam_layer == "net.features"
    assert loaded.card.measurements["pets-photos/test"].clean.n == 36


def test_compare_explains_the_users_photo_with_three_methods():
    app = run_page("compare")
    shown = " ".join(m.value for m in app.markdown)
    assert "**pets/augmix**" in shown and "pets-photos:3 · label cat" in shown and not app.error
    for method in VIEW["methods"].split(","):
        assert f"**`{method}`**" in shown


def test_variants_compares_the_files_checkpoints():
    app = run_page("variants")
    shown = " ".join(m.value for m in app.markdown)
    assert "baseline" in shown and "augmix" in shown and not app.error


def test_calibration_measures_the_users_folder():
    app = run_page("calibration")
    assert len(app.metric) >= 4 and not app.error


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_a_deep_link_to_the_users_model_opens_in_a_browser():
    from playwright.sync_api import sync_playwright

    from bench.browser import CHROMIUM, app_server, settle

    query = "&".join(f"{k}={v}" for k, v in VIEW.items())
    with app_server({"SHIFTLAB_MODELS": str(EXAMPLE)}) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{url}/compare?{query}")
        page.get_by_text("pets/augmix").first.wait_for(timeout=180_000)
        settle(page)
        body = page.inner_text("body")
        browser.close()
    assert "pets/augmix" in body and "stays correct" in body and "Traceback" not in body
