"""Hostile and careless input at the Python API and in the decoders (issue 23, principles 1 and 5).

Every case calls a public function the way a careless or hostile caller would and asserts the typed
``ShiftlabError`` and the words of its message (the value and the accepted range). The decoder cases also
assert that the refusal comes before the declared size is inflated (a time bound, and a memory bound in a
subprocess for the worst PNG accepted) and that nothing is written beside the input file. To add a case,
add a row to the table of its boundary.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shiftlab import images as image_module
from shiftlab.adversarial import robust_accuracy
from shiftlab.attribution import attribute, checked_options, estimate_cost
from shiftlab.data import load_dataset
from shiftlab.dataset_files import MAX_ARRAY_BYTES
from shiftlab.errors import (
    AttributionError,
    DatasetFormatError,
    ImageInputError,
    MetricInputError,
    ParameterError,
    ShiftlabError,
    UnknownOptionError,
    UnknownShiftError,
    UnsupportedMethodError,
)
from shiftlab.images import MAX_DECODE_BYTES, fit_to_model, load_image, read_image
from shiftlab.inference import predict_logits, top_k
from shiftlab.metrics import (
    TemperatureScaling,
    accuracy,
    brier,
    detection_metrics,
    drift_report,
    ece,
    energy_score,
    fit_temperature,
    fpr_at_tpr,
    macro_f1,
    mce,
    nll,
    ood_score,
    pearson,
    reliability_bins,
    top_k_iou,
)
from shiftlab.models import load_model
from shiftlab.shifts import apply, get_shift, list_shifts

REPO = Path(__file__).resolve().parents[1]
#: the peak README promises for any upload (``load_image``), in MB
DOCUMENTED_PEAK_MB = 400


def raises(error: type[ShiftlabError], message: str, call) -> ShiftlabError:
    """``call()`` raises ``error`` (a ShiftlabError) whose message contains ``message`` (plain text)."""
    with pytest.raises(error, match=re.escape(message)) as caught:
        call()
    assert isinstance(caught.value, ShiftlabError)
    return caught.value


# 1. Metrics ----------------------------------------------------------------------------------------------------------

LABELS, LOGITS = np.array([0, 1, 2]), np.eye(3)

METRICS = {
    "string logits": (lambda: accuracy(LABELS, np.array([["a", "b", "c"]] * 3)),
                      "logits must be numbers, got an array of dtype <U1"),
    "numeric strings are not numbers": (lambda: nll(LABELS, [["1", "2", "3"]] * 3), "logits must be numbers"),
    "ragged logits": (lambda: accuracy(LABELS, [[1, 2, 3], [1, 2], [1]]), "logits must be an array of numbers"),
    "object logits": (lambda: brier(LABELS, np.array([[object()] * 3] * 3)), "got an array of dtype object"),
    "complex logits": (lambda: accuracy(LABELS, LOGITS * 1j), "dtype complex128"),
    "nan logits": (lambda: accuracy(LABELS, np.full((3, 3), np.nan)), "logits contain NaN or infinite values"),
    "inf logits": (lambda: ece(LABELS, np.array([[np.inf, 0, 0]] * 3)), "NaN or infinite"),
    "1-D logits": (lambda: accuracy(LABELS, np.zeros(3)), "logits must be N×K, got shape (3,)"),
    "empty": (lambda: accuracy(np.zeros(0, int), np.zeros((0, 3))), "at least one example"),
    "label count": (lambda: nll(np.array([0, 1]), LOGITS), "2 labels for 3 predictions"),
    "label too large": (lambda: brier(np.array([0, 1, 3]), LOGITS), "labels must lie in [0, 3), got values in [0, 3]"),
    "negative label": (lambda: macro_f1(np.array([0, -1, 2]), LOGITS), "got values in [-1, 2]"),
    "float labels": (lambda: accuracy(np.array([0.0, 1.0, 2.0]), LOGITS), "labels must be integer class indices"),
    "bool labels": (lambda: accuracy(np.array([True, False, True]), LOGITS), "labels must be integer class indices"),
    "ragged labels": (lambda: accuracy([0, [1], 2], LOGITS), "labels must be a 1-D array of class indices"),
    "string labels": (lambda: accuracy(np.array(["0", "1", "2"]), LOGITS), "labels must be integer class indices"),
    "n_bins a billion": (lambda: ece(LABELS, LOGITS, n_bins=10**9),
                         "n_bins must be an integer from 1 to 1000, got 1000000000"),
    "n_bins 2.5": (lambda: ece(LABELS, LOGITS, n_bins=2.5), "n_bins must be an integer from 1 to 1000, got 2.5"),
    "n_bins zero": (lambda: mce(LABELS, LOGITS, n_bins=0), "got 0"),
    "n_bins text": (lambda: reliability_bins(LABELS, LOGITS, n_bins="15"), "got '15'"),
    "n_bins bool": (lambda: ece(LABELS, LOGITS, n_bins=True), "got True"),
    "n_bins huge": (lambda: ece(LABELS, LOGITS, n_bins=10**5000), "got an integer of 16610 bits"),
    "unknown strategy": (lambda: ece(LABELS, LOGITS, strategy="log"),
                         "strategy must be one of uniform, quantile; got 'log'"),
    "unhashable strategy": (lambda: ece(LABELS, LOGITS, strategy=["uniform"]), "got ['uniform']"),
    "tpr level 2": (lambda: fpr_at_tpr(np.zeros(3), np.ones(3), 2),
                    "tpr_level must be a finite number in (0, 1], got 2"),
    "tpr level 0": (lambda: fpr_at_tpr(np.zeros(3), np.ones(3), 0), "in (0, 1], got 0"),
    "tpr level nan": (lambda: fpr_at_tpr(np.zeros(3), np.ones(3), float("nan")), "got nan"),
    "string scores": (lambda: detection_metrics(np.array(["a"]), np.ones(3)), "scores_in must be numbers"),
    "temperature -1": (lambda: TemperatureScaling(-1), "temperature must be a finite number in (0, inf), got -1"),
    "temperature 0": (lambda: TemperatureScaling(0.0), "got 0.0"),
    "temperature inf": (lambda: TemperatureScaling(float("inf")), "got inf"),
    "temperature text": (lambda: TemperatureScaling("2"), "got '2'"),
    "fit bounds of three": (lambda: fit_temperature(LABELS, LOGITS, (0.1, 1, 2)), "bounds must be a pair (low, high)"),
    "fit bounds negative": (lambda: fit_temperature(LABELS, LOGITS, (-1, 2)),
                            "bounds[0] must be a finite number in (0, inf)"),
    "fit bounds reversed": (lambda: fit_temperature(LABELS, LOGITS, (2, 1)), "bounds must satisfy 0 < low < high"),
    "energy temperature": (lambda: energy_score(LOGITS, -1.0), "temperature must be a positive finite number"),
    "unhashable OOD score": (lambda: ood_score(LOGITS, ["energy"]), "unknown OOD score ['energy']"),
    "top-k percentage 0": (lambda: top_k_iou(np.eye(8), np.eye(8), 0),
                           "k (a percentage) must be a finite number in (0, 100], got 0"),
    "top-k percentage text": (lambda: top_k_iou(np.eye(8), np.eye(8), "10"), "got '10'"),
    "string maps": (lambda: pearson(np.array([["a"] * 2] * 2), np.eye(2)), "map_a must be numbers"),
    "drift k checked before the loop": (lambda: drift_report(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), k=101),
                                        "got 101"),
}


@pytest.mark.parametrize("case", METRICS)
def test_metrics_refuse_bad_arguments(case):
    call, message = METRICS[case]
    raises(MetricInputError, message, call)


def test_brier_of_many_classes_needs_no_identity_matrix():
    """One example over 200,000 classes: a K×K identity would take 320 GB."""
    logits = np.zeros((1, 200_000))
    started = time.perf_counter()
    assert brier(np.array([0]), logits) == pytest.approx((1 - 1 / 200_000) ** 2 + (200_000 - 1) / 200_000**2)
    assert time.perf_counter() - started < 1.0


def test_a_valid_temperature_still_divides_the_logits():
    np.testing.assert_array_equal(TemperatureScaling(2.0).apply(LOGITS), LOGITS / 2.0)


# 2. Inference --------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def resnet():
    return load_model("resnet20", None, device="cpu")


@pytest.fixture(scope="module")
def vit():
    return load_model("vit_tiny", None, device="cpu")


@pytest.fixture(scope="module")
def two_images() -> np.ndarray:
    return load_dataset("cifar10-sample", limit=2).images


def uint8(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.uint8)


INFERENCE = {
    "batch size -1": (lambda r, v, x: predict_logits(r.model, x, -1), ParameterError,
                      "batch_size must be an integer >= 1, got -1"),
    "batch size 0": (lambda r, v, x: predict_logits(r.model, x, 0), ParameterError, "got 0"),
    "batch size 2.5": (lambda r, v, x: predict_logits(r.model, x, 2.5), ParameterError, "got 2.5"),
    "0×0 images": (lambda r, v, x: predict_logits(r.model, uint8(2, 0, 0, 3)), ImageInputError,
                   "at least 1×1 pixels, got 0×0"),
    "ViT fed 31 px": (lambda r, v, x: predict_logits(v.model, uint8(2, 31, 31, 3)), ImageInputError,
                      "the model cannot take 31×31 images: Input image size (31*31) doesn't match model (32*32)"),
    "loaded ViT fed 31 px": (lambda r, v, x: predict_logits(v, uint8(2, 31, 31, 3)), ImageInputError,
                             "vit_tiny takes 32×32 images, got 31×31"),
    "loaded ResNet fed 224 px": (lambda r, v, x: predict_logits(r, uint8(1, 224, 224, 3)), ImageInputError,
                                 "takes 32×32"),
    "float images": (lambda r, v, x: predict_logits(r.model, x.astype(np.float32)), ImageInputError, "uint8"),
    "four channels": (lambda r, v, x: predict_logits(r.model, uint8(1, 32, 32, 4)), ImageInputError, "N×H×W×3"),
    "not a model": (lambda r, v, x: predict_logits("resnet20", x), ParameterError,
                    "model must be a torch module or a LoadedModel, got str"),
    "top-k k=-1": (lambda r, v, x: top_k(np.zeros(10), [str(i) for i in range(10)], k=-1), ParameterError,
                   "k must be an integer >= 1, got -1"),
    "top-k k=0": (lambda r, v, x: top_k(np.zeros(10), [str(i) for i in range(10)], k=0), ParameterError, "got 0"),
    "top-k fewer names": (lambda r, v, x: top_k(np.zeros(10), ["cat", "dog"]), MetricInputError,
                          "classes must name each of the 10 logits, got 2"),
    "top-k names not a list": (lambda r, v, x: top_k(np.zeros(10), None), MetricInputError, "got NoneType"),
    "top-k of a batch": (lambda r, v, x: top_k(np.zeros((2, 10)), list("abcdefghij")), MetricInputError,
                         "one vector of K finite numbers"),
    "top-k of text": (lambda r, v, x: top_k(np.array(["a"] * 10), list("abcdefghij")), MetricInputError,
                      "logits must be numbers"),
    "top-k of nan": (lambda r, v, x: top_k(np.full(10, np.nan), list("abcdefghij")), MetricInputError, "finite"),
}


@pytest.mark.parametrize("case", INFERENCE)
def test_inference_refuses_bad_arguments(case, resnet, vit, two_images):
    call, error, message = INFERENCE[case]
    raises(error, message, lambda: call(resnet, vit, two_images))


def test_top_k_of_more_than_k_classes_gives_them_all_and_a_row_is_a_vector():
    ranking = top_k(np.array([[0.0, 1.0, 2.0]]), ["a", "b", "c"], k=10)
    assert [name for name, _ in ranking] == ["c", "b", "a"]


# 3. Attribution ------------------------------------------------------------------------------------------------------

ATTRIBUTION = {
    "IG steps unbounded": ("integrated_gradients", {"n_steps": 10**6}, AttributionError,
                           "n_steps must be an integer from 1 to 1024, got 1000000"),
    "IG steps zero": ("integrated_gradients", {"n_steps": 0}, AttributionError, "from 1 to 1024, got 0"),
    "IG steps text": ("integrated_gradients", {"n_steps": "50"}, AttributionError, "got '50'"),
    "IG batch unbounded": ("integrated_gradients", {"internal_batch_size": 10**9}, AttributionError,
                           "internal_batch_size must be an integer from 1 to 4096, got 1000000000"),
    "IG batch float": ("integrated_gradients", {"internal_batch_size": 64.0}, AttributionError, "got 64.0"),
    "IG rule": ("integrated_gradients", {"integration": 3}, AttributionError,
                "integration must be one of gausslegendre"),
    "Grad-CAM layer of wrong type": ("gradcam", {"layer": 5}, AttributionError,
                                     "layer must be a module name (text) or None, got 5"),
    "WCAM designs unbounded": ("wcam", {"nb_design": 2**20}, AttributionError,
                               "nb_design must be an integer from 2 to 4096, got 1048576"),
    "WCAM max designs unbounded": ("wcam", {"max_design": 2**13}, AttributionError,
                                   "max_design must be an integer from 2 to 4096"),
    "WCAM designs not a power of two": ("wcam", {"nb_design": 6}, AttributionError,
                                        "nb_design must be a power of two, got 6"),
    "WCAM grid unbounded": ("wcam", {"grid_size": 128}, AttributionError,
                            "grid_size must be an integer from 1 to 64, got 128"),
    "WCAM grid not dividing": ("wcam", {"grid_size": 5}, AttributionError,
                               "grid_size must divide the image side 32, got 5"),
    "WCAM grid float": ("wcam", {"grid_size": 8.0}, AttributionError, "got 8.0"),
    "WCAM levels a billion": ("wcam", {"levels": 10**9}, AttributionError,
                              "levels must be an integer >= 1 with 32 divisible by 2**levels"),
    "WCAM levels six": ("wcam", {"levels": 6}, AttributionError, "got 6"),
    "WCAM batch unbounded": ("wcam", {"batch_size": 10**7}, AttributionError,
                             "batch_size must be an integer from 1 to 16384"),
    "WCAM batch zero": ("wcam", {"batch_size": 0}, AttributionError, "got 0"),
    "WCAM output": ("wcam", {"output": "odds"}, AttributionError, "output must be one of probability, logit"),
    "WCAM perturbation": ("wcam", {"perturbation": None}, AttributionError,
                          "perturbation must be one of normalized, reference; got None"),
    "WCAM time budget text": ("wcam", {"time_budget": "10"}, AttributionError,
                              "time_budget must be a finite number in (0, 86400.0], got '10'"),
    "WCAM time budget negative": ("wcam", {"time_budget": -1}, AttributionError, "got -1"),
    "WCAM progress": ("wcam", {"progress": 5}, AttributionError,
                      "progress must be a function progress(done, total) or None, got 5"),
    "WCAM seed": ("wcam", {"seed": 1.5}, AttributionError, "seed must be an integer >= 0, got 1.5"),
    "WCAM resume": ("wcam", {"resume": "last run"}, AttributionError,
                    "resume takes an earlier WCAM Attribution, got str"),
    "WAM samples unbounded": ("wam", {"n_samples": 10**6}, AttributionError,
                              "n_samples must be an integer from 1 to 1024"),
    "WAM noise text": ("wam", {"noise": "0.25"}, AttributionError,
                       "noise must be a finite number in [0.0, 10.0], got '0.25'"),
    "WAM noise nan": ("wam", {"noise": float("nan")}, AttributionError, "got nan"),
    "WAM seed out of torch's range": ("wam", {"seed": 2**64}, AttributionError,
                                      "seed must be an integer from 0 to 18446744073709551615"),
    "WAM batch": ("wam", {"batch_size": -5}, AttributionError, "batch_size must be an integer from 1 to 16384, got -5"),
    "unknown option": ("saliency", {"n_steps": 5}, UnknownOptionError,
                       "unknown option(s) n_steps for saliency; options: none"),
    "unknown method": ("lime", {}, UnsupportedMethodError, "unknown attribution method 'lime'"),
    "unhashable method": (["wcam"], {}, UnsupportedMethodError, "unknown attribution method ['wcam']"),
}


@pytest.mark.parametrize("case", ATTRIBUTION)
def test_attribution_options_are_bounded_before_any_work(case, resnet, two_images):
    method, options, error, message = ATTRIBUTION[case]
    started = time.perf_counter()
    raises(error, message, lambda: checked_options(resnet, method, **options))
    raises(error, message, lambda: attribute(resnet, two_images, method, **options))
    assert time.perf_counter() - started < 0.5


TARGETS = {
    "out of range": (10, "target classes must lie in [0, 10), got [10, 10]"),
    "negative": ([0, -1], "got [0, -1]"),
    "ragged": ([1, [2]], "target must be an int class index or one per image, got [1, [2]]"),
    "text": ("cat", "got 'cat'"),
    "float": (1.0, "got 1.0"),
    "too many": ([1, 2, 3], "one per image"),
}


@pytest.mark.parametrize("case", TARGETS)
def test_bad_targets_are_attribution_errors(case, resnet, two_images):
    target, message = TARGETS[case]
    raises(AttributionError, message, lambda: attribute(resnet, two_images, "saliency", target=target))


@pytest.mark.parametrize("n_images, message",
                         [(-1, "got -1"), (0, "got 0"), (2.5, "got 2.5"), (10**9, "from 1 to 100000")])
def test_estimate_cost_refuses_a_count_that_is_not_a_count(resnet, n_images, message):
    raises(AttributionError, f"n_images must be an integer {message}" if message.startswith("from") else message,
           lambda: estimate_cost(resnet, n_images, nb_design=2, max_design=2, grid_size=4))


def test_estimate_cost_checks_options_as_attribute_does(resnet):
    started = time.perf_counter()
    raises(AttributionError, "grid_size must divide the image side 32, got 5",
           lambda: estimate_cost(resnet, 1, grid_size=5))
    raises(AttributionError, "nb_design must be an integer from 2 to 4096",
           lambda: estimate_cost(resnet, 1, nb_design=2**14))
    assert time.perf_counter() - started < 0.2  # refused before any probe batch runs


def test_checked_options_give_the_defaults_with_the_changes(resnet):
    options = checked_options(resnet, "integrated_gradients", n_steps=1024)
    assert options == {"n_steps": 1024, "integration": "gausslegendre", "internal_batch_size": 64}


ADVERSARIAL = {
    "eps above 1": ({"eps": 8}, ParameterError, "eps must be a finite number in [0, 1], got 8"),
    "negative steps": ({"steps": -1}, ParameterError, "steps must be an integer from 0 to 1000, got -1"),
    "steps unbounded": ({"steps": 10**6}, ParameterError, "got 1000000"),
    "batch size 0": ({"batch_size": 0}, ParameterError, "batch_size must be an integer >= 1, got 0"),
    "seed -1": ({"seed": -1}, ParameterError, "seed must be an integer from 0 to 18446744073709551615, got -1"),
    "labels out of range": ({"labels": np.array([0, 10])}, MetricInputError,
                            "labels must lie in [0, 10), got values in [0, 10]"),
    "labels of another count": ({"labels": np.array([0])}, MetricInputError,
                                "one integer class index per image (2 images"),
}


@pytest.mark.parametrize("case", ADVERSARIAL)
def test_robust_accuracy_checks_its_arguments_before_attacking(case, resnet, two_images):
    options, error, message = ADVERSARIAL[case]
    arguments = {"labels": np.array([0, 1]), **options}
    labels = arguments.pop("labels")
    started = time.perf_counter()
    raises(error, message, lambda: robust_accuracy(resnet.model, two_images, labels, **arguments))
    assert time.perf_counter() - started < 2.0  # at most one forward pass of one image (to count the classes)


# 4. Shifts -----------------------------------------------------------------------------------------------------------

SHIFTS = {
    "unknown kind": (lambda x: list_shifts(kind="nope"), UnknownOptionError,
                     "kind must be one of corruption, edit, dataset; got 'nope'"),
    "unknown family": (lambda x: list_shifts(family="noize"), UnknownOptionError, "family must be one of noise, blur"),
    "kind of wrong type": (lambda x: list_shifts(kind=["edit"]), UnknownOptionError, "got ['edit']"),
    "available_only text": (lambda x: list_shifts(available_only="yes"), ParameterError,
                            "available_only must be True or False, got 'yes'"),
    "severity 3.9": (lambda x: apply("fog", x, 3.9), ParameterError,
                     "severity must be an integer from 1 to 5, got 3.9"),
    "severity 99": (lambda x: apply("fog", x, 99), ParameterError, "got 99"),
    "severity numpy float": (lambda x: apply("fog", x, np.float64(2)), ParameterError, "got np.float64(2.0)"),
    "seed -1": (lambda x: apply("fog", x, 1, seed=-1), ParameterError, "seed must be an integer >= 0, got -1"),
    "seed text": (lambda x: apply("fog", x, 1, seed="0"), ParameterError, "got '0'"),
    "offset negative": (lambda x: apply("fog", x, 1, offset=-3), ParameterError,
                        "offset must be an integer >= 0, got -3"),
    "unhashable name": (lambda x: apply(["fog"], x, 1), UnknownShiftError, "unknown shift ['fog']"),
    "unknown name": (lambda x: get_shift("fogg"), UnknownShiftError, "unknown shift 'fogg'"),
}


@pytest.mark.parametrize("case", SHIFTS)
def test_shift_arguments_are_checked(case):
    call, error, message = SHIFTS[case]
    raises(error, message, lambda: call(uint8(1, 16, 16, 3)))


# 5. Dataset files ----------------------------------------------------------------------------------------------------

def npy(shape: tuple, descr: str = "|u1", body: bytes = b"") -> bytes:
    """A .npy member declaring ``shape`` of ``descr``, followed by ``body`` (however little of it there is)."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue() + body


def write_npz(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(f"{name}.npy", content)
    return path


CLASSES = npy((2,), "<U1", "ab".encode("utf-32-le"))


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def refused(folder: Path, message: str, dataset: str = "cifar10", **options) -> DatasetFormatError:
    """``load_dataset(dataset, root=folder, **options)`` raises a DatasetFormatError saying ``message`` and
    writes nothing into ``folder``."""
    before = listing(folder)
    error = raises(DatasetFormatError, message, lambda: load_dataset(dataset, root=folder, **options))
    assert listing(folder) == before
    return error


@pytest.mark.parametrize("limit", [5, None])
def test_a_zip_bomb_is_refused_from_its_header_even_with_a_limit(tmp_path, limit):
    """3 MB of archive declaring 3 GB of images: refused before anything is inflated."""
    images = npy((1_000_000, 32, 32, 3), body=bytes(3_000_000))
    write_npz(tmp_path / "cifar10_test.npz",
              {"images": images, "labels": npy((5,), "<i8", bytes(40)), "classes": CLASSES})
    started = time.perf_counter()
    refused(tmp_path, "array images declares shape (1000000, 32, 32, 3) of uint8 (3072 MB); the limit is 1000 MB",
            limit=limit)
    assert time.perf_counter() - started < 0.5


def test_a_member_declaring_more_than_the_limit_is_refused_before_opening(tmp_path):
    path = tmp_path / "cifar10_test.npz"
    write_npz(path, {"images": npy((4, 8, 8, 3), body=bytes(768)), "labels": npy((4,), "<i8", bytes(32)),
                     "classes": CLASSES})
    data = bytearray(path.read_bytes())  # declare 4 GB for the images member in the central directory
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", 0xFFFFFFF0)
    path.write_bytes(bytes(data))
    refused(tmp_path, "array images declares a member of 4295 MB")


def test_a_limit_inflates_only_the_rows_it_asks_for(tmp_path):
    """A deflated member declaring 300 MB of images (under the limit) of which only the first rows are there."""
    rows = np.arange(5 * 3072, dtype=np.uint8).tobytes()
    members = {"images": npy((100_000, 32, 32, 3), body=rows), "labels": npy((100_000,), "<i8", bytes(800_000)),
               "classes": CLASSES}
    write_npz(tmp_path / "cifar10_test.npz", members)
    started = time.perf_counter()
    five = load_dataset("cifar10", root=tmp_path, limit=5)
    assert time.perf_counter() - started < 0.5
    assert five.images.tobytes() == rows and five.split_size == 100_000
    refused(tmp_path, "member images.npy is truncated: 15360 of 18432 bytes of data", limit=6)


PICKLED = {
    "object images": lambda path: np.savez(path, images=np.array([None, 1], dtype=object), labels=np.arange(2),
                                           classes=np.array(["a", "b"])),
    "object classes": lambda path: np.savez(path, images=np.zeros((1, 8, 8, 3), np.uint8), labels=np.arange(1),
                                            classes=np.array(["a", 1], dtype=object)),
    "a bare pickle": lambda path: path.write_bytes(pickle.dumps({"images": np.zeros(3)}, protocol=4)),
    "an np.save pickle": lambda path: path.write_bytes(_saved(np.array([{"x": 1}], dtype=object))),
}


def _saved(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=True)
    return out.getvalue()


@pytest.mark.parametrize("case", PICKLED)
def test_pickled_objects_are_named_not_called_corrupt(tmp_path, case):
    PICKLED[case](tmp_path / "cifar10_test.npz")
    error = refused(tmp_path,
                    f"{tmp_path / 'cifar10_test.npz'}: this npz holds pickled objects, which shiftlab refuses to load")
    assert "corrupt" not in str(error)


def test_a_fifo_named_like_a_dataset_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "cifar10_test.npz")
    started = time.perf_counter()
    refused(tmp_path, f"{tmp_path / 'cifar10_test.npz'} is a FIFO, not a dataset file")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("kind, make", [
    ("a folder", lambda path: path.mkdir()),
    ("a device", lambda path: path.symlink_to("/dev/zero")),
])
def test_a_dataset_path_that_is_not_a_file_is_named(tmp_path, kind, make):
    make(tmp_path / "svhn_test.npz")
    refused(tmp_path, f"svhn_test.npz is {kind}, not a dataset file", "svhn")


FORMATS = {
    "encrypted member": ("cifar10_test.npz", "is encrypted or compressed by a method numpy does not use"),
    "member of another npy version": ("cifar10_test.npz", ".npy format (9, 0)"),
    "scalar labels": ("cifar10_test.npz", "labels must be a 1-D array, got shape ()"),
    "float png offsets": ("cifar10_train.npz", "png_offsets must hold at least 2 integer offsets"),
    "a PNG declaring 100000 px": ("cifar10_train.npz", "an image declares 100000×32 pixels, more than 1024 a side"),
    "MATLAB 7.3 file": ("test_32x32.mat", "unreadable as svhn test"),
}


def _member_flagged_encrypted(path: Path) -> None:
    write_npz(path, {"images": npy((1, 8, 8, 3), body=bytes(192)), "labels": npy((1,), "<i8", bytes(8)),
                     "classes": CLASSES})
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature)
        data[at + offset] |= 1
    path.write_bytes(bytes(data))


def declared_png(width: int, height: int, color_type: int = 2, depth: int = 8) -> bytes:
    """A PNG whose header declares width × height pixels, with 64 bytes of pixel data: what a bomb looks like
    before it is decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(64)))
            + chunk(b"IEND", b""))


def _write_format_case(case: str, path: Path) -> None:
    one = {"labels": npy((1,), "<i8", bytes(8)), "classes": CLASSES}
    if case == "encrypted member":
        _member_flagged_encrypted(path)
    elif case == "member of another npy version":
        write_npz(path, {"images": b"\x93NUMPY\x09\x00" + bytes(100), **one})
    elif case == "scalar labels":
        write_npz(path, {"images": npy((1, 8, 8, 3), body=bytes(192)), "labels": npy((), "<i8", bytes(8)),
                         "classes": CLASSES})
    elif case == "float png offsets":
        write_npz(path, {"png": npy((8,), body=bytes(8)), "png_offsets": npy((2,), "<f8", bytes(16)), **one})
    elif case == "a PNG declaring 100000 px":
        png = declared_png(100_000, 32)
        offsets = np.array([0, len(png)], np.int64).tobytes()
        write_npz(path, {"png": npy((len(png),), body=png), "png_offsets": npy((2,), "<i8", offsets), **one})
    else:
        path.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(124, b" ") + b"\x00\x02IM" + bytes(512))


@pytest.mark.parametrize("case", FORMATS)
def test_malformed_dataset_files_are_format_errors(tmp_path, case):
    name, message = FORMATS[case]
    _write_format_case(case, tmp_path / name)
    dataset, split = ("svhn", "test") if name.endswith(".mat") else ("cifar10", name.split("_")[1][:-4])
    refused(tmp_path, message, dataset, split=split)


def _cifar_folder(folder: Path, batch: bytes) -> Path:
    batches = folder / "cifar-100-python"
    batches.mkdir()
    (batches / "test").write_bytes(batch)
    (batches / "meta").write_bytes(pickle.dumps({"fine_label_names": ["a"]}))
    return batches


CIFAR_PICKLES = {
    "a length past the end": (b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"abc.",
                              "expected 1099511627776 bytes in a bytes8"),
    "not a dict": (pickle.dumps([1, 2, 3]), "a CIFAR batch is a pickled dict, this one holds a list"),
    "code": (b"cos\nsystem\n(S'echo owned'\ntR.", "refusing to load os.system from a dataset file"),
}


@pytest.mark.parametrize("case", CIFAR_PICKLES)
def test_cifar_batches_are_checked_before_they_are_unpickled(tmp_path, case):
    content, message = CIFAR_PICKLES[case]
    _cifar_folder(tmp_path, content)
    started = time.perf_counter()
    refused(tmp_path, message, "cifar100")
    assert time.perf_counter() - started < 0.5


def test_an_oversized_cifar_batch_is_refused_by_its_size(tmp_path):
    batches = _cifar_folder(tmp_path, b"")
    with open(batches / "test", "wb") as fh:
        fh.truncate(250_000_000)  # sparse: 250 MB declared, nothing written
    refused(tmp_path, "is 250 MB; a CIFAR batch file is at most 200 MB", "cifar100")


@pytest.mark.parametrize("options, message", [({"root": 5}, "root must be a folder path or None, got int"),
                                              ({"download": "yes"}, "download must be True or False, got 'yes'")])
def test_load_dataset_checks_its_arguments(options, message):
    raises(ParameterError, message, lambda: load_dataset("cifar10", **options))


def test_the_array_limit_is_far_above_the_largest_shipped_array():
    assert MAX_ARRAY_BYTES >= 8 * 113_000_000


# 6. Images -----------------------------------------------------------------------------------------------------------

def png_file(path: Path, width: int, height: int, color_type: int = 6, depth: int = 8, exif: bytes | None = None,
             frames: int = 1) -> Path:
    """A PNG of zero pixels, written row by row (its pixels are never held in memory)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    deflate = zlib.compressobj(1)
    row = bytes(1 + (width * channels * depth + 7) // 8)
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    parts = [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))]
    if color_type == 3:
        parts.append(chunk(b"PLTE", bytes(range(256)) * 3))
    if exif is not None:
        parts.append(chunk(b"eXIf", exif))
    if frames > 1:
        parts.append(chunk(b"acTL", struct.pack(">II", frames, 0)))
    parts.append(chunk(b"IDAT", idat))
    parts.append(chunk(b"IEND", b""))
    path.write_bytes(b"".join(parts))
    return path


def rotated_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()[6:]  # without the "Exif\0\0" prefix of a JPEG segment


def encode(img: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **options)
    return out.getvalue()


IMAGES = {
    "8000×8000 RGBA": ((8000, 8000, 6, 8), "image is 8000×8000 pixels in mode RGBA: decoding it would take 512 MB "
                                          "(8 bytes a pixel), the limit is 384 MB (48 megapixels at 8 bytes a pixel)"),
    "8000×8000 RGBA 16-bit": ((8000, 8000, 6, 16), "decoding it would take 512 MB"),
    "7500×7500 grey and alpha": ((7500, 7500, 4, 8), "7500×7500 pixels in mode LA"),
    "7500×7500 grey and alpha 16-bit": ((7500, 7500, 4, 16), "in mode RGBA"),
    "above 64 megapixels": ((8100, 8100, 0, 1), "image is 8100×8100 pixels; the limit is 64 megapixels"),
    "bomb past Pillow's own limit": ((20_000, 20_000, 0, 1), "image is too large to decode safely"),
    "1×1": ((1, 1, 2, 8), "image is 1×1 pixels, at least 8 needed on each side"),
    "0×0": ((0, 0, 2, 8), "not an image file that Pillow can read"),
    "a strip": ((64_000, 8, 2, 8), "an aspect ratio of 8000:1"),
}


@pytest.mark.parametrize("case", IMAGES)
def test_images_are_refused_from_their_declared_size(case):
    (width, height, color_type, depth), message = IMAGES[case]
    started = time.perf_counter()
    raises(ImageInputError, message, lambda: load_image(declared_png(width, height, color_type, depth), 224))
    assert time.perf_counter() - started < 0.2


def test_the_budget_takes_64_megapixels_of_rgb_grey_palette_and_16_bit_grey():
    for mode in ("RGB", "L", "P", "1", "I;16"):
        assert image_module.decode_bytes(mode, 8000, 8000) <= MAX_DECODE_BYTES, mode
    assert image_module.decode_bytes("RGB", 8000, 8000, transposed=True) > MAX_DECODE_BYTES


UPLOADS = {
    "truncated PNG": (lambda: encode(Image.new("RGB", (64, 64), (1, 2, 3)))[:60], ImageInputError,
                      "broken or truncated"),
    "truncated JPEG": (lambda: encode(Image.new("RGB", (64, 64)), "JPEG")[:200], ImageInputError,
                       "broken or truncated"),
    "not an image": (lambda: b"<html>404</html>", ImageInputError, "not an image file that Pillow can read"),
    "empty": (lambda: b"", ImageInputError, "not an image file"),
    "floating point TIFF": (lambda: encode(Image.new("F", (16, 16)), "TIFF"), ImageInputError,
                            "floating-point images are not supported"),
    "32-bit samples": (lambda: encode(Image.fromarray(np.full((16, 16), -5, np.int32)), "TIFF"), ImageInputError,
                       "holds 32-bit integer samples"),
    "PostScript": (lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n", ImageInputError,
                   "EPS files are not read"),
}


@pytest.mark.parametrize("case", UPLOADS)
def test_broken_uploads_are_image_input_errors(case):
    make, error, message = UPLOADS[case]
    raises(error, message, lambda: load_image(make(), 32))


@pytest.mark.parametrize("size, message", [
    (0, "got 0"), (-32, "got -32"), (32.0, "got 32.0"), ("224", "got '224'"), (10**6, "got 1000000"),
])
def test_the_model_side_is_checked(size, message):
    raises(ParameterError, f"size must be an integer from 1 to 4096 (the model's input side), {message}",
           lambda: load_image(encode(Image.new("RGB", (16, 16))), size))
    raises(ParameterError, message, lambda: fit_to_model(np.zeros((16, 16, 3), np.uint8), size))


def test_an_animated_image_gives_its_first_frame():
    first, second = Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 255))
    for fmt in ("GIF", "PNG"):
        pixels = read_image(encode(first, fmt, save_all=True, append_images=[second]))
        assert pixels[..., 0].min() > 200 and pixels[..., 2].max() < 50, fmt


@pytest.mark.parametrize("orientation, shape", [(1, (20, 40)), (3, (20, 40)), (6, (40, 20)), (8, (40, 20))])
def test_exif_orientation_turns_the_picture_upright(orientation, shape):
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 20, 10))  # a white top-left quadrant
    exif = Image.Exif()
    exif[0x0112] = orientation
    pixels = read_image(encode(img, "PNG", exif=exif))
    expected = np.array(Image.fromarray(np.array(img)).transpose(image_module._ORIENTATIONS[orientation])) \
        if orientation != 1 else np.array(img)
    assert pixels.shape[:2] == shape and np.array_equal(pixels, expected)


PEAK_SCRIPT = """
import resource, sys, time
from shiftlab.images import load_image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
out = load_image(sys.argv[1], 224)
seconds = time.perf_counter() - started
print(out.shape, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, seconds)
"""


def test_the_worst_png_accepted_stays_under_the_documented_peak(tmp_path):
    """The most memory an accepted PNG asks for: 48 megapixels of RGBA (decoded in 4 bytes a pixel, beside its RGB
    copy) rotated by its EXIF orientation. Measured in a fresh process: its peak resident memory above what the
    imports took (388 MB when written; 8000×8000 RGBA took 1.28 GB before the budget)."""
    side = int((MAX_DECODE_BYTES // 8) ** 0.5)
    path = png_file(tmp_path / "worst.png", side, side, color_type=6, exif=rotated_exif())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 0, done.stderr
    shape, peak_mb, seconds = done.stdout.rsplit(" ", 2)
    assert shape.strip() == "(224, 224, 3)"
    assert float(peak_mb) < DOCUMENTED_PEAK_MB, f"peak {float(peak_mb):.0f} MB"
    assert float(seconds) < 20
