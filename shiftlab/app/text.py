"""All the app's prose in one place: what each method, metric, case kind and score means.

Pages and view modules read their copy from here, so wording is reviewed
and changed in one file, and tests check that every method, drift measure,
case kind and OOD score has its text.
"""

from __future__ import annotations

from shiftlab.app.explain import DRIFT_TOP_K

#: what each attribution method shows, in a sentence or two, for the page caption
METHOD_NOTES: dict[str, str] = {
    "saliency": "How strongly each pixel's smallest change moves the class score: the absolute gradient of the "
    "logit with respect to the pixels (Simonyan et al. 2014). Fast and sharp, but noisy.",
    "integrated_gradients": "Gradients accumulated along a straight path from a black image to this one "
    "(Sundararajan et al. 2017); the map adds up to the score difference between the image and black.",
    "gradcam": "Where the last convolutional stage (for a ViT: the last block's patch tokens) looks: its feature "
    "maps weighted by their average gradient for the class, kept where positive and upsampled "
    "(Selvaraju et al. 2017). Coarse but stable.",
    "attention_rollout": "How much attention flows from each image patch to the class token, multiplied through "
    "all layers (Abnar & Zuidema 2020). Class-agnostic: the same map for every class.",
    "gradient_rollout": "Attention rollout weighted by the gradient of the class score (Chefer et al. 2021): "
    "which patches the class token attends to for this class.",
    "wcam": "Which wavelet coefficients — a position at a scale — the class probability depends on: Sobol "
    "sensitivity to random masks in the wavelet domain (Kasmi et al. 2023), shown here back in pixel space.",
    "wam": "The gradient of the class score with respect to the wavelet coefficients, averaged over noisy copies "
    "of the image (Kasmi et al. 2025), shown here back in pixel space.",
}

#: drift measure -> (name shown, what 1 means)
DRIFT_MEASURES: dict[str, tuple[str, str]] = {
    "top_k_iou": (f"top-{DRIFT_TOP_K:g} % IoU", "overlap of the most important pixels; 1 = the same region"),
    "pearson": ("Pearson", "linear correlation of the two maps; 1 = the same up to scale"),
    "spearman": ("Spearman", "rank correlation; 1 = the same ordering of pixels"),
    "ssim": ("SSIM", "structural similarity of the rescaled maps; 1 = identical"),
}


#: case kind -> (title, how its cases are chosen and ordered)
CASE_KINDS: dict[str, tuple[str, str]] = {
    "correct_to_wrong": (
        "Correct → wrong",
        "Right before the shift, wrong after it; the most confident new mistakes first.",
    ),
    "wrong_to_correct": (
        "Wrong → correct",
        "Wrong before the shift, right after it; the most confident first.",
    ),
    "confident_errors": (
        "Most confident errors",
        "Wrong after the shift, ordered by the confidence of the wrong prediction.",
    ),
    "confidence_drop": (
        "Largest confidence drop",
        "Images whose probability of the reference class fell under the shift, largest fall first.",
    ),
}


#: how each OOD score is computed from the logits; all are oriented so that higher = more OOD
SCORE_LABELS = {
    "msp": "MSP: −max softmax probability",
    "max_logit": "max-logit: −max logit",
    "energy": "energy: −logsumexp(logits)",
}
