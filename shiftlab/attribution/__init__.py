"""Attribution maps: why a classifier predicts what it does, in pixel and wavelet space.

``attribute(loaded_model, images, method, target=None, **options)`` returns an
``Attribution`` with float32 N×H×W maps at input resolution and
method-specific extras. Methods: saliency, integrated_gradients, gradcam
(captum); attention_rollout, gradient_rollout (ViT only); wcam and wam
(wavelet domain). ``estimate_cost`` says what a WCAM will cost before it runs.
Each method's module registers it (``@register_method``); the imports below
load them in the order the pages list them.
"""

from shiftlab.attribution.api import applicable_methods, attribute, checked_options, get_method, list_methods
from shiftlab.attribution.base import (
    METHODS,
    Attribution,
    AttributionError,
    AttributionMethod,
    UnsupportedMethodError,
    register_method,
)

# isort: off
from shiftlab.attribution.saliency import Saliency
from shiftlab.attribution.integrated_gradients import IntegratedGradients
from shiftlab.attribution.gradcam import GradCAM
from shiftlab.attribution.rollout import AttentionRollout, GradientRollout
from shiftlab.attribution.wcam import WCAM, WCAMCost, estimate_cost
from shiftlab.attribution.wam import WAM
# isort: on

__all__ = [
    "METHODS",
    "WAM",
    "WCAM",
    "AttentionRollout",
    "Attribution",
    "AttributionError",
    "AttributionMethod",
    "GradCAM",
    "GradientRollout",
    "IntegratedGradients",
    "Saliency",
    "UnsupportedMethodError",
    "WCAMCost",
    "attribute",
    "checked_options",
    "estimate_cost",
    "get_method",
    "applicable_methods",
    "list_methods",
    "register_method",
]
