"""An image folder of the models file as an OOD set (#22): the shift ``ood_folder_<name>`` in the registry, the OOD
page and ``shiftlab sweep --ood-folder``, labelled or unlabelled, with typed errors for what cannot be used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score
from streamlit.testing.v1 import AppTest

from shiftlab import cli
from shiftlab.app import ood
from shiftlab.data import load_dataset
from shiftlab.errors import ImageInputError, UnknownDatasetError
from shiftlab.models import forget_models_file, use_models_file
from shiftlab.models.user import models_file_in_use
from shiftlab.shifts import apply, get_shift, list_shifts
from shiftlab.shifts.batch import to_uint8
from shiftlab.shifts.ood import folder_shift_name, unavailable_reason
from shiftlab.shifts.resample import resize
from shiftlab.sweep import results
from shiftlab.sweep.lookup import SHIPPED_WEIGHTS, Request, StoredSweep
from shiftlab.sweep.run import ood_summary
from shiftlab.sweep.ship import shipped_store

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples"
STRANGERS = 6


@pytest.fixture(scope="module", autouse=True)
def models_file(tmp_path_factory):
    """The example's model and photos, plus three folders: ``strangers`` (6 unlabelled noise images and a text file),
    ``empty`` (no image) and ``broken`` (one file that starts like a PNG and is not one)."""
    root = tmp_path_factory.mktemp("ood-folder")
    rng = np.random.default_rng(0)
    for name in ("strangers", "empty", "broken"):
        (root / name).mkdir()
    for i in range(STRANGERS):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(root / "strangers" / f"{i}.png")
    (root / "strangers" / "notes.txt").write_text("not an image")
    (root / "broken" / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    example = (EXAMPLE / "shiftlab-models.toml").read_text()
    example = example.replace('"weights/', f'"{EXAMPLE}/weights/').replace('folder = "photos"',
                                                                          f'folder = "{EXAMPLE}/photos"')
    folders = "".join(f'\n[datasets.{name}]\nfolder = "{name}"\n' for name in ("strangers", "empty", "broken"))
    path = root / "shiftlab-models.toml"
    path.write_text(example + folders)
    before = models_file_in_use()
    assert use_models_file(path) is not None
    yield path
    use_models_file(before) if before else forget_models_file()


def test_each_usable_folder_is_an_ood_set_and_an_empty_one_says_why():
    offered = list_shifts(kind="dataset", available_only=True)
    assert {"ood_folder_pets-photos", "ood_folder_strangers"} <= set(offered)
    assert "ood_folder_empty" not in offered and "no images" in unavailable_reason("ood_folder_empty")
    assert get_shift("ood_folder_strangers").family == "folder_ood"
    assert folder_shift_name("strangers") == "ood_folder_strangers"
    with pytest.raises(UnknownDatasetError,
                       match="no image folder 'nope' is registered as a dataset; registered: pets-photos"):
        folder_shift_name("nope")


def test_an_unlabelled_folder_replaces_the_images_by_its_own_resized():
    images = load_dataset("cifar10-sample", limit=8).images
    shifted = apply("ood_folder_strangers", images, 5, 0, device="cpu")
    folder = load_dataset("strangers").images
    assert len(folder) == STRANGERS, "the text file is left out"
    resized = to_uint8(resize(torch.from_numpy(folder[:]).permute(0, 3, 1, 2) / 255.0, 32, 32))
    for image in shifted:
        assert any(np.array_equal(image, candidate) for candidate in resized)
    kept = apply("ood_folder_strangers", images, 1, 0, device="cpu")
    assert 0 < sum(np.array_equal(a, b) for a, b in zip(kept, images)) < len(images), "severity 1 replaces a fifth"


def test_a_file_that_is_no_image_is_named():
    with pytest.raises(ImageInputError, match="0.png"):
        apply("ood_folder_broken", load_dataset("cifar10-sample", limit=2).images, 5, 0, device="cpu")


def test_the_shipped_store_never_answers_for_a_folder():
    with results.open(shipped_store("ood")) as store:
        request = Request.of("resnet20", ["baseline"], "cifar10-sample", 0, (("ood_folder_strangers", 5),))
        assert not StoredSweep(lambda: store, SHIPPED_WEIGHTS).holds(request)


def shiftlab(capsys, *argv) -> tuple[int, str, str]:
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def test_sweep_ood_folder_prints_each_scores_auroc(tmp_path, capsys):
    out = tmp_path / "sweep"
    status, printed, _ = shiftlab(capsys, "sweep", "--models", "pets/baseline", "--data", "pets-photos", "--limit", 8,
                                  "--ood-folder", "strangers", "--severities", 5, "--device", "cpu", "--out", out)
    assert status == 0 and "ood_folder_strangers" in printed and "AUROC energy" in printed
    with results.open(out) as opened:
        records = opened.records("pets", "baseline")
    is_ood = (records["shift"] == "ood_folder_strangers").to_numpy()
    assert is_ood.sum() == 8 and (~is_ood).sum() == 8
    summary = ood_summary(out, ["ood_folder_strangers"])
    for score in ("msp", "energy"):
        expected = roc_auc_score(is_ood, records[score])
        assert f"{expected:.3f}" in summary.splitlines()[1], (score, summary)


@pytest.mark.parametrize("flags, message", [
    (["--ood-folder", "nope"], "no image folder 'nope' is registered as a dataset"),
    ([], "name what to sweep: --shifts (shift names or groups) and/or --ood-folder"),
], ids=["unknown folder", "nothing to sweep"])
def test_sweep_refuses_what_it_cannot_use_in_one_line(flags, message, tmp_path, capsys):
    status, _, err = shiftlab(capsys, "sweep", "--models", "pets/baseline", "--data", "pets-photos", *flags,
                              "--out", tmp_path / "sweep")
    assert status == 2 and err.count("\n") == 1 and message in err
    assert not (tmp_path / "sweep").exists()


def ood_page(ood_set: str) -> AppTest:
    app = AppTest.from_file(str(REPO / "app_pages" / "ood.py"), default_timeout=300)
    app.query_params.update({"arch": "pets", "variant": "baseline", "image": "pets-photos:0", "methods": "gradcam"})
    app.session_state["ood_set"] = ood_set
    app.run()
    assert not app.exception, app.exception[0].message
    assert not app.error, app.error[0].value
    return app


def test_the_ood_page_compares_the_users_folder_with_an_unlabelled_one():
    app = ood_page("ood_folder_strangers")
    shown = " ".join(m.value for m in app.markdown)
    assert "images of `pets-photos`" in shown and "images of your folder `strangers`" in shown
    assert len(app.dataframe) >= 3


def test_the_ood_page_warns_when_a_folder_is_its_own_ood_set():
    assert "the in-distribution folder itself" in ood.describe("ood_folder_pets-photos", "pets-photos", 15, 0)
    assert "itself" not in ood.describe("ood_folder_strangers", "pets-photos", 15, 0)
