"""Altair charts of the pages: reliability diagrams, accuracy vs severity, spectral profiles, OOD score
histograms, and the zoo's robustness comparisons.

Each chart has a ``*_frame`` function that turns shiftlab results into a tidy
pandas DataFrame (tested on its own) and a ``*_chart`` function that draws it.
Source and shifted get the same two colours on every chart.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from shiftlab.app.calibration import MIN_BIN_COUNT
from shiftlab.app.text import SCORE_LABELS
from shiftlab.metrics import OOD_SCORES, ReliabilityBins
from shiftlab.models import get_spec, known_variants, list_models

CONDITIONS = ("source", "shifted")
COLOURS = ["#1f6feb", "#e8590c"]  # source / in-distribution blue, shifted / OOD orange
CONDITION_COLOURS = alt.Scale(domain=list(CONDITIONS), range=COLOURS)
SUBBANDS = {"h": "horizontal", "v": "vertical", "d": "diagonal"}
HISTOGRAM_BINS = 30
#: a variant trained by the user, outside the zoo's six
OTHER_VARIANT_COLOUR = "#495057"
#: one marker per architecture on the zoo's scatter plots (named in the page's caption, not in a legend), as each
#: architecture's spec declares it
MODEL_SHAPES = alt.Scale(domain=[arch for arch in list_models() if get_spec(arch).marker],
                         range=[marker for arch in list_models() if (marker := get_spec(arch).marker)])
#: one colour per training variant on every zoo chart, as the variant vocabulary declares it
VARIANT_COLOURS = alt.Scale(domain=[v.name for v in known_variants()], range=[v.colour for v in known_variants()])


def reliability_frame(bins: ReliabilityBins) -> pd.DataFrame:
    """One row per non-empty bin: range, mean confidence, accuracy, count, and whether it holds too few images."""
    frame = pd.DataFrame({"lower": bins.edges[:-1], "upper": bins.edges[1:], "confidence": bins.confidence,
                          "accuracy": bins.accuracy, "count": bins.count})
    frame = frame[frame["count"] > 0].reset_index(drop=True)
    return frame.assign(unreliable=frame["count"] < MIN_BIN_COUNT)


def reliability_chart(bins: ReliabilityBins, condition: str, title: str) -> alt.LayerChart:
    """Accuracy per confidence bin as bars over the diagonal of perfect calibration, each bar labelled with its count.

    Bins holding fewer than ``MIN_BIN_COUNT`` images are drawn pale: their
    accuracy is too uncertain to read a calibration error from.
    """
    unit = alt.Scale(domain=[0, 1])
    base = alt.Chart(reliability_frame(bins)).encode(
        x=alt.X("lower:Q", scale=unit, title="confidence"),
        tooltip=[
            alt.Tooltip("lower:Q", format=".2f", title="from"),
            alt.Tooltip("upper:Q", format=".2f", title="to"),
            alt.Tooltip("confidence:Q", format=".3f", title="mean confidence"),
            alt.Tooltip("accuracy:Q", format=".3f"),
            alt.Tooltip("count:Q", title="images"),
            alt.Tooltip("unreliable:N", title=f"fewer than {MIN_BIN_COUNT} images"),
        ],
    )
    bars = base.mark_rect(stroke="white", color=COLOURS[CONDITIONS.index(condition)]).encode(
        x2="upper:Q",
        y=alt.Y("accuracy:Q", scale=unit, title="accuracy in bin"),
        y2=alt.datum(0),
        opacity=alt.condition("datum.unreliable", alt.value(0.3), alt.value(0.9)),
    )
    counts = base.transform_calculate(middle="(datum.lower + datum.upper) / 2").mark_text(
        dy=-6, fontSize=10, color="#333").encode(x="middle:Q", y="accuracy:Q", text="count:Q")
    corners = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
    diagonal = alt.Chart(corners).mark_line(color="grey", strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")
    return alt.layer(bars, counts, diagonal).properties(title=title, height=280)


def confidence_histogram(frame: pd.DataFrame) -> alt.Chart:
    """Overlaid histograms of top-1 confidence, one colour per condition (from ``calibration.confidence_frame``)."""
    return (
        alt.Chart(frame)
        .mark_bar(opacity=0.55, binSpacing=0)
        .encode(
            x=alt.X("confidence:Q", bin=alt.Bin(extent=[0, 1], step=1 / 20), title="top-1 confidence"),
            y=alt.Y("count()", stack=None, title="images"),
            color=alt.Color("condition:N", scale=CONDITION_COLOURS, title=None, legend=alt.Legend(orient="top")),
        )
        .properties(height=280, title="Confidence histogram")
    )


def variant_scale(variants: list[str]) -> alt.Scale:
    """The variant colours restricted to ``variants``, so that a legend lists only the variants that exist."""
    colours = dict(zip(VARIANT_COLOURS.domain, VARIANT_COLOURS.range))
    return alt.Scale(domain=list(variants), range=[colours.get(v, OTHER_VARIANT_COLOUR) for v in variants])


def variant_curves_chart(frame: pd.DataFrame, measure: str, selected: int) -> alt.LayerChart:
    """``measure`` against severity (0 = unshifted), one line per variant (from ``calibration.curves_frame``)."""
    rows = frame[frame["measure"] == measure]
    variants = list(dict.fromkeys(rows["variant"]))
    lines = alt.Chart(rows).mark_line(point=True).encode(
        x=alt.X("severity:Q", axis=alt.Axis(tickMinStep=1, title="severity (0 = unshifted)")),
        y=alt.Y("value:Q", title=measure, scale=alt.Scale(domain=[0, 1]) if measure != "ECE" else alt.Scale(zero=True)),
        color=alt.Color("variant:N", scale=variant_scale(variants), legend=alt.Legend(orient="bottom", columns=3)),
        tooltip=["variant:N", "severity:Q", alt.Tooltip("value:Q", format=".3f", title=measure)],
    )
    marker = alt.Chart(pd.DataFrame({"severity": [selected]})).mark_rule(color="grey", strokeDash=[2, 2]).encode(
        x="severity:Q")
    return alt.layer(lines, marker).properties(height=300, title=f"{measure} against severity, every variant")


def level_labels(levels: int) -> list[str]:
    """Names of the approximation and the detail levels of a ``levels``-level Haar transform, coarse to fine."""
    return ["approx."] + [f"level {level}" for level in range(levels, 0, -1)]


def spectral_levels_frame(spectral_levels: np.ndarray, std: np.ndarray | None = None) -> pd.DataFrame:
    """Share of importance per wavelet level, one row per (condition, level); ``spectral_levels`` is 2×(levels+1).

    With ``std`` (same shape) each row also holds the share ± one standard deviation (``low``, ``high``).
    """
    labels = level_labels(spectral_levels.shape[1] - 1)
    spread = np.zeros_like(spectral_levels) if std is None else std
    return pd.DataFrame(
        [
            {"condition": condition, "level": label, "order": i, "share": float(share),
             "low": float(share - sd), "high": float(share + sd)}
            for condition, row, sds in zip(CONDITIONS, spectral_levels, spread)
            for i, (label, share, sd) in enumerate(zip(labels, row, sds))
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


def _share_bars(frame: pd.DataFrame, narrow: bool = False) -> alt.Chart:
    """Grouped bars: one group per level (coarse to fine), one bar per condition.

    ``narrow`` (a column of a few hundred pixels) turns the level names upright and stacks the legend's entries,
    which would otherwise overlap and be cut off.
    """
    order = list(dict.fromkeys(frame.sort_values("order")["level"]))
    legend = alt.Legend(orient="bottom", columns=1 if narrow else 2)
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("level:N", sort=order, title="coarse → fine",
                    axis=alt.Axis(labelAngle=-90 if narrow else 0, labelOverlap=not narrow)),
            xOffset=alt.XOffset("condition:N", sort=list(CONDITIONS)),
            y=alt.Y("share:Q", title="share of importance", axis=alt.Axis(format="%")),
            color=alt.Color("condition:N", scale=CONDITION_COLOURS, title=None, legend=legend),
            tooltip=["condition:N", "level:N", alt.Tooltip("share:Q", format=".1%")],
        )
    )


def spectral_levels_chart(
    spectral_levels: np.ndarray, std: np.ndarray | None = None, narrow: bool = False
) -> alt.LayerChart:
    """Importance per level, coarse to fine, source next to shifted, with ± one standard deviation when given."""
    frame = spectral_levels_frame(spectral_levels, std)
    bars = _share_bars(frame, narrow)
    if std is None:
        return bars.properties(height=300)
    order = list(dict.fromkeys(frame.sort_values("order")["level"]))
    errors = alt.Chart(frame).mark_errorbar(ticks=True, color="#333").encode(
        x=alt.X("level:N", sort=order), xOffset=alt.XOffset("condition:N", sort=list(CONDITIONS)),
        y=alt.Y("low:Q", title="share of importance"), y2="high:Q")
    return alt.layer(bars, errors).properties(height=300)


def spectral_subbands_chart(spectral_subbands: np.ndarray) -> alt.FacetChart:
    """Importance per detail level, one panel per sub-band (horizontal, vertical, diagonal)."""
    frame = spectral_subbands_frame(spectral_subbands)
    return _share_bars(frame).properties(height=240, width=130).facet(
        column=alt.Column("sub-band:N", sort=list(SUBBANDS.values()), title=None)
    )


def score_frame(scores_in: np.ndarray, scores_out: np.ndarray) -> pd.DataFrame:
    """One OOD score of every image, one row each, with the set it comes from."""
    return pd.concat(
        [
            pd.DataFrame({"score": scores_in, "set": "in-distribution"}),
            pd.DataFrame({"score": scores_out, "set": "out-of-distribution"}),
        ],
        ignore_index=True,
    )


def score_histogram(scores_in: np.ndarray, scores_out: np.ndarray, score: str) -> alt.Chart:
    """Overlaid histograms of the OOD score ``score`` of in-distribution and OOD images (higher = more OOD)."""
    if score not in OOD_SCORES:
        raise ValueError(f"unknown OOD score {score!r}; known: {', '.join(OOD_SCORES)}")
    colours = alt.Scale(domain=["in-distribution", "out-of-distribution"], range=COLOURS)
    return (
        alt.Chart(score_frame(scores_in, scores_out))
        .mark_bar(opacity=0.55, binSpacing=0)
        .encode(
            x=alt.X("score:Q", bin=alt.Bin(maxbins=HISTOGRAM_BINS), title="score (higher = more OOD)"),
            y=alt.Y("count()", stack=None, title="images"),
            color=alt.Color("set:N", scale=colours, title=None, legend=alt.Legend(orient="bottom", columns=1)),
        )
        .properties(height=340, title=SCORE_LABELS[score])
    )


def tradeoff_chart(rows: pd.DataFrame, measure: str, title: str) -> alt.LayerChart:
    """Clean accuracy (x) against a robustness figure (y), one labelled point per model and variant."""
    measured = rows[rows["accuracy"].notna() & rows[measure].notna()]
    measured = measured.assign(name=lambda f: f["model"] + "/" + f["variant"])
    base = alt.Chart(measured).encode(
        x=alt.X("accuracy:Q", title="clean accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
        y=alt.Y(f"{measure}:Q", title=title, axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
    )
    points = base.mark_point(size=90, filled=True).encode(
        color=alt.Color("variant:N", title="variant", scale=variant_scale(list(dict.fromkeys(measured["variant"]))),
                        legend=alt.Legend(orient="bottom", columns=3)),
        shape=alt.Shape("model:N", title="model", scale=MODEL_SHAPES, legend=None),
        tooltip=["model:N", "variant:N", alt.Tooltip("accuracy:Q", format=".2%", title="clean"),
                 alt.Tooltip(f"{measure}:Q", format=".2%", title=title)],
    )
    # points at (near) zero pile up on the axis: they keep their tooltip but get no label
    # (spread over every point, so that the gaps are measured on the chart's own spans; the axis points come last)
    labelled = spread_labels(measured, "accuracy", measure).query(f"{measure} > 0.01")
    labels = alt.Chart(labelled).mark_text(align="left", dx=7, fontSize=11).encode(
        x="accuracy:Q", y="label_y:Q", text="name:N"
    )
    return alt.layer(points, labels).properties(height=340)


def spread_labels(frame: pd.DataFrame, x: str, y: str, width: float = 0.3, height: float = 0.045) -> pd.DataFrame:
    """``frame`` with a ``label_y`` column: ``y``, moved down where a label would cover one placed above it.

    Vega-Lite places text marks without avoiding collisions, so this is done
    by hand: labels are taken from the top, and one whose box (``width`` ×
    ``height``, as fractions of the x and y spans) meets an already placed
    label moves just below that label.
    """
    x_span = float(frame[x].max() - frame[x].min()) or 1.0
    y_span = float(frame[y].max() - frame[y].min()) or 1.0
    placed: list[tuple[float, float]] = []
    label_y = {}
    for index, row in frame.sort_values(y, ascending=False).iterrows():
        position = float(row[y])
        for px, py in sorted(placed, key=lambda p: -p[1]):
            if abs(row[x] - px) < width * x_span and abs(position - py) < height * y_span:
                position = py - height * y_span
        placed.append((float(row[x]), position))
        label_y[index] = position
    return frame.assign(label_y=pd.Series(label_y))


def gain_frame(frame: pd.DataFrame, model: str, reference: str = "baseline") -> pd.DataFrame:
    """Mean accuracy over severities 1-5 per variant and corruption, minus the reference variant's, in points."""
    shifted = frame[(frame["model"] == model) & (frame["severity"] > 0)]
    means = shifted.groupby(["variant", "corruption"], sort=False)["accuracy"].mean().unstack("corruption")
    if reference not in means.index:
        return pd.DataFrame(columns=["variant", "corruption", "gain"])
    gains = (means - means.loc[reference]) * 100
    return gains.drop(index=reference).stack().rename("gain").reset_index()


def gain_heatmap(frame: pd.DataFrame, model: str, reference: str = "baseline") -> alt.LayerChart:
    """Corruption × variant grid of accuracy gains over the reference (green: better, red: worse)."""
    gains = gain_frame(frame, model, reference)
    order = list(dict.fromkeys(frame["corruption"]))
    limit = max(1.0, float(gains["gain"].abs().max())) if len(gains) else 1.0
    base = alt.Chart(gains).encode(
        x=alt.X("corruption:N", sort=order, title=None, axis=alt.Axis(labelAngle=-40, labelOverlap=False)),
        y=alt.Y("variant:N", title=None),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("gain:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[-limit, limit]),
                        title=f"points vs {reference}",
                        # above the grid: a vertical gradient is taller than a 2-row grid and squeezes it
                        legend=alt.Legend(orient="top", direction="horizontal", gradientLength=200)),
        tooltip=["variant:N", "corruption:N", alt.Tooltip("gain:Q", format="+.1f", title="points")],
    )
    text = base.mark_text(fontSize=11).encode(text=alt.Text("gain:Q", format="+.0f"))
    # fit the width only: fitting the height too would squeeze the rows to make room for the legend and labels
    return alt.layer(cells, text).properties(height=36 * max(1, gains["variant"].nunique()),
                                             autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


def corruption_curves_chart(frame: pd.DataFrame, model: str, corruption: str) -> alt.Chart:
    """Accuracy against severity (0 = clean) for every variant of ``model`` under one corruption."""
    curves = frame[(frame["model"] == model) & (frame["corruption"] == corruption)]
    return (
        alt.Chart(curves)
        .mark_line(point=True)
        .encode(
            x=alt.X("severity:Q", axis=alt.Axis(tickMinStep=1, title="severity (0 = clean)")),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color("variant:N", scale=variant_scale(list(dict.fromkeys(curves["variant"]))),
                            legend=alt.Legend(orient="bottom")),
            tooltip=["variant:N", "severity:Q", alt.Tooltip("accuracy:Q", format=".2%")],
        )
        .properties(height=320)
    )


def top_k_chart(ranking: list[tuple[str, float]]) -> alt.LayerChart:
    """Horizontal bars of the top classes' probabilities, each labelled with its value."""
    frame = pd.DataFrame(ranking, columns=["class", "probability"])
    base = alt.Chart(frame).encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        y=alt.Y("class:N", sort="-x", title=None),
    )
    bars = base.mark_bar(color=COLOURS[0])
    values = base.mark_text(align="left", dx=4, fontSize=12).encode(text=alt.Text("probability:Q", format=".1%"))
    return alt.layer(bars, values).properties(height=36 * len(frame) + 20)


def trust_gap_chart(records: pd.DataFrame) -> alt.LayerChart:
    """The gap to random per image, one box per method and condition (methods down the side, so their names fit),
    beside a line at 0: no better than chance."""
    base = alt.Chart(records).encode(
        y=alt.Y("method:N", title=None, axis=alt.Axis(labelLimit=0)),
        yOffset=alt.YOffset("condition:N", sort=list(CONDITIONS)),
        color=alt.Color("condition:N", scale=CONDITION_COLOURS, title=None, legend=alt.Legend(orient="top")),
    )
    boxes = base.mark_boxplot(size=14, extent="min-max").encode(
        x=alt.X("gap:Q", title="gap to random (area units; 0 = a random order)"))
    chance = alt.Chart(pd.DataFrame({"gap": [0.0]})).mark_rule(strokeDash=[4, 3], color="#495057").encode(x="gap:Q")
    return alt.layer(boxes, chance).properties(height=alt.Step(18))


def road_chart(frame: pd.DataFrame) -> alt.FacetChart:
    """ROAD: the explained class's mean probability as the most (MoRF, solid) or least (LeRF, dashed) important
    pixels are removed, one panel per method, narrow enough for three side by side at 1024 px. The points are a
    layer of their own: on a line mark with points, Vega-Lite draws the dashes' legend without its lines."""
    base = alt.Chart().encode(
        x=alt.X("percent:Q", title="pixels removed (%)", scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("probability:Q", title="probability of the class", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("condition:N", scale=CONDITION_COLOURS, title=None, legend=alt.Legend(orient="top")),
    )
    lines = base.mark_line().encode(
        strokeDash=alt.StrokeDash("order:N", title=None, sort=["MoRF", "LeRF"],
                                  legend=alt.Legend(symbolType="stroke", symbolStrokeColor="#495057", orient="top")))
    points = base.mark_point(filled=True, size=30).encode(
        tooltip=["method:N", "condition:N", "order:N", "percent:Q", alt.Tooltip("probability:Q", format=".3f")])
    return alt.layer(lines, points, data=frame).properties(width=140, height=170).facet(
        column=alt.Column("method:N", title=None))


def similarity_chart(frame: pd.DataFrame, threshold: float) -> alt.LayerChart:
    """Similarity of the maps to the trained model's as layers are randomised from the top, with the pass line."""
    lines = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("stage:Q", title="layers randomised, from the top"),
        y=alt.Y("similarity:Q", title="similarity to the trained map", scale=alt.Scale(domain=[-0.2, 1])),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["Spearman", "SSIM"], range=COLOURS)),
        tooltip=["stage:Q", "layer:N", "measure:N", alt.Tooltip("similarity:Q", format=".3f")],
    )
    bar = alt.Chart(pd.DataFrame({"similarity": [threshold]})).mark_rule(strokeDash=[4, 3], color="#495057").encode(
        y="similarity:Q")
    return alt.layer(lines, bar).properties(height=240)


def deletion_insertion_chart(frame: pd.DataFrame) -> alt.FacetChart:
    """Deletion and insertion curves of one method's maps (solid) and of the random order (dashed), source and
    shifted, one small panel each (from ``shiftlab.app.faithfulness.curves_frame``)."""
    return alt.Chart(frame).mark_line().encode(
        x=alt.X("fraction:Q", title="share of pixels", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1])),
        y=alt.Y("probability:Q", title="probability of the class", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("condition:N", scale=CONDITION_COLOURS, title=None, legend=alt.Legend(orient="top")),
        strokeDash=alt.StrokeDash("order:N", title=None, sort=["map", "random"],
                                  legend=alt.Legend(symbolType="stroke", symbolStrokeColor="#495057", orient="top")),
        tooltip=["curve:N", "condition:N", "order:N", alt.Tooltip("fraction:Q", format=".0%", title="pixels"),
                 alt.Tooltip("probability:Q", format=".3f")],
    ).properties(width=200, height=150).facet(column=alt.Column("curve:N", title=None, sort=["deletion", "insertion"]))
