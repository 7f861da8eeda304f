"""All the app's prose in one place: what each method, metric, case kind and score means.

Pages and view modules read their copy from here, so wording is reviewed
and changed in one file, and tests check that every method, drift measure,
case kind and OOD score has its text. A page's heading, introduction and
tour sentences are its entry in ``shiftlab.app.pages``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from shiftlab import metrics
from shiftlab.app.explain import DRIFT_TOP_K
from shiftlab.app.view import Replacement, shorten
from shiftlab.attribution.wcam import STOP_MARGIN, VERDICT_MARGIN, thresholds

#: characters Markdown gives a meaning to (GFM, Streamlit's ``:red[…]`` directives and ``:emoji:`` codes, ``$``
#: LaTeX, bare-URL and e-mail autolinks), shown as themselves when backslash-escaped; HTML's < > & become entities
_MARKDOWN = frozenset("\\`*_{}[]()#+-!|~$:^@")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
#: what else would start a link or a list: ``www.`` (an autolink) anywhere, ``1.`` at the start
_AUTOLINK_OR_LIST = re.compile(r"(?i)(www)\.|^([0-9]+)\.")
#: the longest outside text shown (a file name, a path, an error message); longer is cut with "…"
PLAIN_LIMIT = 500


def plain(value: object, limit: int = PLAIN_LIMIT) -> str:
    """``value`` (text from outside the app) as Markdown that shows exactly that text, never a link, image or markup.

    Streamlit renders Markdown in ``st.markdown``, alerts, captions, image
    captions and widget labels; every text that came from a URL, a file name, a
    folder name, a dataset or an error message goes through here before it is
    shown. Runs of white space (line breaks included) become one space,
    other control and format characters (a right-to-left override…) become
    U+FFFD, and the text is cut to ``limit`` characters.
    """
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    text = "".join("\ufffd" if unicodedata.category(c)[0] == "C" else c for c in text)
    text = "".join(_ENTITIES.get(c) or ("\\" + c if c in _MARKDOWN else c) for c in text)
    return _AUTOLINK_OR_LIST.sub(lambda m: f"{m.group(1) or m.group(2)}\\.", text)


def url_note(notes: Sequence[Replacement]) -> tuple[str, str]:
    """The one note of a link whose values could not all be used, as (note, choices) Markdown, every value escaped.

    The note says which value was replaced by what and why; the choices (lists
    of up to dozens of names) go behind an expander rather than inline.
    """
    lines = [URL_REPLACED.format(key=note.key, given=plain(shorten(note.given)), shown=plain(note.shown),
                                 reason=plain(note.reason)) for note in notes]
    choices = [f"- **{note.key}**: {plain(note.choices)}" for note in notes]
    return "\n".join([URL_NOTE, *lines]), "\n".join(choices)


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

#: drift measure -> (name shown, what 1 means), as each measure declares them (``shiftlab.metrics.DRIFT_MEASURES``)
DRIFT_MEASURES: dict[str, tuple[str, str]] = {
    name: (measure.label.format(k=DRIFT_TOP_K), measure.meaning.format(k=DRIFT_TOP_K))
    for name, measure in metrics.DRIFT_MEASURES.items()
}


#: what a shift did to one prediction (``cases.outcome``), worded alike on every page: with a label, by correctness
#: after the shift; without one (an ImageNet model on CIFAR images), only whether the top-1 class changed
OUTCOME_WORDS: dict[str, str] = {
    "stays_correct": "stays correct",
    "stays_wrong": "stays wrong",
    "now_correct": "now correct",
    "now_wrong": "now wrong",
    "changed_still_wrong": "changed, still wrong",
    "kept": "kept",
    "changed": "changed",
}

#: case outcome -> (title, what it means)
OUTCOMES: dict[str, tuple[str, str]] = {
    "flips": ("Prediction flips", "The top-1 class on the shifted image differs from the one on the source."),
    "correct_to_wrong": (OUTCOME_WORDS["now_wrong"], "Right before the shift, wrong after it."),
    "wrong_to_correct": (OUTCOME_WORDS["now_correct"], "Wrong before the shift, right after it."),
    "stays_correct": (OUTCOME_WORDS["stays_correct"], "Right before and after the shift."),
    "confidently_wrong": ("Confidently wrong", "Wrong after the shift with a top-1 confidence of at least 80 %."),
}
#: the outcomes that need no label (an ImageNet model on CIFAR images)
UNLABELLED_OUTCOMES: dict[str, tuple[str, str]] = {
    "flips": OUTCOMES["flips"],
    "stays": ("Prediction stays", "The top-1 class is the same before and after the shift."),
}
#: case order -> what it sorts by
CASE_SORTS: dict[str, str] = {
    "confidence_drop": "confidence drop: how far the probability of the reference class fell, largest first",
    "attribution_drift": "attribution drift: 1 − top-10 % IoU of the chosen method's maps, largest first",
}


#: how each OOD score is computed from the logits, as each score declares it (``shiftlab.metrics.OOD_SCORES``); all
#: are oriented so that higher = more OOD
SCORE_LABELS: dict[str, str] = {name: score.label for name, score in metrics.OOD_SCORES.items()}

#: readable titles shown beside each method's registry name
METHOD_TITLES: dict[str, str] = {
    "saliency": "Saliency (gradient magnitude)",
    "integrated_gradients": "Integrated Gradients",
    "gradcam": "Grad-CAM",
    "attention_rollout": "Attention rollout",
    "gradient_rollout": "Gradient-weighted attention rollout",
    "wcam": "WCAM (wavelet Sobol sensitivity)",
    "wam": "WAM (wavelet gradients)",
}

TARGET_HELP = ("source's class: both maps explain the class predicted on the source image, so differences come "
               "from the shift. each image's class: each map explains its own image's prediction.")
#: the one note of a link whose values could not all be used: a line per value, the choices in an expander
URL_NOTE = "**This link asks for values that are not available here**; each was replaced:"
URL_REPLACED = "- URL parameter {key}={given} → {shown}: {reason}"
URL_CHOICES = "show the choices"
UPLOAD_LABEL = "Or upload your own image"
UPLOAD_HELP = ("PNG, JPEG, WebP, BMP, TIFF or GIF, at least 8 pixels a side; it is resized and centre-cropped "
               "to the model's input. An animated image uses its first frame.")
UPLOAD_NOT_IN_URL = "An upload stays in this browser tab: the URL keeps the last dataset image or photo."
ANIMATED = "This image is animated ({frames} frames): the first frame is used."
UNLABELLED = ("{model} predicts {n:,} classes that are not the dataset's, so the dataset's labels cannot score it: "
              "the page shows {metric}, the share of images whose prediction the shift left unchanged, and never "
              "colours a prediction as right or wrong.")
SCALE_HELP = ("One scale per row: both maps of a method use the same colours for the same values (the colour bar), "
              "so a weaker map looks weaker. Per-map scaling stretches each map to its own range instead.")
#: the outcome flag: its words on their colour's background, then the top-1 class before → after (or kept)
OUTCOME_FLAG = ":{colour}-background[**{words}**]"
OUTCOME_CHANGE = "{before} → **{after}**"
OUTCOME_SAME = "**{after}** before and after"
#: the big number: the probability of the label after the shift (or, without a label, of the source's top-1 class)
LABEL_AFTER = "P({label}) after"
LABEL_CHANGE_HELP = ("The probability the model gives the image's label on the shifted image; the change is in "
                     "percentage points against the source: up (green) is towards the right answer.")
ABSOLUTE_LABEL = "Show |attribution|"
ABSOLUTE_HELP = ("Integrated Gradients' maps are signed: evidence for the class (red) and against it (blue) on a "
                 "diverging scale centred at 0. Switch on to show their magnitude only, on the sequential scale.")
PRESENT_LABEL = "Presentation"
PRESENT_HELP = ("For a projector or a class: hides option lists, setup notes and code names, and shows the figures "
                "and the outcome larger. In the URL as present=1.")

CONFIDENCE_CHANGE_HELP = ("The probability the model gives, on the shifted image, to the class it predicted on the "
                          "source image; the change is in percentage points against the source.")
COMPARE_CAPTION = ("Maps explain: {target}. Brighter = more important; with one scale per row, the same colour "
                   "means the same attribution value in both maps of a row.")
SIGNED_CAPTION = ("Signed maps ({methods}): red is evidence for the class, blue against it, on a scale centred at 0 "
                  "(white).")
ONE_SCALE = "one scale for both maps"
OWN_SCALE = "{name}: its own scale"
DELETION_HELP = ("The image's pixels are replaced by a blurred copy in the map's order of importance (largest "
                 "|value| first, 20 steps), and the probability of the class the map explains is read at each step; "
                 "the area under it, from 0 to 1. Lower than the random order's: the map points at what the model "
                 "uses.")
INSERTION_HELP = ("The pixels are restored onto the blurred copy in the map's order of importance; the area under the "
                  "probability of the class the map explains, from 0 to 1. Higher than the random order's: the map "
                  "points at what the model uses.")
FAITHFULNESS_READ = ("**How to read it.** Solid: pixels taken in the map's order; dashed: the same pixels in a random "
                     "order (the mean of three). A lower deletion area than random (the probability falls sooner) and "
                     "a higher insertion area (it comes back sooner): the map points at what the model uses. Near the "
                     "random order's: the map says little about the model, however plausible it looks.")
FAITHFULNESS_COST = ("Deletion and insertion of these maps run the model on {passes:,} images: about {seconds:.0f} s "
                     "on this server now.")
FAITHFULNESS_RUN = "Measure deletion and insertion ({seconds:.0f} s)"
CURVES_TOGGLE = "Curves"
CURVES_HELP = "The deletion and insertion curves behind the areas, beside the random order's."
FAITHFULNESS_JOB = "Deletion and insertion"
FAITHFULNESS_FAILED = "Deletion and insertion were not measured: {problem}"
FAITHFULNESS_UNDEFINED = "This map holds a NaN or an infinite value, so it ranks no pixel: it is not measured."
TRIPTYCH_SEARCH = ("Tried **{n}** shifted versions of the image ({shift}, severities 1-5 and, for a random shift, "
                   "seeds 0-7): **{kept}** keep the source's prediction. Shown: the most severe one kept and the "
                   "least severe one flipped.")
TRIPTYCH_NONE = "No severity or seed of {shift} {what} this image's prediction, so that panel is missing."
TRIPTYCH_CAPTION = ("All three maps are {method} maps of the class predicted on the source, {target}: where the "
                    "evidence for it sits, and how the shift moved it.")
VARIANTS_SUMMARY = ("**{kept} of {n}** variants keep their prediction on this image under {shift} at severity "
                    "{severity}.")
VARIANTS_CORRECT = ("**{correct} of {n}** variants are right ({label}) on this image under {shift} at severity "
                    "{severity}.")
VARIANTS_CAPTION = ("Each map is the {method} map, on the shifted image, of the class that variant predicted on the "
                    "source image: where each variant's evidence for its own answer sits after the shift.")
SUBSET = ("{model} takes {size}-px input, slow on a CPU: the page uses the first {k} images of each class "
          "({n:,} images).")
TEMPERATURE_HELP = ("Divide the logits by one temperature T fitted to minimise the NLL of held-out clean images. "
                    "It changes confidence, never the predicted class, so accuracy stays the same.")
SPLIT_NOTE = "Held out for temperature scaling: {split}. The figures below are on the evaluated images."
TEMPERATURE_FITTED = ("Temperature **T = {t:.3f}** (fitted on the held-out clean images; T > 1 softens over-confident "
                      "probabilities). Figures with T applied; the caption under each shows them without.")
RELIABILITY_CAPTION = ("Bars: accuracy of the images in each confidence bin, labelled with how many images fall in it; "
                       "pale bars hold fewer than {min} images and say little. On the dashed diagonal confidence is "
                       "honest; bars below it mean over-confidence.")
CURVES_CAPTION = ("Every variant on the same {n:,} images, shift {shift}, seed {seed}; severity 0 is the unshifted "
                  "images. The dashed line marks the severity chosen in the sidebar.")
#: what each figure means, for the help tooltips
METRIC_HELP: dict[str, str] = {
    "accuracy": "Share of images whose top-1 class is the label.",
    "agreement": "Share of images whose top-1 class on the shifted image equals the one on the unshifted image.",
    "ece": "Expected calibration error: the gap between confidence and accuracy, averaged over 15 equal-width "
           "confidence bins weighted by their number of images. 0 = perfectly calibrated.",
    "mce": "Maximum calibration error: the largest gap between confidence and accuracy over the non-empty bins.",
    "nll": "Negative log-likelihood of the labels (nats per image): punishes confident mistakes hardest.",
    "auroc": "Area under the ROC curve of an OOD score: 1 = perfect separation, 0.5 = chance.",
    # one per drift column of the records, as each drift measure declares it
    **{measure.column: measure.column_help.format(k=DRIFT_TOP_K) for measure in metrics.DRIFT_MEASURES.values()},
}
SPECTRAL_GUIDE = (
    "**How to read it.** The square on the left of each pair is the image's wavelet transform: the small top-left "
    "block is a blurred miniature of the image, and each larger L-shaped band holds finer detail (horizontal edges "
    "below, vertical edges to the right, diagonal ones in the corner), bright where the prediction depends on it. "
    "The bars add that importance up per scale, coarse to fine: weight on the coarse levels means the model uses "
    "shape and layout, weight on the finest level means it uses texture and fine detail, which noise and blur "
    "destroy first."
)
OOD_DRIFT = ("Each method's map of an in-distribution image against the map of the OOD image that replaced it, "
             "over the first {n} images: a low overlap means the model looks elsewhere on OOD images. The sidebar's "
             "\"maps explain\" setting chooses the class each OOD map explains.")
OOD_SUMMARY_NOTE = ("ID = in-distribution (the images of `{dataset}`), OOD = {ood_set}; Grad-CAM IoU over the first "
                    "{n} images. Accuracy and ECE are measured on the in-distribution images only: an OOD image (a "
                    "CIFAR-100 picture, noise, a photo of something else) has no correct label among the model's "
                    "classes, so accuracy or calibration on it means nothing; what matters there is whether the scores "
                    "flag it (AUROC).")
NO_SUITE = "No model card holds a corruption suite yet: run `shiftlab evaluate --suite corruptions`."
TRADEOFF_CAPTION = ("Up is more robust, right is more accurate on clean images ({markers}). Augmentation variants "
                    "(AugMix, PixMix) move up the left chart; adversarial training moves up the right one and pays "
                    "for it in clean accuracy.")
TARGETS_CAPTION = ("Augmentation variants are judged against this architecture's baseline card; adversarial variants "
                   "against fixed floors. Every figure is read from the model cards.")
GAIN_CAPTION = ("Mean accuracy over severities 1-5 of each corruption, in percentage points above (green) or below "
                "(red) {model}/baseline.")
ZOO_CAPTION = ("Measured on the full CIFAR-10 test set (10,000 images) by `shiftlab evaluate` and read from each "
               "model's card. Hover a column title for what it means.")
SWEEP_HELP = ("A sweep folder (made with `shiftlab sweep`) holds the records of many models, shifts and severities: "
              "reading it is instant. The app's own sweep of the embedded sample is the default folder.")
WCAM_MOST_DESIGNS = "This WCAM ran {designs} designs per image, the most WCAM takes: it cannot be refined further."
FROM_SWEEP = ("Figures read from the sweep {path} ({data}, seed {seeds}); temperature scaling needs the logits, "
              "which a sweep does not keep.")
CURVES_FROM_STORE = "Curves read from the sweep shipped with the app (the same numbers as computing them here)."
OOD_FROM_STORE = ("On the embedded sample, the figures of the models, seed and methods the shipped sweep holds are "
                  "read from it (`python -m shiftlab.sweep.ship` makes it): the same numbers as computing them here.")
SWEEP_MISSES = "The sweep folder holds no records of {model} under {shift} at severity {severity}: pick another view."
ROBUSTNESS_FROM_SWEEP = ("Figures read from the sweep {path} ({data}, {shifts} shifts): clean accuracy and the "
                         "mean over the sweep's shifts and severities; PGD-20 and the targets come from model cards "
                         "only.")
#: the case kinds a sweep folder answers (``SweepResults.cases``)
SWEEP_CASE_KINDS: dict[str, str] = {"flips": OUTCOME_WORDS["now_wrong"], "fixes": OUTCOME_WORDS["now_correct"],
                                    "confidently_wrong": "Confidently wrong (≥ 90 %)", "all": "Every image"}
WCAM_COST = ("WCAM runs the model {least:,} times for this pair, up to {most:,} if it refines itself until stable "
             "(about {seconds:.0f} s, at most {max_seconds:.0f} s here; grid {grid}). {options}")
WCAM_RUN = "Compute the WCAM of this pair (about {seconds:.0f} s)"
WCAM_REFINE = "Refine: {designs} designs, reusing the {done} already run (about {seconds:.0f} s)"
#: a long computation's place in the server's line, its progress, and what a cancel says (``feedback.follow``)
JOB_IN_LINE = "{label}: {place} in line on this server{wait}."
JOB_WAIT = ", about {seconds:.0f} s before it starts, then about {estimate:.0f} s"
JOB_RUNNING = "{label}: {done:,} / {total:,} {unit}{left}"
JOB_STARTED = "{label}: started{left}"
JOB_LEFT = " · about {seconds:.0f} s left"
JOB_CANCEL = "Cancel"
JOB_CANCELLED = "{label} was cancelled: nothing was kept of it."
WCAM_STORED = ("Shown from the attribution store shipped with the app: the same run, made in advance with these "
               "options on this model, image and shift. \"Refine\" computes a new, larger run here.")
CONVERGENCE = ("Convergence: :{colour}[**{verdict}**] · map agreement {agreement:.2f} · profile distance "
               "{distance:.3f} · {designs} designs, {passes:,} model runs")
CONVERGENCE_HELP = ("From this run alone (a bootstrap over its Sobol design): the correlation a run with another seed "
                    "is expected to have with this map, and the expected total-variation distance between their "
                    "spectral profiles. Stable: agreement ≥ {:.3f} and distance ≤ {:.4f}. A run refines itself until "
                    "they reach {:.3f} and {:.4f}: a run that stops at its first passing estimate has stopped on a "
                    "lucky one, so the bar to stop is higher than the verdict's. Noisy: refine it."
                    ).format(*thresholds(VERDICT_MARGIN), *thresholds(STOP_MARGIN))
WCAM_CAPTION = ("Left: the WCAM in the wavelet domain ({levels} Haar levels, sub-bands outlined); right: the same "
                "importance projected back onto the pixels. Both explain the class predicted on the source image, "
                "{target}; each map is scaled to its own range.")
WAVELET_SCALE = "wavelet map: its own scale"
PIXEL_SCALE = "pixel map: its own scale"
ERROR_BARS = "Error bars: ± one standard deviation of each share, from the same convergence estimate."

TRUST_READ = (
    "**How to read it.** Pixels are removed from the image (deletion) or restored onto a blurred copy (insertion) in "
    "the order the map ranks them, and the probability of the source image's class is read at each step. A map that "
    "points at what the model uses takes the probability down sooner than a random order of the same pixels "
    "(a smaller deletion area) and brings it back sooner (a larger insertion area). The **gap to random** adds both "
    "advantages: 0 means no better than chance; the shifted images are explained for the source's class."
)
TRUST_COST = ("Measuring {count} images and their shifted copies with {methods}: {passes:,} model runs and {solves:,} "
              "imputations, about {seconds:.0f} s on this server now.")
TRUST_RUN = "Measure ({seconds:.0f} s)"
TRUST_STORED = ("Read from the shipped store, measured as this page would with its default settings (one image at a "
                "time, {baseline} baseline): the first {count} images round the classes of {dataset}, every ResNet-20 "
                "variant, {shifts} at severity {severity}, seed 0.")
TRUST_COMPUTED = ("Measured on this server: the shipped store holds only the first {count} images round the classes "
                  "of {dataset} with the {baseline} baseline, for every ResNet-20 variant under {shifts} at severity "
                  "{severity}, seed 0.")
TRUST_RANKING = ("**Which method still tracks the model under {shift}, severity {severity}?** Methods ranked by their "
                 "mean gap to random on the shifted images (higher is better); *change* is shifted minus source.")
TRUST_RANDOM = ("A random order of the same pixels, the reference of every method: deletion area {deletion_source:.3f} "
                "on the source images and {deletion_shifted:.3f} on the shifted ones, insertion area "
                "{insertion_source:.3f} and {insertion_shifted:.3f}.")
TRUST_ROAD = ("ROAD (Rong et al. 2022): the most (MoRF, solid) or least (LeRF, dashed) important pixels are removed "
              "and filled from their neighbours with a little noise. A faithful map makes MoRF fall fast and LeRF stay "
              "high.")
TRUST_SANITY = (
    "**Model-randomisation check** (Adebayo et al. 2018) on the first {count} images: the layers' weights are "
    "re-initialised one more at a time from the top down, and the map recomputed. A map that keeps its shape on "
    "meaningless weights explains the image, not the model. It passes when the Spearman correlation of the maps' "
    "absolute values falls below {threshold} once every layer is random (less than a quarter of the rank variance "
    "shared); SSIM compares their structure."
)
TRUST_SANITY_COST = "The cascade of {method}: {stages} stages, about {seconds:.0f} s on this server now."
TRUST_SANITY_RUN = "Run the check for {method} ({seconds:.0f} s)"
TRUST_SANITY_STORED = "The cascade is read from the shipped store (the same maps, stored to float16)."
TRUST_VERDICT = ("{method} **{verdict}** the check: Spearman {spearman:.2f} with every layer random (pass below "
                 "{threshold}).")

#: shown on every page when the user's models file could not be used (the zoo still works)
MODELS_FILE_UNUSED = "Your models file was not used, so only shiftlab's own models are offered: {problem}"
