"""Column titles, formats and help of the tables the pages show (``st.column_config``).

Streamlit code, read by ``st.dataframe(..., column_config=...)``; the help
texts come from ``shiftlab.app.text`` where they are shared.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from shiftlab.app import text


def zoo_columns() -> dict[str, Any]:
    """Column titles, formats and help of the Home page's zoo table."""
    number = st.column_config.NumberColumn
    return {"accuracy": number("accuracy", format="%.2f%%", help=text.METRIC_HELP["accuracy"]),
            "macro_f1": number("macro-F1", format="%.4f", help="F1 score averaged over the ten classes"),
            "ece": number("ECE", format="%.4f", help=text.METRIC_HELP["ece"]),
            "nll": number("NLL", format="%.4f", help=text.METRIC_HELP["nll"]),
            "corruption_accuracy": number("corruptions", format="%.2f%%",
                                          help="mean accuracy over 15 corruptions × 5 severities"),
            "pgd20_accuracy": number("PGD-20", format="%.2f%%", help="accuracy under a PGD-20 attack, L∞ ε 8/255"),
            "origin": st.column_config.TextColumn("start", help="scratch, or the model a fine-tuning run started from")}


def ood_columns() -> dict[str, Any]:
    """Column formats and help of the OOD detection table."""
    number = st.column_config.NumberColumn
    return {"auroc": number("AUROC", format="%.3f", help=text.METRIC_HELP["auroc"]),
            "aupr_in": number("AUPR-in", format="%.3f", help="in-distribution as the positive class"),
            "aupr_out": number("AUPR-out", format="%.3f", help="OOD as the positive class"),
            "fpr_at_95_tpr": number("FPR at 95% TPR", format="%.3f",
                                    help="share of OOD images still accepted when 95 % of in-distribution ones are")}


def drift_columns() -> dict[str, Any]:
    """Column formats of the ID-vs-OOD drift table."""
    number = st.column_config.NumberColumn
    return {"mean IoU": number(format="%.3f", help=text.METRIC_HELP["iou"]), "median IoU": number(format="%.3f"),
            "mean Spearman": number(format="%.3f", help="rank correlation of the two maps; 1 = same ordering")}


def trust_columns() -> dict[str, Any]:
    """Column formats of the Trust page's tables."""
    number = st.column_config.NumberColumn
    area = "area under the curve of the class's probability against the share of pixels perturbed (0 to 1)"
    return {
        "gap_source": number("gap, source", format="%.3f", help="mean gap to random on the source images"),
        "gap_shifted": number("gap, shifted", format="%.3f", help="mean gap to random on the shifted images"),
        "change": number(format="%+.3f", help="shifted minus source: below 0, the maps track the model less"),
        "final_spearman": number("Spearman", format="%.2f",  # a short label: the ranking fits 1024 px beside the menu
                                 help="the randomisation check's figure: mean Spearman correlation to the trained "
                                      "maps once every layer is random"),
        "deletion_auc": number("deletion", format="%.3f", help=f"deletion: {area}; lower is better"),
        "insertion_auc": number("insertion", format="%.3f", help=f"insertion: {area}; higher is better"),
        "random_deletion_auc": number("deletion, random", format="%.3f", help="the same pixels in random orders"),
        "random_insertion_auc": number("insertion, random", format="%.3f", help="the same pixels in random orders"),
        "gap": number(format="%.3f", help="(random − map) deletion area + (map − random) insertion area"),
        "road_morf": number("ROAD MoRF", format="%.3f", help="mean probability, most important pixels removed first"),
        "road_lerf": number("ROAD LeRF", format="%.3f", help="mean probability, least important pixels removed first"),
    }


def summary_columns() -> dict[str, Any]:
    """Column formats of the per-variant OOD summary."""
    number = st.column_config.NumberColumn
    return {"ID accuracy": number(format="%.3f", help=text.METRIC_HELP["accuracy"]),
            "ID ECE": number(format="%.3f", help=text.METRIC_HELP["ece"]),
            "Grad-CAM IoU ID vs OOD": number(format="%.3f", help=text.METRIC_HELP["iou"]),
            "MSP AUROC": number(format="%.3f", help=text.METRIC_HELP["auroc"]),
            "energy AUROC": number(format="%.3f", help=text.METRIC_HELP["auroc"])}
