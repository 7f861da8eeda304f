"""The DuckDB database a user's own SQL runs in (``SweepResults.sql``): it sees only the views it is given, cannot
reach a file, an extension or another database, and is bounded in rows, time and memory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd
import pyarrow.dataset as ds

from shiftlab.errors import ParameterError

#: bounds of a query ``sql`` was given: rows returned, seconds of work, DuckDB's memory (no spilling to disk)
SQL_MAX_ROWS = 5_000_000
SQL_SECONDS = 60
SQL_MEMORY = "2GB"
#: the DuckDB errors of a query ``sql`` was given (not of the store's files): reported as ``ParameterError``
QUERY_ERRORS = (duckdb.PermissionException, duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)


@contextmanager
def sandbox(views: dict[str, ds.Dataset]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB database of its own holding only ``views`` (name -> pyarrow dataset), with external access
    disabled (no file, COPY, ATTACH or extension), ``SQL_MEMORY`` of memory without spilling to disk, and the
    configuration locked so that a query cannot undo any of it."""
    with duckdb.connect() as connection:
        for name, dataset in views.items():
            connection.register(name, dataset)
        connection.execute(f"SET memory_limit = '{SQL_MEMORY}'")
        connection.execute("SET temp_directory = ''")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        yield connection


def bounded_frame(connection: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """The rows of a user's query, streamed in chunks: a ``ParameterError`` past ``SQL_MAX_ROWS`` rows, and the
    query interrupted after ``SQL_SECONDS`` (DuckDB has no statement timeout of its own)."""
    timer = threading.Timer(SQL_SECONDS, connection.interrupt)
    timer.start()
    try:
        result = connection.execute(sql)
        chunks = [result.fetch_df_chunk(64)]  # 64 vectors of 2,048 rows a chunk
        rows = len(chunks[0])
        while len(chunks[-1]) and rows <= SQL_MAX_ROWS:
            chunks.append(result.fetch_df_chunk(64))
            rows += len(chunks[-1])
        if rows > SQL_MAX_ROWS:
            raise ParameterError(f"the query returns more than {SQL_MAX_ROWS:,} rows: aggregate it or add a LIMIT")
        frames = [chunk for chunk in chunks if len(chunk)] or chunks[:1]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    except duckdb.InterruptException:
        raise ParameterError(f"the query took longer than {SQL_SECONDS} s and was stopped") from None
    except duckdb.OutOfMemoryException:
        raise ParameterError(f"the query needs more than {SQL_MEMORY} of memory: aggregate it or add a LIMIT") from None
    finally:
        timer.cancel()
