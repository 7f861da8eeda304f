"""Attention-based maps for Vision Transformers: attention rollout and gradient-weighted rollout.

* ``attention_rollout`` (Abnar & Zuidema 2020, "Quantifying attention flow in
  transformers"): per layer, fuse the heads, add the residual identity and
  renormalise every row, then multiply the layers' matrices. Class-agnostic.
* ``gradient_rollout`` (Chefer, Gur & Wolf, ICCV 2021, "Generic
  attention-model explainability"): starting from R = I, every layer adds
  Ā·R with Ā = mean over heads of clamp(∂y_t/∂A ⊙ A, min=0). Class-specific.

The map of both is the class token's row over the patch tokens, on the patch
grid, upsampled bilinearly to the image. Written here (no library implements
them for Hugging Face's ViT); the formulas follow the papers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from shiftlab.attribution.base import AttributionMethod, check_choice, check_real, register_method, upsample

HEAD_FUSIONS = ("mean", "max", "min")


def fuse_heads(attention: torch.Tensor, head_fusion: str) -> torch.Tensor:
    """N×heads×T×T -> N×T×T by the mean, max or min over heads."""
    check_choice("head_fusion", head_fusion, HEAD_FUSIONS)
    if head_fusion == "mean":
        return attention.mean(1)
    return attention.amax(1) if head_fusion == "max" else attention.amin(1)


def discard_lowest(attention: torch.Tensor, discard_ratio: float) -> torch.Tensor:
    """Zero the ``discard_ratio`` fraction of smallest entries of each N×T×T matrix, item by item.

    The class token's attention to itself (entry 0, 0) is never discarded.
    """
    count = int(attention[0].numel() * discard_ratio)
    if count == 0:
        return attention
    flat = attention.flatten(1).clone()
    ranked = flat.clone()
    ranked[:, 0] = torch.inf  # keep the class token's self-attention
    lowest = ranked.topk(count, dim=1, largest=False).indices
    return flat.scatter_(1, lowest, 0.0).view_as(attention)


def check_rollout(head_fusion: str, discard_ratio: float) -> None:
    """Raise ``AttributionError`` unless ``head_fusion`` is one of ``HEAD_FUSIONS`` and ``discard_ratio`` lies in
    [0, 1)."""
    check_choice("head_fusion", head_fusion, HEAD_FUSIONS)
    check_real("discard_ratio", discard_ratio, 0.0, 1.0, high_open=True)


def attention_rollout(
    attentions: Sequence[torch.Tensor], head_fusion: str = "mean", discard_ratio: float = 0.0
) -> torch.Tensor:
    """N×T×T joint attention from the per-layer N×heads×T×T attention probabilities (first layer first).

    Every factor, hence the product, is row-stochastic.
    """
    check_rollout(head_fusion, discard_ratio)
    n, _, tokens, _ = attentions[0].shape
    identity = torch.eye(tokens, device=attentions[0].device, dtype=attentions[0].dtype)
    joint = identity.expand(n, tokens, tokens)
    for attention in attentions:
        fused = discard_lowest(fuse_heads(attention, head_fusion), discard_ratio) + identity
        joint = (fused / fused.sum(-1, keepdim=True)) @ joint
    return joint


def gradient_rollout(attentions: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor]) -> torch.Tensor:
    """N×T×T relevance R, with R = I then R += mean_heads(clamp(grad ⊙ A, min=0)) @ R layer by layer."""
    n, _, tokens, _ = attentions[0].shape
    relevance = torch.eye(tokens, device=attentions[0].device, dtype=attentions[0].dtype).expand(n, tokens, tokens)
    for attention, gradient in zip(attentions, gradients):
        weighted = (gradient * attention).clamp(min=0).mean(1)
        relevance = relevance + weighted @ relevance
    return relevance


class _TokenMapMethod(AttributionMethod):
    """Shared by the two rollouts: ViT only, and the class token's row becomes the map."""

    families = ("vit",)

    def _attentions(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        return self.hooks.attentions(self.model.net, self.model.normalize(x))

    def _class_token_map(self, matrix: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        grid = self.hooks.token_grid
        return upsample(matrix[:, 0, 1:].reshape(-1, grid, grid), size)


@register_method
class AttentionRollout(_TokenMapMethod):
    """Abnar & Zuidema's attention rollout (ignores the target: it is class-agnostic).

    Options: ``head_fusion`` (``mean`` as in the paper, ``max`` or ``min``),
    ``discard_ratio`` (fraction of the smallest fused attention entries zeroed
    in every layer and every image before the identity is added, default 0).
    Extras: ``rollout``, the N×T×T joint attention (row-stochastic; token 0 is
    the class token).
    """

    name = "attention_rollout"
    title = "Attention rollout"
    description = (
        "How much attention flows from each image patch to the class token, multiplied through all layers (Abnar & "
        "Zuidema 2020). Class-agnostic: the same map for every class."
    )

    def check_options(self, options: dict[str, Any]) -> None:
        check_rollout(options["head_fusion"], options["discard_ratio"])

    def _compute(
        self, x: torch.Tensor, target: torch.Tensor, *, head_fusion: str = "mean", discard_ratio: float = 0.0
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        with torch.no_grad():
            _, attentions = self._attentions(x)
            joint = attention_rollout(attentions, head_fusion, discard_ratio)
        return self._class_token_map(joint, tuple(x.shape[-2:])), {"rollout": joint.cpu().numpy()}


@register_method
class GradientRollout(_TokenMapMethod):
    """Chefer et al.'s gradient-weighted attention rollout for the target logit.

    No options. Extras: ``relevance``, the N×T×T relevance matrix R.
    """

    name = "gradient_rollout"
    title = "Gradient-weighted attention rollout"
    description = (
        "Attention rollout weighted by the gradient of the class score (Chefer et al. 2021): which patches the "
        "class token attends to for this class."
    )

    def _compute(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        with torch.enable_grad():
            logits, attentions = self._attentions(x)
            score = logits.gather(1, target[:, None]).sum()  # images are independent: one backward for all
            gradients = torch.autograd.grad(score, attentions)
        relevance = gradient_rollout([a.detach() for a in attentions], gradients)
        return self._class_token_map(relevance, tuple(x.shape[-2:])), {"relevance": relevance.cpu().numpy()}
