"""Sweeps: models × shifts × severities × seeds × images into a Parquet store, and DuckDB queries over it.

``shiftlab.sweep.run.sweep`` (the ``shiftlab sweep`` command) computes a sweep
on the local engine or on Ray; ``shiftlab.sweep.results.open`` queries one;
``shiftlab.sweep.ship`` regenerates the stores shipped with the app
(``shipped_store()`` names their folder). docs/sweeps.md describes the layout.
"""
