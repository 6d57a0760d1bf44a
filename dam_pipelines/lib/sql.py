"""`dam sql`: DuckDB over every published Delta table, one view per table."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.tables import find_tables, view_name
from dam_pipelines.settings import Settings

_DUCK = {pl.Utf8: "VARCHAR", pl.Date: "DATE", pl.Int64: "BIGINT", pl.Int32: "INTEGER"}


def parquet_source(path: Path, files: Sequence[str] | None = None) -> str | None:
    """A DuckDB ``read_parquet(...)`` over live data files of the Delta table at ``path`` (all
    of them by default), partition columns typed from the folder names; None without files."""
    files = delta.file_paths(path) if files is None else files
    if not files:
        return None
    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    parts = delta.partition_columns(path)
    hive = "hive_partitioning = false"
    if parts:
        schema_of = delta.empty_frame(path).schema
        types = ", ".join(f"'{c}': '{_DUCK.get(schema_of[c], 'VARCHAR')}'" for c in parts)
        hive = f"hive_partitioning = true, hive_types = {{{types}}}"
    return f"read_parquet([{listing}], {hive}, union_by_name = true)"


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view ``<layer>.<table>`` for each table of the warehouse.

    Views scan the live parquet files of the current Delta version lazily (partition columns
    from the folder names), so queries read only what they need.
    """
    con = duckdb.connect()
    for key, path in find_tables(warehouse).items():
        schema, name = view_name(key)
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        source = parquet_source(path)
        if source is not None:
            con.execute(f'CREATE VIEW "{schema}"."{name}" AS SELECT * FROM {source}')
        else:
            empty = delta.empty_frame(path)
            con.register(f"__{schema}_{name}", empty.to_arrow())
            con.execute(f'CREATE VIEW "{schema}"."{name}" AS SELECT * FROM "__{schema}_{name}"')
    return con


def run_sql(
    settings: Settings,
    query: str,
    *,
    fmt: str = "table",
    output: str | None = None,
    out: Callable[[str], None] = print,
) -> int:
    con = connect(settings.warehouse_dir)
    try:
        rel = con.sql(query)
    except duckdb.Error as exc:
        print(f"dam sql: {exc}", file=sys.stderr)
        return 1
    if rel is None:
        return 0
    df = rel.pl()
    if fmt == "table":
        import polars as pl

        with pl.Config(tbl_rows=50, tbl_cols=-1, fmt_str_lengths=70, tbl_width_chars=200):
            out(str(df))
    elif fmt == "csv":
        if output:
            df.write_csv(output)
        else:
            sys.stdout.write(df.write_csv())
    else:
        if not output:
            print("dam sql: --format parquet needs --output FILE", file=sys.stderr)
            return 2
        df.write_parquet(output)
    return 0
