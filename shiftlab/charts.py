"""Altair charts of the pages: reliability diagrams, accuracy vs severity, spectral profiles, OOD score histograms.

Each chart has a ``*_frame`` function that turns shiftlab results into a tidy
pandas DataFrame (tested on its own) and a ``*_chart`` function that draws it.
Source and shifted get the same two colours on every chart.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from shiftlab.metrics import OOD_SCORES, ReliabilityBins, ood_score

CONDITIONS = ("source", "shifted")
COLOURS = ["#1f6feb", "#e8590c"]  # source / in-distribution blue, shifted / OOD orange
CONDITION_COLOURS = alt.Scale(domain=list(CONDITIONS), range=COLOURS)
MEASURE_COLOURS = ["#2f9e44", "#ae3ec9"]  # accuracy green, ECE purple: not to be confused with the conditions
SUBBANDS = {"h": "horizontal", "v": "vertical", "d": "diagonal"}
#: how each OOD score is computed from the logits; all are oriented so that higher = more OOD
SCORE_LABELS = {
    "msp": "MSP: −max softmax probability",
    "max_logit": "max-logit: −max logit",
    "energy": "energy: −logsumexp(logits)",
}
HISTOGRAM_BINS = 30


def reliability_frame(bins: ReliabilityBins) -> pd.DataFrame:
    """One row per non-empty bin: its confidence range, mean confidence, accuracy and count."""
    frame = pd.DataFrame(
        {
            "lower": bins.edges[:-1],
            "upper": bins.edges[1:],
            "confidence": bins.confidence,
            "accuracy": bins.accuracy,
            "count": bins.count,
        }
    )
    return frame[frame["count"] > 0].reset_index(drop=True)


def reliability_chart(bins: ReliabilityBins, condition: str, title: str) -> alt.LayerChart:
    """Accuracy per confidence bin as bars over the diagonal of perfect calibration."""
    unit = alt.Scale(domain=[0, 1])
    bars = (
        alt.Chart(reliability_frame(bins))
        .mark_rect(stroke="white", color=COLOURS[CONDITIONS.index(condition)])
        .encode(
            x=alt.X("lower:Q", scale=unit, title="confidence"),
            x2="upper:Q",
            y=alt.Y("accuracy:Q", scale=unit, title="accuracy in bin"),
            y2=alt.datum(0),
            tooltip=[
                alt.Tooltip("lower:Q", format=".2f", title="from"),
                alt.Tooltip("upper:Q", format=".2f", title="to"),
                alt.Tooltip("confidence:Q", format=".3f", title="mean confidence"),
                alt.Tooltip("accuracy:Q", format=".3f"),
                alt.Tooltip("count:Q", title="images"),
            ],
        )
    )
    diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(color="grey", strokeDash=[4, 4]).encode(
        x="x:Q", y="y:Q"
    )
    return alt.layer(bars, diagonal).properties(title=title, height=260)


def severity_chart(curve: pd.DataFrame, selected: int, accuracy_label: str) -> alt.LayerChart:
    """Accuracy and ECE against severity (0 = unshifted), with the selected severity marked."""
    long = curve.rename(columns={"accuracy": accuracy_label, "ece": "ECE"}).melt(
        "severity", var_name="measure", value_name="value"
    )
    measures = list(dict.fromkeys(long["measure"]))
    x = alt.X(
        "severity:Q",
        scale=alt.Scale(domain=[0, int(curve["severity"].max())]),
        axis=alt.Axis(tickMinStep=1, title="severity (0 = unshifted)"),
    )
    lines = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
            color=alt.Color(
                "measure:N", scale=alt.Scale(domain=measures, range=MEASURE_COLOURS[: len(measures)]), title=None,
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=["severity:Q", "measure:N", alt.Tooltip("value:Q", format=".3f")],
        )
    )
    marker = (
        alt.Chart(pd.DataFrame({"severity": [selected]})).mark_rule(color="grey", strokeDash=[2, 2]).encode(x="severity:Q")
    )
    return alt.layer(lines, marker).properties(height=300)


def level_labels(levels: int) -> list[str]:
    """Names of the approximation and the detail levels of a ``levels``-level Haar transform, coarse to fine."""
    return ["approx."] + [f"level {level}" for level in range(levels, 0, -1)]


def spectral_levels_frame(spectral_levels: np.ndarray) -> pd.DataFrame:
    """Share of importance per wavelet level, one row per (condition, level); ``spectral_levels`` is 2×(levels+1)."""
    labels = level_labels(spectral_levels.shape[1] - 1)
    return pd.DataFrame(
        [
            {"condition": condition, "level": label, "order": i, "share": float(share)}
            for condition, row in zip(CONDITIONS, spectral_levels)
            for i, (label, share) in enumerate(zip(labels, row))
        ]
    )


def spectral_subbands_frame(spectral_subbands: np.ndarray) -> pd.DataFrame:
    """Share of importance per detail sub-band, one row per (condition, level, sub-band); input is 2×levels×3."""
    levels = spectral_subbands.shape[1]
    labels = level_labels(levels)[1:]
    return pd.DataFrame(
        [
            {"condition": condition, "level": labels[i], "order": i, "sub-band": name, "share": float(per_level[i, j])}
            for condition, per_level in zip(CONDITIONS, spectral_subbands)
            for i in range(levels)
            for j, name in enumerate(SUBBANDS.values())
        ]
    )


def _share_bars(frame: pd.DataFrame) -> alt.Chart:
    """Grouped bars: one group per level (coarse to fine), one bar per condition."""
    order = list(dict.fromkeys(frame.sort_values("order")["level"]))
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("level:N", sort=order, title="coarse → fine", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("condition:N", sort=list(CONDITIONS)),
            y=alt.Y("share:Q", title="share of importance", axis=alt.Axis(format="%")),
            color=alt.Color("condition:N", scale=CONDITION_COLOURS, title=None, legend=alt.Legend(orient="bottom")),
            tooltip=["condition:N", "level:N", alt.Tooltip("share:Q", format=".1%")],
        )
    )


def spectral_levels_chart(spectral_levels: np.ndarray) -> alt.Chart:
    """Importance per level, coarse to fine, source next to shifted."""
    return _share_bars(spectral_levels_frame(spectral_levels)).properties(height=300)


def spectral_subbands_chart(spectral_subbands: np.ndarray) -> alt.FacetChart:
    """Importance per detail level, one panel per sub-band (horizontal, vertical, diagonal)."""
    frame = spectral_subbands_frame(spectral_subbands)
    return _share_bars(frame).properties(height=240, width=130).facet(
        column=alt.Column("sub-band:N", sort=list(SUBBANDS.values()), title=None)
    )


def score_frame(logits_in: np.ndarray, logits_out: np.ndarray, score: str) -> pd.DataFrame:
    """OOD score ``score`` of every image, one row each, with the set it comes from."""
    return pd.concat(
        [
            pd.DataFrame({"score": ood_score(logits_in, score), "set": "in-distribution"}),
            pd.DataFrame({"score": ood_score(logits_out, score), "set": "out-of-distribution"}),
        ],
        ignore_index=True,
    )


def score_histogram(logits_in: np.ndarray, logits_out: np.ndarray, score: str) -> alt.Chart:
    """Overlaid histograms of one OOD score for in-distribution and OOD images (higher = more OOD)."""
    if score not in OOD_SCORES:
        raise ValueError(f"unknown OOD score {score!r}; known: {', '.join(OOD_SCORES)}")
    colours = alt.Scale(domain=["in-distribution", "out-of-distribution"], range=COLOURS)
    return (
        alt.Chart(score_frame(logits_in, logits_out, score))
        .mark_bar(opacity=0.55, binSpacing=0)
        .encode(
            x=alt.X("score:Q", bin=alt.Bin(maxbins=HISTOGRAM_BINS), title="score (higher = more OOD)"),
            y=alt.Y("count()", stack=None, title="images"),
            color=alt.Color("set:N", scale=colours, title=None, legend=alt.Legend(orient="top")),
        )
        .properties(height=340, title=SCORE_LABELS[score])
    )
