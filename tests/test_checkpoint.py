"""Checkpoint loading: every layout public releases use, strictness, and refusal of pickle code."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

from shiftlab.checkpoint import extract_state_dict, load_strict, read_tensors
from shiftlab.errors import CheckpointError, CheckpointMismatchError, UnsafeCheckpointError
from shiftlab.models import build_model, load_model
from shiftlab.models.imagenet import build_resnet50


@pytest.fixture(scope="module")
def resnet50_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return build_resnet50().state_dict()


def _robustness_layout(state: dict) -> dict:
    """The robustness library's AttackerModel: module.model.*, module.attacker.model.*, module.normalizer.*."""
    wrapped = {f"module.model.{k}": v for k, v in state.items()}
    wrapped.update({f"module.attacker.model.{k}": v for k, v in list(state.items())[:3]})
    wrapped["module.normalizer.new_mean"] = torch.zeros(3, 1, 1)
    wrapped["module.normalizer.new_std"] = torch.ones(3, 1, 1)
    return {"model": wrapped, "epoch": 90}


LAYOUTS = {
    "bare.pth": lambda s: s,
    "state_dict.pth.tar": lambda s: {"state_dict": s, "epoch": 89, "arch": "resnet50"},
    "model.pt": lambda s: {"model": s},
    "dataparallel.pth": lambda s: {"state_dict": {f"module.{k}": v for k, v in s.items()}},
    "robustness.pt": _robustness_layout,
}


@pytest.mark.parametrize("filename", list(LAYOUTS))
def test_resnet50_loads_from_every_release_layout(filename, resnet50_state, tmp_path):
    path = tmp_path / filename
    torch.save(LAYOUTS[filename](resnet50_state), path)
    loaded = load_model("resnet50", "adv", checkpoint=path, device="cpu")  # the WCAM paper's name for pgd_adv
    got = loaded.model.net.state_dict()
    for key in ("conv1.weight", "layer4.2.bn3.running_var", "fc.bias"):
        torch.testing.assert_close(got[key], resnet50_state[key], rtol=0, atol=0)
    assert loaded.variant == "pgd_adv" and "MadryLab" in loaded.card.source


def test_resnet50_from_safetensors(resnet50_state, tmp_path):
    path = tmp_path / "fast_adv.safetensors"
    save_file({k: v.contiguous() for k, v in resnet50_state.items()}, str(path))
    loaded = load_model("resnet50", "fast_adv", checkpoint=path)
    torch.testing.assert_close(loaded.model.net.fc.weight, resnet50_state["fc.weight"])


def test_variant_found_in_the_zoo_folder(resnet50_state, tmp_path, monkeypatch):
    folder = tmp_path / "imagenet" / "resnet50"
    folder.mkdir(parents=True)
    torch.save({"state_dict": resnet50_state}, folder / "augmix.pth.tar")
    monkeypatch.setenv("SHIFTLAB_CHECKPOINTS", str(tmp_path))
    from shiftlab.models import list_variants

    assert list_variants("resnet50") == ["augmix"]
    assert load_model("resnet50", "augmix").variant == "augmix"


def test_missing_keys_are_named(resnet50_state, tmp_path):
    partial = dict(resnet50_state)
    del partial["fc.weight"], partial["layer1.0.conv1.weight"]
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(CheckpointMismatchError) as err:
        load_model("resnet50", checkpoint=tmp_path / "partial.pth")
    assert err.value.missing == ["fc.weight", "layer1.0.conv1.weight"] and err.value.unexpected == []
    assert "fc.weight" in str(err.value)


def test_unexpected_keys_are_named(resnet50_state, tmp_path):
    extra = {**resnet50_state, "head.extra.weight": torch.zeros(2)}
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(CheckpointMismatchError, match="head.extra.weight") as err:
        load_model("resnet50", checkpoint=tmp_path / "extra.pth")
    assert err.value.unexpected == ["head.extra.weight"]


def test_shape_mismatch_is_refused(tmp_path):
    """A CIFAR-100 head in a CIFAR-10 ResNet-20: same keys, wrong shapes."""
    wrong = build_model("resnet20", num_classes=100).net.state_dict()
    save_file(wrong, str(tmp_path / "c100.safetensors"))
    with pytest.raises(CheckpointMismatchError, match="fc.weight: checkpoint \\(100, 64\\) vs model \\(10, 64\\)"):
        load_model("resnet20", checkpoint=tmp_path / "c100.safetensors")


def test_wrong_architecture_is_refused(tmp_path):
    vit = build_model("vit_tiny").net.state_dict()
    save_file({k: v.contiguous() for k, v in vit.items()}, str(tmp_path / "vit.safetensors"))
    with pytest.raises(CheckpointMismatchError):
        load_model("resnet20", checkpoint=tmp_path / "vit.safetensors")


def test_foreign_cifar_checkpoint_round_trip(tmp_path):
    model = build_model("resnet20")
    torch.save({"state_dict": model.net.state_dict()}, tmp_path / "mine.pth")
    loaded = load_model("resnet20", checkpoint=tmp_path / "mine.pth")
    torch.testing.assert_close(loaded.model.net.fc.weight, model.net.fc.weight)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/shiftlab_pwned_ckpt",))


def test_pickle_code_is_refused_and_never_runs(tmp_path):
    marker = "/tmp/shiftlab_pwned_ckpt"
    if os.path.exists(marker):
        os.remove(marker)
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _RunsCode()}, tmp_path / "evil.pth")
    with pytest.raises(UnsafeCheckpointError, match="code execution"):
        load_model("resnet50", checkpoint=tmp_path / "evil.pth")
    assert not os.path.exists(marker)


@pytest.mark.parametrize("content, suffix", [(b"garbage", ".safetensors"), (b"garbage", ".pth"), (b"", ".pt")])
def test_corrupt_files_are_checkpoint_errors(content, suffix, tmp_path):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(content)
    with pytest.raises(CheckpointError):
        read_tensors(path)


def test_missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model("resnet20", checkpoint=tmp_path / "nope.safetensors")


def test_non_state_dict_payload_is_refused(tmp_path):
    torch.save({"epoch": 3, "notes": "no weights here"}, tmp_path / "meta.pth")
    with pytest.raises(CheckpointError, match="no state dict"):
        read_tensors(tmp_path / "meta.pth")


def test_card_for_another_arch_is_refused(tmp_path):
    model = build_model("resnet20")
    save_file(model.net.state_dict(), str(tmp_path / "x.safetensors"))
    (tmp_path / "x.json").write_text('{"arch": "vit_tiny", "variant": "baseline"}')
    with pytest.raises(CheckpointError, match="describes a 'vit_tiny'"):
        load_model("resnet20", checkpoint=tmp_path / "x.safetensors")


def test_extract_state_dict_strips_prefixes_and_drops_attacker():
    state = {"module.model.a": torch.zeros(1), "module.attacker.model.a": torch.ones(1),
             "module.normalizer.new_mean": torch.ones(3)}
    assert list(extract_state_dict({"model": state})) == ["a"]


def test_load_strict_never_partially_loads():
    model = build_model("resnet20").net
    before = model.conv1.weight.clone()
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    del state["fc.bias"]
    with pytest.raises(CheckpointMismatchError):
        load_strict(model, state)
    torch.testing.assert_close(model.conv1.weight, before)
