"""Query a sweep folder with DuckDB (embedded, no server): accuracy, calibration, cases, OOD AUROC, stored maps.

    store = shiftlab.sweep.results.open("runs/NAME")
    store.accuracy(model="resnet20", shift=["fog", "contrast"])

Every query reads only the partitions its filters select (``model``,
``variant``, ``shift``, each a name or a list; ``severity`` an int or a list),
straight from the Parquet files. ``open`` checks every partition the sweep's
plan lists: a missing folder, a Parquet file that cannot be read or a
partition holding another number of records than the plan gives it is kept
in ``problems`` and makes the queries that need it raise ``SweepStoreError``
naming the file, while queries over the rest of the store keep working. A
corrupt ``sweep.json`` is a ``SweepStoreError`` naming it, and the queries'
arguments are checked (``ParameterError``). ``sql`` runs in a DuckDB
database that sees only the selected partitions, read through pyarrow, with
DuckDB's external access disabled: no file, COPY, ATTACH or extension. Every
query returns a pandas DataFrame; the clean images are the rows of shift
``source`` (severity 0), which the queries that compare against them add by
themselves.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from shiftlab.errors import ParameterError, SweepStoreError
from shiftlab.metrics import DRIFT_MEASURES, OOD_SCORES
from shiftlab.sweep import filters
from shiftlab.sweep.filters import Names, Severities
from shiftlab.sweep.plan import MANIFEST, PRODUCTS, SEED_RANGE, SOURCE, Partition, SweepPlan, read_plan
from shiftlab.sweep.records import (
    attribution_schema,
    decode_details,
    decode_map,
    drift_measures,
    faithfulness_schema,
    prediction_schema,
)
from shiftlab.sweep.sandbox import QUERY_ERRORS, bounded_frame, sandbox
from shiftlab.sweep.store import check_partition, expected_rows

KEYS = "model, variant, shift, severity"
#: the drift columns ``cases`` gives beside each case: top-k IoU (its ``drift`` order) and Spearman
CASE_DRIFT = (DRIFT_MEASURES["top_k_iou"].column, DRIFT_MEASURES["spearman"].column)
#: how ``cases`` sorts: the most telling case first, ties broken by the record keys
ORDERS = {
    "confidence_drop": "confidence_drop DESC",
    "drift": f"{CASE_DRIFT[0]} ASC NULLS LAST, confidence_drop DESC",
    "confidence": "confidence DESC",
}
#: which records ``cases`` keeps
KINDS = {
    "flips": "c.correct AND NOT s.correct",
    "fixes": "NOT c.correct AND s.correct",
    "confidently_wrong": "NOT s.correct AND s.confidence >= $threshold",
    "all": "TRUE",
}


#: the most reliability bins a query takes
MAX_BINS = 10_000

def _drift(prefix: str = "") -> str:
    """The attribution records' drift columns (one per registered drift measure, in the records' order) as an SQL
    list, each name after ``prefix`` (``"a."`` for a table alias)."""
    return ", ".join(prefix + measure.column for measure in drift_measures())


def _quoted(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


class SweepResults:
    """An opened sweep folder: its ``plan``, the ``problems`` found in it, and the queries."""

    def __init__(self, root: Path, plan: SweepPlan):
        if not isinstance(root, str | os.PathLike) or not isinstance(plan, SweepPlan):
            raise ParameterError(f"SweepResults takes a folder and its SweepPlan (results.open(folder) makes both), "
                                 f"got {root!r:.80} and {plan!r:.80}")
        self.root = root = Path(root)
        self.plan = plan
        self.connection = duckdb.connect()
        self._files: dict[Partition, list[str]] = {}
        self.problems: dict[Partition, str] = {}
        for partition in plan.partitions():
            files, problem = check_partition(partition.path(root), expected_rows(plan, partition))
            self._files[partition] = files
            if problem:
                self.problems[partition] = problem

    # --- what the store holds -------------------------------------------------------------------------------
    def methods(self) -> list[str]:
        """Attribution methods the sweep recorded."""
        return list(self.plan.methods)

    def partitions(self) -> pd.DataFrame:
        """One row per partition: product, method, model, variant, shift, files and problem (None when healthy)."""
        return pd.DataFrame([{"product": p.product, "method": p.method, "model": p.model, "variant": p.variant,
                              "shift": p.shift, "files": len(self._files[p]), "problem": self.problems.get(p)}
                             for p in self.plan.partitions()])

    def covers(self, model: str, variant: str, shift: str, severity: int, method: str | None = None,
               product: str = "attributions") -> bool:
        """Whether the store holds healthy records (and, with ``method``, its ``product``: attributions or
        faithfulness) for this view."""
        if not all(isinstance(name, str) for name in (model, variant, shift)) or not filters.is_int(severity) \
                or product not in PRODUCTS:
            raise ParameterError(f"covers takes a model, variant and shift name, a severity and a product "
                                 f"({', '.join(PRODUCTS)}), got {model!r:.40}, {variant!r:.40}, {shift!r:.40}, "
                                 f"{severity!r:.20}, {product!r:.20}")
        severities = (0,) if shift == SOURCE else self.plan.severities
        wanted = [Partition("predictions", model, variant, shift)]
        if method is not None:
            wanted.append(Partition(product, model, variant, shift, method))
        return severity in severities and all(p in self._files and p not in self.problems for p in wanted)

    # --- reading --------------------------------------------------------------------------------------------
    def _select(self, product: str, model: Names, variant: Names, shift: Names, method: str | None,
                with_source: bool) -> list[str]:
        """The files of the selected partitions; ``SweepStoreError`` naming every broken one among them."""
        models, variants = filters.names(model, "model"), filters.names(variant, "variant")
        shifts = filters.names(shift, "shift")
        chosen = [p for p in self._files if p.product == product and p.method == method
                  and (models is None or p.model in models) and (variants is None or p.variant in variants)
                  and (shifts is None or p.shift in shifts or (with_source and p.shift == SOURCE))]
        broken = [self.problems[p] for p in chosen if p in self.problems]
        if broken:
            raise SweepStoreError("; ".join(broken))
        return [f for p in chosen for f in self._files[p]]

    def _relation(self, files: list[str], columns: str) -> str:
        """A subquery reading ``columns`` of ``files``, with model, variant, shift (and method) from the folder
        names."""
        if not files:
            raise SweepStoreError(f"{self.root}: the sweep holds no partition matching the filters")
        return (f"(SELECT {columns} FROM read_parquet({_quoted(files)}, hive_partitioning = true, "
                f"hive_types_autocast = false))")

    def _query(self, sql: str, params: dict | None, files: list[str],
               connection: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
        """The rows of ``sql``; a file of ``files`` that does not read is a ``SweepStoreError`` naming it, any other
        failure of a query ``sql`` was given (``connection``, the sandbox) a one-line ``ParameterError``."""
        try:
            if connection is None:
                return self.connection.execute(sql, params).df()
            return bounded_frame(connection, sql)
        except (duckdb.Error, pa.ArrowException) as exc:
            culprit = None if isinstance(exc, QUERY_ERRORS) else self._culprit(files)
            if culprit or connection is None:
                raise SweepStoreError(culprit or f"{self.root}: query failed: {exc}") from exc
            raise ParameterError(f"the query failed: {' '.join(str(exc).split())} (SweepResults.sql reads the views "
                                 "predictions and attributions only: files, COPY, ATTACH, SET and extensions are "
                                 "disabled)") from None

    @staticmethod
    def _culprit(files: list[str]) -> str | None:
        """The first file that does not read in full (damage past the footer shows only when the data is read)."""
        for file in files:
            try:
                pq.read_table(file)
            except Exception as exc:  # see _check_partition
                return f"{file}: corrupt Parquet file ({exc})"
        return None

    def _records(self, model: Names, variant: Names, shift: Names, severity: Severities, columns: str,
                 with_source: bool = True) -> tuple[str, list[str]]:
        """SQL of the selected prediction records (a subquery; the clean rows always kept) and its files."""
        levels = filters.levels(severity)
        files = self._select("predictions", model, variant, shift, None, with_source)
        relation = self._relation(files, f"model, variant, shift, {columns}")
        if levels is None:
            return relation, files
        return f"(SELECT * FROM {relation} WHERE severity IN (0, {', '.join(map(str, levels))}))", files

    def records(self, model: Names = None, variant: Names = None, shift: Names = None, severity: Severities = None,
                method: str | None = None) -> pd.DataFrame:
        """The records themselves: keys, label, prediction, confidence, true_prob, correct, the OOD scores (msp,
        max_logit, energy), and with ``method`` its target and drift (iou, spearman, pearson, ssim: a column per
        registered drift measure). No clean rows are added."""
        columns = ", ".join(prediction_schema().names)
        rel, files = self._records(model, variant, shift, severity, columns, with_source=False)
        select, join = "p.*", ""
        if method is not None:
            attr = self._select("attributions", model, variant, shift, self._method(method), False)
            files += attr
            select = f"p.*, a.target, {_drift('a.')}"
            drift = self._relation(attr, f"model, variant, shift, severity, seed, image, target, {_drift()}")
            join = f"LEFT JOIN {drift} a USING (model, variant, shift, severity, seed, image)"
        sql = f"SELECT {select} FROM {rel} p {join} ORDER BY {KEYS}, seed, image"
        return self._query(sql, None, files)

    def _has(self, product: str) -> bool:
        """Whether the sweep records ``product`` (``plan.PRODUCTS``) for its methods."""
        return bool(self.plan.methods) and product in self.plan.products

    def _method(self, method: str | None) -> str:
        if self.plan.methods and not self._has("attributions"):
            raise SweepStoreError(f"{self.root}: the sweep recorded {', '.join(self.plan.products)} of its methods, "
                                  "not their attributions (add --products attributions)")
        if method is None:
            if not self.plan.methods:
                raise SweepStoreError(f"{self.root}: the sweep recorded no attribution method")
            return self.plan.methods[0]
        if method not in self.plan.methods:
            raise ParameterError(f"the sweep recorded attributions by {', '.join(self.plan.methods) or 'no method'}, "
                                 f"not {method!r}")
        return method

    # --- the app's questions --------------------------------------------------------------------------------
    def accuracy(self, model: Names = None, variant: Names = None, shift: Names = None,
                 severity: Severities = None, n_bins: int = 15) -> pd.DataFrame:
        """Per (model, variant, shift, severity), the clean rows (source, 0) included: n, accuracy, mean
        confidence, mean true-class probability, NLL and ECE (``n_bins`` equal-width bins, right-closed)."""
        rel, files = self._records(model, variant, shift, severity, "severity, confidence, true_prob, correct")
        sql = f"""
            WITH r AS (SELECT *, {self._bin(n_bins)} AS bin FROM {rel}),
            b AS (SELECT {KEYS}, bin, count(*) AS n, avg(confidence::DOUBLE) AS conf, avg(correct::DOUBLE) AS acc
                  FROM r GROUP BY ALL),
            e AS (SELECT {KEYS}, sum(n * abs(acc - conf)) / sum(n) AS ece FROM b GROUP BY ALL)
            SELECT {KEYS}, count(*) AS n, avg(correct::DOUBLE) AS accuracy, avg(confidence::DOUBLE) AS confidence,
                   avg(true_prob::DOUBLE) AS true_prob, -avg(ln(greatest(true_prob::DOUBLE, 1e-45))) AS nll, e.ece
            FROM r JOIN e USING ({KEYS}) GROUP BY ALL ORDER BY {KEYS}"""
        return self._query(sql, None, files)

    @staticmethod
    def _bin(n_bins: int) -> str:
        """The reliability bin of a confidence: bin b holds (b/n, (b+1)/n], as ``shiftlab.metrics.reliability_bins``."""
        if not filters.is_int(n_bins) or not 1 <= n_bins <= MAX_BINS:
            raise ParameterError(f"n_bins must be a whole number from 1 to {MAX_BINS}, got {n_bins!r}")
        return f"least(greatest(ceil(confidence::DOUBLE * {n_bins})::INTEGER - 1, 0), {n_bins - 1})"

    def reliability(self, model: Names = None, variant: Names = None, shift: Names = None,
                    severity: Severities = None, n_bins: int = 15) -> pd.DataFrame:
        """Reliability-diagram bins per (model, variant, shift, severity): bin, lower, upper, count, confidence
        (mean), accuracy; only the bins that hold records."""
        rel, files = self._records(model, variant, shift, severity, "severity, confidence, correct")
        sql = f"""
            SELECT {KEYS}, {self._bin(n_bins)} AS bin, bin / {n_bins}.0 AS lower, (bin + 1) / {n_bins}.0 AS upper,
                   count(*) AS count, avg(confidence::DOUBLE) AS confidence, avg(correct::DOUBLE) AS accuracy
            FROM {rel} GROUP BY ALL ORDER BY {KEYS}, bin"""
        return self._query(sql, None, files)

    def cases(self, kind: str = "flips", order_by: str = "confidence_drop", model: Names = None, variant: Names = None,
              shift: Names = None, severity: Severities = None, method: str | None = None, threshold: float = 0.9,
              limit: int | None = 100) -> pd.DataFrame:
        """Shifted records next to the same image's clean record, most telling first.

        ``kind``: ``flips`` (right when clean, wrong shifted), ``fixes`` (the
        reverse), ``confidently_wrong`` (wrong with confidence >= ``threshold``)
        or ``all``. ``order_by``: ``confidence_drop`` (clean minus shifted
        true-class probability), ``drift`` (lowest top-10 % IoU of ``method``'s
        maps first) or ``confidence``. Columns: model, variant, shift, severity,
        seed, image, label, clean_prediction, prediction, clean_confidence,
        confidence, clean_true_prob, true_prob, confidence_drop, and the
        method's iou and spearman (null without attributions).
        """
        if not isinstance(kind, str) or not isinstance(order_by, str) or kind not in KINDS or order_by not in ORDERS:
            raise ParameterError(f"kind is one of {', '.join(KINDS)} and order_by one of {', '.join(ORDERS)}; "
                                 f"got {kind!r:.40}, {order_by!r:.40}")
        if limit is not None and (not filters.is_int(limit) or limit < 0):
            raise ParameterError(f"limit is a whole number >= 0 or None, got {limit!r:.40}")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise ParameterError(f"threshold is a confidence from 0 to 1, got {threshold!r:.40}")
        columns = "severity, seed, image, label, prediction, confidence, true_prob, correct"
        rel, files = self._records(model, variant, shift, severity, columns)
        drift = ", ".join(f"NULL::FLOAT AS {column}" for column in CASE_DRIFT)
        join = ""
        if method is not None or order_by == "drift" or self._has("attributions"):
            name = self._method(method)
            attr = self._select("attributions", model, variant, shift, name, False)
            files += attr
            drift = ", ".join(f"a.{column}" for column in CASE_DRIFT)
            relation = self._relation(attr, f"model, variant, shift, severity, seed, image, {', '.join(CASE_DRIFT)}")
            join = (f"LEFT JOIN {relation} a "
                    "ON a.model = s.model AND a.variant = s.variant AND a.shift = s.shift AND a.severity = s.severity "
                    "AND a.seed = s.seed AND a.image = s.image")
        sql = f"""
            WITH p AS (SELECT * FROM {rel}),
            c AS (SELECT * FROM p WHERE shift = '{SOURCE}'), s AS (SELECT * FROM p WHERE shift <> '{SOURCE}')
            SELECT s.model, s.variant, s.shift, s.severity, s.seed, s.image, s.label, c.prediction AS clean_prediction,
                   s.prediction, c.confidence AS clean_confidence, s.confidence, c.true_prob AS clean_true_prob,
                   s.true_prob, c.true_prob::DOUBLE - s.true_prob::DOUBLE AS confidence_drop, {drift}
            FROM s JOIN c ON c.model = s.model AND c.variant = s.variant AND c.image = s.image {join}
            WHERE {KINDS[kind]}
            ORDER BY {ORDERS[order_by]}, model, variant, shift, severity, seed, image
            {'' if limit is None else f'LIMIT {int(limit)}'}"""
        return self._query(sql, {"threshold": float(threshold)} if kind == "confidently_wrong" else None, files)

    def _measured(self, method: Names) -> list[str]:
        """The methods whose faithfulness a query reads, in the plan's order: ``method`` (a name or a list) or every
        one; ``SweepStoreError`` when the sweep recorded no faithfulness."""
        if not self._has("faithfulness"):
            raise SweepStoreError(f"{self.root}: the sweep recorded no faithfulness (run it with --products "
                                  "faithfulness --methods METHOD)")
        names = filters.names(method, "method")
        unknown = sorted(names - set(self.plan.methods)) if names is not None else []
        if unknown:
            raise ParameterError(f"the sweep measured the faithfulness of {', '.join(self.plan.methods)}, "
                                 f"not {unknown[0]!r}")
        return [name for name in self.plan.methods if names is None or name in names]

    def faithfulness(self, model: Names = None, variant: Names = None, shift: Names = None,
                     severity: Severities = None, method: Names = None) -> pd.DataFrame:
        """Each image's faithfulness records (a sweep with ``--products faithfulness``), the clean rows (source, 0)
        included: model, variant, shift, severity, seed, method, image, target (the clean image's predicted class,
        which every map explains), deletion_auc, insertion_auc, random_deletion_auc, random_insertion_auc, and ROAD's
        probabilities road_morf_P and road_lerf_P (``records.road_columns``), in that order of rows too. ``method``
        is a name or a list of names (default: every method of the sweep)."""
        levels = filters.levels(severity)
        files = [f for name in self._measured(method) for f in self._select("faithfulness", model, variant, shift,
                                                                             name, True)]
        order = "model, variant, shift, severity, seed, method, image"
        # the files' own columns after the keys (the schema's, in its order): naming them from
        # faithfulness_schema would import the metrics (torchvision, about a second) into a page that reads them
        rel = self._relation(files, f"{order}, * EXCLUDE ({order})")
        where = "" if levels is None else f"WHERE severity IN (0, {', '.join(map(str, levels))})"
        return self._query(f"SELECT * FROM {rel} {where} ORDER BY {order}", None, files)

    def ood_auroc(self, score: str = "energy", model: Names = None, variant: Names = None, shift: Names = None,
                  severity: Severities = None) -> pd.DataFrame:
        """AUROC of telling each (model, variant, shift, severity)'s shifted images from the clean ones by ``score``
        (msp, max_logit or energy; higher = more shifted), ties counted half: model, variant, shift, severity,
        n_in, n_out, auroc."""
        if not isinstance(score, str) or score not in OOD_SCORES:
            raise ParameterError(f"score is one of {', '.join(OOD_SCORES)}, got {score!r}")
        rel, files = self._records(model, variant, shift, severity, f"severity, image, {score} AS score")
        sql = f"""
            WITH p AS (SELECT * FROM {rel}),
            g AS (SELECT DISTINCT {KEYS} FROM p WHERE shift <> '{SOURCE}'),
            u AS (SELECT g.model, g.variant, g.shift, g.severity, 0 AS is_out, c.score
                  FROM g JOIN p c ON c.model = g.model AND c.variant = g.variant AND c.shift = '{SOURCE}'
                  UNION ALL SELECT {KEYS}, 1, score FROM p WHERE shift <> '{SOURCE}'),
            r AS (SELECT *, rank() OVER (PARTITION BY {KEYS} ORDER BY score)
                            + (count(*) OVER (PARTITION BY {KEYS}, score) - 1) / 2.0 AS rnk FROM u)
            SELECT {KEYS}, (count(*) - sum(is_out))::BIGINT AS n_in, sum(is_out)::BIGINT AS n_out,
                   (sum(rnk * is_out) - sum(is_out) * (sum(is_out) + 1) / 2.0)
                   / ((count(*) - sum(is_out)) * sum(is_out)) AS auroc
            FROM r GROUP BY ALL ORDER BY {KEYS}"""
        return self._query(sql, None, files)

    def maps(self, model: str, variant: str, shift: str, severity: int, method: str | None = None, seed: int = 0,
             images: Sequence[int] | None = None) -> pd.DataFrame:
        """The stored maps of one view, image by image: image, target, the drift columns, ``map``
        (a float32 H×W array) and ``details`` (the method's per-image figures, a dict of arrays, see
        ``records.encode_details``). ``SweepStoreError`` when the sweep did not store maps."""
        if not all(isinstance(v, str) for v in (model, variant, shift)) or not filters.is_int(severity) \
                or not filters.is_int(seed) or seed not in SEED_RANGE:
            raise ParameterError(f"maps takes a model, variant and shift name, a severity and a seed, got "
                                 f"{model!r:.40}, {variant!r:.40}, {shift!r:.40}, {severity!r:.20}, {seed!r:.20}")
        if images is not None and (isinstance(images, str) or not isinstance(images, Sequence | np.ndarray)
                                   or not all(filters.is_int(i) for i in images)):
            raise ParameterError(f"images is a list of image indices or None, got {images!r:.80}")
        name = self._method(method)
        files = self._select("attributions", model, variant, shift, name, False)
        if not files:
            raise SweepStoreError(f"{self.root}: no {name} attributions for {model}/{variant} {shift}")
        rel = self._relation(files, f"severity, seed, image, target, {_drift()}, map, map_size, details")
        where = "severity = $severity AND seed = $seed"
        where += "" if images is None else " AND list_contains($images, image)"
        params = {"severity": int(severity), "seed": int(0 if shift == SOURCE else seed)}
        if images is not None:
            params["images"] = [int(i) for i in images]
        frame = self._query(f"SELECT * EXCLUDE (severity, seed) FROM {rel} WHERE {where} ORDER BY image", params, files)
        if frame["map"].isna().any() or (frame["map_size"] == 0).any():
            raise SweepStoreError(f"{files[0]}: the sweep did not store {name} maps (run it with --store-maps)")
        frame["map"] = [decode_map(blob, int(size)) for blob, size in zip(frame["map"], frame["map_size"])]
        frame["details"] = [decode_details(blob) for blob in frame["details"]]
        return frame.drop(columns="map_size")

    def sql(self, query: str, model: Names = None, variant: Names = None, shift: Names = None,
            method: str | None = None) -> pd.DataFrame:
        """Any SQL over the views ``predictions``, (with attributions) ``attributions`` and (with faithfulness)
        ``faithfulness`` of the selected partitions: ``attributions`` holds one method's records (``method``, default
        the first), ``faithfulness`` every method's (or ``method``'s).

        The query runs in a DuckDB database of its own that holds only those
        views (the partitions' files read through pyarrow), with external
        access disabled and the configuration locked: ``read_csv('/etc/passwd')``,
        ``COPY ... TO``, ``ATTACH`` or ``INSTALL`` are a ``ParameterError``. It is
        bounded too: at most ``SQL_MAX_ROWS`` rows back, ``SQL_SECONDS`` of work
        and ``SQL_MEMORY`` of DuckDB memory, without spilling to disk; past
        any of them it stops with a ``ParameterError``.
        """
        if not isinstance(query, str):
            raise ParameterError(f"sql takes the query as a string, got {query!r:.80}")
        files = self._select("predictions", model, variant, shift, None, True)
        views = {"predictions": self._dataset("predictions", files, prediction_schema(), ("model", "shift", "variant"))}
        hive = ("method", "model", "shift", "variant")
        if self._has("attributions"):
            attr = self._select("attributions", model, variant, shift, self._method(method), True)
            kept = pa.schema([f for f in attribution_schema() if f.name not in ("map", "details")])
            views["attributions"] = self._dataset("attributions", attr, kept, hive)
            files += attr
        if self._has("faithfulness"):
            measured = [f for name in self._measured(method) for f in self._select("faithfulness", model, variant,
                                                                                  shift, name, True)]
            views["faithfulness"] = self._dataset("faithfulness", measured, faithfulness_schema(), hive)
            files += measured
        with sandbox(views) as connection:
            return self._query(query, {}, files, connection)

    def _dataset(self, product: str, files: list[str], schema: pa.Schema, keys: tuple[str, ...]) -> ds.Dataset:
        """``files`` of one product as a pyarrow dataset of ``schema``'s columns and the folder names' ``keys``."""
        if not files:
            raise SweepStoreError(f"{self.root}: the sweep holds no partition matching the filters")
        hive = pa.schema([(key, pa.string()) for key in keys])
        return ds.dataset(files, schema=pa.unify_schemas([schema, hive]), format="parquet",
                          partitioning=ds.partitioning(hive, flavor="hive"),
                          partition_base_dir=str(self.root / product))

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> SweepResults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(path: str | os.PathLike) -> SweepResults:  # noqa: A001 - the store's natural verb, as in builtins.open
    """Open the sweep folder ``path`` (it holds ``sweep.json``); ``SweepStoreError`` when it is not one or its
    ``sweep.json`` is corrupt, ``ParameterError`` when ``path`` is not a path."""
    text = os.fspath(path) if isinstance(path, str | os.PathLike) else None
    if not isinstance(text, str) or not text.strip() or "\0" in text:
        raise ParameterError(f"results.open takes the path of a sweep folder, got {path!r:.100}")
    root = Path(text)
    try:
        plan = read_plan(root) if root.is_dir() else None
    except PermissionError as exc:
        raise SweepStoreError(f"{root}: cannot be read ({exc.strerror})") from None
    if plan is None:
        raise SweepStoreError(f"{root}: not a sweep folder (no {MANIFEST}); make one with "
                              f"`shiftlab sweep --out {root}`")
    return SweepResults(root, plan)


def stack_maps(frame: pd.DataFrame) -> np.ndarray:
    """The ``map`` column of ``SweepResults.maps`` as one N×H×W float32 array."""
    return np.stack(list(frame["map"])) if len(frame) else np.zeros((0, 0, 0), np.float32)
