"""Networks from the libraries users train with: torchvision, timm and Hugging Face, built offline.

A models file names each of its models' network by a source string:

* ``torchvision:<name>`` — ``torchvision.models.get_model(name, weights=None, num_classes=…)``;
* ``timm:<name>`` — ``timm.create_model(name, pretrained=False, num_classes=…)`` (timm is optional:
  ``pip install shiftlab[timm]``);
* ``hf:<folder>`` — a folder written by ``save_pretrained``: its ``config.json`` builds
  ``AutoModelForImageClassification`` (eager attention, so attention rollout can read it), and its classes
  come from the config's ``id2label``.

Nothing is downloaded: every constructor is called with random initialisation, and the weights come from
the variants' files, loaded strictly by ``shiftlab.checkpoint``. Each source also knows where attention
rollout reads a Vision Transformer's attention (``attention_hooks``): per-architecture knowledge stays
here, not in the methods.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from shiftlab.checkpoint import load_strict
from shiftlab.errors import CheckpointError, CheckpointMismatchError, ModelsFileError
from shiftlab.models.classifier import hookless_copy

SOURCE_KINDS = ("torchvision", "timm", "hf")
#: what an HF folder's config must name: a model with an image-classification head
HF_CONFIG = "config.json"


@dataclass(frozen=True)
class Source:
    """Where a user's network comes from: ``kind`` (torchvision, timm or hf) and the library's model name, or,
    for hf, the folder written by ``save_pretrained``."""

    kind: str
    name: str
    folder: Path | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def parse_source(text: object, base: Path, where: str) -> Source:
    """The ``Source`` of a models file's ``source = "kind:name"`` (an hf folder is relative to ``base``)."""
    kind, sep, name = text.partition(":") if isinstance(text, str) else ("", "", "")
    if not sep or kind not in SOURCE_KINDS or not name:
        raise ModelsFileError(f"{where}: source must be \"torchvision:<name>\", \"timm:<name>\" or \"hf:<folder>\", "
                              f"got {text!r:.80}")
    if kind != "hf":
        return Source(kind, name)
    folder = (base / name).resolve()
    if not (folder / HF_CONFIG).is_file():
        raise ModelsFileError(f"{where}: {folder} holds no {HF_CONFIG}: an hf source is a folder written by "
                              "save_pretrained")
    return Source(kind, name, folder)


def build_network(source: Source, num_classes: int, where: str) -> nn.Module:
    """A randomly initialised network of ``source`` with ``num_classes`` outputs, taking normalised N×3×H×W
    images and returning N×num_classes logits."""
    builders: dict[str, Callable[[Source, int, str], nn.Module]] = {
        "torchvision": _torchvision, "timm": _timm, "hf": _hugging_face}
    return builders[source.kind](source, num_classes, where)


def _unknown(where: str, source: Source, known: list[str]) -> ModelsFileError:
    close = difflib.get_close_matches(source.name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ModelsFileError(f"{where}: {source.kind} has no model {source.name!r}{hint}")


def _torchvision(source: Source, num_classes: int, where: str) -> nn.Module:
    import torchvision

    known = torchvision.models.list_models()
    if source.name not in known:
        raise _unknown(where, source, known)
    return torchvision.models.get_model(source.name, weights=None, num_classes=num_classes)


def _timm(source: Source, num_classes: int, where: str) -> nn.Module:
    try:
        import timm
    except ImportError:
        raise ModelsFileError(f"{where}: a timm source needs the timm package: pip install shiftlab[timm]") from None
    if not timm.is_model(source.name):
        raise _unknown(where, source, timm.list_models())
    return timm.create_model(source.name, pretrained=False, num_classes=num_classes)


class HuggingFaceNet(nn.Module):
    """An ``AutoModelForImageClassification`` whose ``forward`` returns the logits tensor; its weights are those
    of ``hf`` (the files ``save_pretrained`` writes load into ``hf``)."""

    def __init__(self, hf: nn.Module):
        super().__init__()
        self.hf = hf

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.hf(pixel_values=pixel_values).logits

    def forward_with_attentions(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Logits and each layer's attention probabilities (N×heads×T×T, token 0 the class token)."""
        out = self.hf(pixel_values=pixel_values, output_attentions=True)
        return out.logits, out.attentions


def _hugging_face(source: Source, num_classes: int, where: str) -> nn.Module:
    from transformers import AutoConfig, AutoModelForImageClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    try:
        config = AutoConfig.from_pretrained(source.folder, local_files_only=True)
        hf = AutoModelForImageClassification.from_config(config, attn_implementation="eager")
    except (ValueError, KeyError, OSError) as error:
        raise ModelsFileError(f"{where}: {source.folder / HF_CONFIG} does not describe an image classifier "
                              f"transformers can build: {error}") from None
    if hf.config.num_labels != num_classes:
        raise ModelsFileError(f"{where}: {source.folder / HF_CONFIG} has {hf.config.num_labels} labels, the models "
                              f"file {num_classes} classes")
    return HuggingFaceNet(hf)


def load_hugging_face_weights(net: HuggingFaceNet, weights: Path) -> None:
    """Load the ``save_pretrained`` folder holding ``weights`` into ``net``: transformers reads it (safetensors
    only, so no pickle runs) and converts its saved key names, then every tensor is copied strictly; a key
    transformers found missing, unexpected or mis-shaped is a ``CheckpointMismatchError`` naming the folder."""
    from transformers import AutoModelForImageClassification

    try:
        saved, info = AutoModelForImageClassification.from_pretrained(
            weights.parent, local_files_only=True, use_safetensors=True, output_loading_info=True,
            attn_implementation="eager")
    except (OSError, ValueError) as error:
        raise CheckpointError(
            f"{weights.parent}: not a save_pretrained folder transformers can read: {error}"
        ) from None
    problems = {kind: info.get(kind) for kind in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if any(problems.values()):
        raise CheckpointMismatchError(f"{weights.parent} does not match its config: "
                                      + ", ".join(f"{k} {sorted(v)[:5]}" for k, v in problems.items() if v))
    load_strict(net.hf, saved.state_dict(), source=str(weights))


def hf_classes(source: Source, where: str) -> list[str]:
    """The class names of an hf folder's config (``id2label``, by index)."""
    try:
        labels = json.loads((source.folder / HF_CONFIG).read_text())["id2label"]
        return [str(labels[str(i)]) for i in range(len(labels))]
    except (OSError, ValueError, KeyError, TypeError):
        raise ModelsFileError(f"{where}: {source.folder / HF_CONFIG} has no id2label with indices 0..n-1: give the "
                              "classes in the models file") from None


@dataclass(frozen=True)
class AttentionHooks:
    """How attention rollout reads a ViT: ``token_grid`` patches per side, and ``attentions(net, x)`` giving the
    logits and every layer's N×heads×T×T attention (token 0 the class token, then the patches row by row)."""

    token_grid: int
    attentions: Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, tuple[torch.Tensor, ...]]]


def attention_hooks(net: nn.Module, input_size: int) -> AttentionHooks | None:
    """Where rollout reads ``net``'s attention, or None when it cannot (not a ViT with one class token)."""
    if isinstance(net, HuggingFaceNet):
        patch = getattr(net.hf.config, "patch_size", None)
        if patch and hasattr(net.hf, "vit"):
            return AttentionHooks(input_size // patch, HuggingFaceNet.forward_with_attentions)
        return None
    blocks = getattr(net, "blocks", None)
    has_attention = blocks is not None and all(hasattr(b, "attn") and hasattr(b.attn, "attn_drop") for b in blocks)
    if has_attention and getattr(net, "num_prefix_tokens", None) == 1 and getattr(net, "cls_token", None) is not None:
        return AttentionHooks(net.patch_embed.grid_size[0], timm_vit_attentions)
    return None


def timm_vit_attentions(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """A timm ``VisionTransformer``'s logits and attention probabilities: on a copy of ``net`` (the sessions of
    one server share a model), the fused kernel switched off so that each block's softmax passes through its
    ``attn_drop``, where a hook reads it."""
    net = hookless_copy(net)
    captured: list[torch.Tensor] = []
    for block in net.blocks:
        block.attn.fused_attn = False
        block.attn.attn_drop.register_forward_hook(lambda m, args, out: captured.append(out))
    return net(x), tuple(captured)
