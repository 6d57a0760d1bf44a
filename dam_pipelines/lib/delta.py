"""Small, tested helpers over ``deltalake`` (delta-rs): the only place the dam writes Delta.

Reads go through polars' parquet scanner over the table's live files (hive-style partition
folders), never through deltalake's threaded scan, which can abort the process at exit
(delta-rs issue 2184).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake

#: Explicit writer properties: zstd, moderate row groups, statistics only where configured.
WRITER = WriterProperties(compression="ZSTD", compression_level=3, max_row_group_size=256_000)


def exists(path: Path) -> bool:
    return DeltaTable.is_deltatable(str(path))


def _arrow(df: pl.DataFrame) -> pa.Table:
    # Large string/binary views are what delta-rs handles best; compat_level keeps them plain.
    return df.to_arrow(compat_level=pl.CompatLevel.oldest())


def sql_literal(value: Any) -> str:
    """Quote a value for a delta-rs predicate (only for non-identifying values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("'", "''")
    return f"'{text}'"


def table_config(stats_columns: Sequence[str] | None = None, **extra: str) -> dict[str, str]:
    """Table properties for a new table.

    ``stats_columns`` restricts the min/max statistics kept in the Delta log to those columns,
    so that no key of a person (gcid, customer numbers) is copied into the log.
    """
    config: dict[str, str] = {}
    if stats_columns is not None:
        config["delta.dataSkippingStatsColumns"] = ",".join(stats_columns)
    config.update(extra)
    return config


def replace_where(
    path: Path,
    df: pl.DataFrame,
    predicate: str,
    *,
    partition_by: Sequence[str] | None = None,
    configuration: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> int:
    """Atomically replace the rows matching ``predicate`` with ``df``; create the table if new.

    Every row of ``df`` must satisfy ``predicate`` (delta-rs checks it). Returns the new version.
    """
    commit = CommitProperties(custom_metadata={k: str(v) for k, v in (metadata or {}).items()})
    if not exists(path):
        path.mkdir(parents=True, exist_ok=True)
        write_deltalake(
            str(path), _arrow(df), mode="overwrite", partition_by=list(partition_by or []) or None,
            configuration=dict(configuration or {}), writer_properties=WRITER,
            commit_properties=commit,
        )
    else:
        write_deltalake(
            str(path), _arrow(df), mode="overwrite", predicate=predicate,
            writer_properties=WRITER, commit_properties=commit, schema_mode=None,
        )
    return DeltaTable(str(path)).version()


def overwrite(
    path: Path,
    df: pl.DataFrame,
    *,
    partition_by: Sequence[str] | None = None,
    configuration: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> int:
    """Replace the whole table content with ``df`` (schema replaced too). Returns the version."""
    commit = CommitProperties(custom_metadata={k: str(v) for k, v in (metadata or {}).items()})
    path.mkdir(parents=True, exist_ok=True)
    write_deltalake(
        str(path), _arrow(df), mode="overwrite", schema_mode="overwrite",
        partition_by=list(partition_by or []) or None,
        configuration=dict(configuration or {}) if not exists(path) else None,
        writer_properties=WRITER, commit_properties=commit,
    )
    return DeltaTable(str(path)).version()


def append(
    path: Path,
    df: pl.DataFrame,
    *,
    partition_by: Sequence[str] | None = None,
    configuration: Mapping[str, str] | None = None,
) -> int:
    path.mkdir(parents=True, exist_ok=True)
    new = not exists(path)
    write_deltalake(
        str(path), _arrow(df), mode="append",
        partition_by=(list(partition_by or []) or None) if new else None,
        configuration=dict(configuration or {}) if new else None,
        writer_properties=WRITER,
    )
    return DeltaTable(str(path)).version()


def upsert(
    path: Path,
    df: pl.DataFrame,
    keys: Sequence[str],
    *,
    partition_by: Sequence[str] | None = None,
    configuration: Mapping[str, str] | None = None,
    extra_predicate: str | None = None,
) -> int:
    """Merge ``df`` into the table on ``keys`` (update matched, insert new); create if new.

    ``extra_predicate`` (on target ``t``) narrows the target scan, e.g. to a partition range.
    """
    if not exists(path):
        return replace_where(path, df, "true", partition_by=partition_by, configuration=configuration)
    cond = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    if extra_predicate:
        cond = f"{cond} AND {extra_predicate}"
    (
        DeltaTable(str(path))
        .merge(_arrow(df), predicate=cond, source_alias="s", target_alias="t",
               writer_properties=WRITER, streamed_exec=False)
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    return DeltaTable(str(path)).version()


def version(path: Path) -> int | None:
    return DeltaTable(str(path)).version() if exists(path) else None


def scan(path: Path, schema_hint: Mapping[str, pl.DataType] | None = None) -> pl.LazyFrame | None:
    """Lazily scan the live files of a Delta table (partition columns included), or None."""
    if not exists(path):
        return None
    dt = DeltaTable(str(path))
    files = dt.file_uris()
    arrow_schema = pa.schema(dt.schema().to_arrow())
    empty = pl.from_arrow(arrow_schema.empty_table())
    assert isinstance(empty, pl.DataFrame)
    if not files:
        return empty.lazy()
    partition_cols = dt.metadata().partition_columns
    lf = pl.scan_parquet(
        files,
        hive_partitioning=bool(partition_cols),
        hive_schema={c: empty.schema[c] for c in partition_cols} if partition_cols else None,
        missing_columns="insert",
        extra_columns="ignore",
        schema={**empty.schema, **(schema_hint or {})} if not partition_cols else None,
    )
    return lf.select(empty.columns)


def read(path: Path, filter_expr: pl.Expr | None = None) -> pl.DataFrame | None:
    lf = scan(path)
    if lf is None:
        return None
    if filter_expr is not None:
        lf = lf.filter(filter_expr)
    return lf.collect()


def history_operations(path: Path) -> list[str]:
    return [h.get("operation", "") for h in DeltaTable(str(path)).history()]
