"""Small, tested helpers over ``deltalake`` (delta-rs): the only place the dam writes Delta.

Reads go through polars' parquet scanner over the table's live files (hive-style partition
folders), never through deltalake's threaded scan, which can abort the process at exit
(delta-rs issue 2184).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import (
    ColumnProperties,
    CommitProperties,
    DeltaTable,
    WriterProperties,
    write_deltalake,
)

#: Explicit writer properties: zstd, moderate row groups, statistics only where configured.
WRITER = WriterProperties(compression="ZSTD", compression_level=3, max_row_group_size=256_000)


def bulk_writer(
    plain_columns: Sequence[str] = (), *, page_statistics: bool = True
) -> WriterProperties:
    """Writer properties for large appends of fresh rows (bronze loads).

    zstd level 1, and no dictionary for ``plain_columns`` (columns of nearly unique values such
    as keys): measured on bronze batches, that writes about a fifth faster than :data:`WRITER`,
    and the files come out smaller and read faster, because a dictionary of unique values only
    costs hashing before the writer falls back to plain encoding anyway.

    Without ``page_statistics``, min/max are kept per column chunk only: the Delta log's file
    statistics and row-group pruning use those; the page index is read by none of the dam's
    readers (polars, DuckDB), and its per-page min/max cost about a tenth of the encoding time.
    """
    level = None if page_statistics else "CHUNK"  # None: the writer's default (PAGE)
    return WriterProperties(
        compression="ZSTD",
        compression_level=1,
        max_row_group_size=256_000,
        default_column_properties=ColumnProperties(statistics_enabled=level) if level else None,
        column_properties={
            c: ColumnProperties(dictionary_enabled=False, statistics_enabled=level)
            for c in plain_columns
        }
        or None,
    )


#: Writer properties for copy-on-write rewrites (MERGE and DELETE: erasure, retention, upserts):
#: the files they rewrite (mostly bronze, written with :func:`bulk_writer`) are rewritten
#: alike, zstd level 1 and column-chunk statistics (about a tenth faster than :data:`WRITER`
#: on a 90-partition snapshot table).
REWRITE = bulk_writer(page_statistics=False)


def _commit(metadata: Mapping[str, Any] | None) -> CommitProperties:
    """Commit properties carrying ``metadata`` (as text) into the commit info."""
    return CommitProperties(custom_metadata={k: str(v) for k, v in (metadata or {}).items()})


def exists(path: Path) -> bool:
    return DeltaTable.is_deltatable(str(path))


#: Rows converted to Arrow at a time when a frame is written (see :func:`_stream`).
STREAM_ROWS = 1_000_000


def _stream(df: pl.DataFrame) -> pa.RecordBatchReader:
    """``df`` as an Arrow stream converted a slice at a time: converting a whole frame copies
    every string column at once (a 14 M-row rollup month: about 1 GiB more at the peak),
    a slice at a time holds one slice's copy. The rows and their order are the frame's."""
    schema = _arrow(df.head(0)).schema
    batches = (batch for part in df.iter_slices(STREAM_ROWS) for batch in _arrow(part).to_batches())
    return pa.RecordBatchReader.from_batches(schema, batches)


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
    writer_properties: WriterProperties | None = None,
) -> int:
    """Atomically replace the rows matching ``predicate`` with ``df``; create the table if new.

    Every row of ``df`` must satisfy ``predicate`` (delta-rs checks it). Returns the new version.
    """
    writer = writer_properties or WRITER
    commit = _commit(metadata)
    if not exists(path):
        path.mkdir(parents=True, exist_ok=True)
        write_deltalake(
            str(path),
            _stream(df),
            mode="overwrite",
            partition_by=list(partition_by or []) or None,
            configuration=dict(configuration or {}),
            writer_properties=writer,
            commit_properties=commit,
        )
        return DeltaTable(str(path)).version()
    dt = DeltaTable(str(path))  # written through, so it knows the new version: no reload
    write_deltalake(
        dt,
        _stream(df),
        mode="overwrite",
        predicate=predicate,
        writer_properties=writer,
        commit_properties=commit,
        schema_mode=None,
    )
    return dt.version()


def overwrite(
    path: Path,
    df: pl.DataFrame,
    *,
    partition_by: Sequence[str] | None = None,
    configuration: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    writer_properties: WriterProperties | None = None,
) -> int:
    """Replace the whole table content with ``df`` (schema replaced too). Returns the version.

    ``configuration`` is the table's too when it exists: properties that differ are set first
    (one commit, none when all agree), so that a table whose layout changed keeps, from its
    first new file, the statistics columns declared for it (no key of a person in the log).
    """
    commit = _commit(metadata)
    if configuration and exists(path):
        current = DeltaTable(str(path)).metadata().configuration
        differing = {k: v for k, v in configuration.items() if current.get(k) != v}
        if differing:
            set_properties(path, differing)
    path.mkdir(parents=True, exist_ok=True)
    write_deltalake(
        str(path),
        _stream(df),
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=list(partition_by or []) or None,
        configuration=dict(configuration or {}) if not exists(path) else None,
        writer_properties=writer_properties or WRITER,
        commit_properties=commit,
    )
    return DeltaTable(str(path)).version()


def set_properties(path: Path, properties: Mapping[str, str]) -> None:
    """Set table properties of an existing table (one commit; no data file is touched)."""
    DeltaTable(str(path)).alter.set_table_properties(dict(properties), raise_if_not_exists=False)


def append(
    path: Path,
    df: pl.DataFrame,
    *,
    partition_by: Sequence[str] | None = None,
    configuration: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> int:
    path.mkdir(parents=True, exist_ok=True)
    new = not exists(path)
    write_deltalake(
        str(path),
        _stream(df),
        mode="append",
        partition_by=(list(partition_by or []) or None) if new else None,
        configuration=dict(configuration or {}) if new else None,
        writer_properties=WRITER,
        commit_properties=_commit(metadata),
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
        return replace_where(
            path, df, "true", partition_by=partition_by, configuration=configuration
        )
    cond = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    if extra_predicate:
        cond = f"{cond} AND {extra_predicate}"
    (
        DeltaTable(str(path))
        .merge(
            _arrow(df),
            predicate=cond,
            source_alias="s",
            target_alias="t",
            writer_properties=REWRITE,
            streamed_exec=False,
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    return DeltaTable(str(path)).version()


def version(path: Path) -> int | None:
    return DeltaTable(str(path)).version() if exists(path) else None


def _empty(dt: DeltaTable) -> pl.DataFrame:
    """A zero-row frame with the table's schema.

    Built from an empty list of batches: ``Schema.empty_table()`` makes pyarrow import pandas
    (about 0.2 s, paid by the first read of a process, e.g. every night's ingestion).
    """
    empty = pl.from_arrow(pa.Table.from_batches([], schema=pa.schema(dt.schema().to_arrow())))
    assert isinstance(empty, pl.DataFrame)
    return empty


def scan(path: Path, schema_hint: Mapping[str, pl.DataType] | None = None) -> pl.LazyFrame | None:
    """Lazily scan the live files of a Delta table (partition columns included), or None."""
    if not exists(path):
        return None
    dt = DeltaTable(str(path))
    files = dt.file_uris()
    empty = _empty(dt)
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


def _add_actions(dt: DeltaTable) -> dict[str, list[Any]]:
    """The live files of the table's current version as columns: ``path``, and per file its
    ``partition.<column>`` values and ``min.`` / ``max.`` / ``null_count.`` statistics."""
    return pa.table(dt.get_add_actions(flatten=True)).to_pydict()


def partition_files(path: Path, column: str) -> dict[str, list[str]]:
    """Live data files of a table partitioned by ``column``: partition value (text) -> paths.

    The paths are relative to the table root and unique per write, so the sorted list is a
    cheap fingerprint of a partition's content (any rewrite changes it).
    """
    if not exists(path):
        return {}
    actions = _add_actions(DeltaTable(str(path)))
    values = actions.get(f"partition.{column}", [None] * len(actions.get("path", [])))
    out: dict[str, list[str]] = {}
    for value, file in zip(values, actions.get("path", []), strict=True):
        out.setdefault(str(value), []).append(file)
    return {k: sorted(v) for k, v in out.items()}


def scan_partitions(path: Path, column: str, values: Sequence[str]) -> pl.LazyFrame | None:
    """Like :func:`scan`, but over the live files of the listed partitions of ``column`` only."""
    if not exists(path):
        return None
    wanted = set(values)
    files = [
        file
        for value, paths in partition_files(path, column).items()
        if value in wanted
        for file in paths
    ]
    return scan_files(path, files)


def scan_files(path: Path, files: Sequence[str]) -> pl.LazyFrame | None:
    """Like :func:`scan`, but over the listed live files (paths relative to the table root,
    as :func:`partition_files` lists them) only."""
    if not exists(path):
        return None
    return _scan_files(path, DeltaTable(str(path)), files)


def scan_holding(path: Path, column: str, values: Sequence[Any]) -> pl.LazyFrame | None:
    """Like :func:`scan`, but over the live files that may hold a row whose ``column`` is one
    of ``values`` by their statistics in the log (min/max; a file without them is kept).

    The rows are not filtered: the caller filters (the files hold other values too).
    """
    if not exists(path):
        return None
    dt = DeltaTable(str(path))
    actions = _add_actions(dt)
    paths = actions.get("path", [])
    lows = actions.get(f"min.{column}", [None] * len(paths))
    highs = actions.get(f"max.{column}", [None] * len(paths))
    files = [
        file
        for file, lo, hi in zip(paths, lows, highs, strict=True)
        if lo is None or hi is None or any(lo <= v <= hi for v in values)
    ]
    return _scan_files(path, dt, files)


def may_hold_before(path: Path, column: str, day: date) -> bool:
    """Whether a live file of the table at ``path`` may hold a row whose date (or date text,
    or timestamp) ``column`` is before ``day``, by the log alone: the file's partition value,
    else its minimum statistic; a file with neither may. No table: False."""
    if not exists(path):
        return False
    actions = _add_actions(DeltaTable(str(path)))
    paths = actions.get("path", [])
    lows = actions.get(f"partition.{column}") or actions.get(f"min.{column}") or [None] * len(paths)
    bound = day.isoformat()
    return any(low is None or str(low)[:10] < bound for low in lows)


def _scan_files(path: Path, dt: DeltaTable, files: Sequence[str]) -> pl.LazyFrame:
    """Scan the given live files (paths relative to the table root), partition columns
    from the folder names, in the table's column order."""
    empty = _empty(dt)
    if not files:
        return empty.lazy()
    partition_cols = dt.metadata().partition_columns
    lf = pl.scan_parquet(
        [f"{str(path).rstrip('/')}/{file}" for file in files],
        hive_partitioning=bool(partition_cols),
        hive_schema={c: empty.schema[c] for c in partition_cols} if partition_cols else None,
        missing_columns="insert",
        extra_columns="ignore",
        schema=empty.schema if not partition_cols else None,
    )
    return lf.select(empty.columns)


# --- governance helpers (erasure and physical removal; see docs/governance.md) -------------


def merge_delete(path: Path, source: pl.DataFrame, predicate: str) -> dict[str, Any]:
    """Delete the target rows (alias ``t``) matching any row of ``source`` (alias ``s``).

    A MERGE against a purge list keeps the values to delete out of the commit log: only
    ``predicate`` (column names, no literals) is recorded, whereas a DELETE records its
    literal predicate. Returns delta-rs' merge metrics.
    """
    return (
        DeltaTable(str(path))
        .merge(
            _arrow(source),
            predicate=predicate,
            source_alias="s",
            target_alias="t",
            writer_properties=REWRITE,
            streamed_exec=False,
        )
        .when_matched_delete()
        .execute()
    )


def delete_where(path: Path, predicate: str) -> dict[str, Any]:
    """DELETE with a literal predicate: only for predicates free of identifiers (dates)."""
    return DeltaTable(str(path)).delete(predicate, writer_properties=REWRITE)


def log_files(path: Path) -> list[Path]:
    log = path / "_delta_log"
    return sorted(p for p in log.rglob("*") if p.is_file()) if log.is_dir() else []


def vacuum_now(path: Path) -> dict[str, Any]:
    """Physically remove every file the current version does not reference, then the log.

    ``vacuum`` runs for real (delta-rs defaults to a dry run), with a retention of 0 hours
    and ``full=True`` (also files no log entry mentions any more). Then a checkpoint is
    written and the log before it is cleaned with ``delta.logRetentionDuration`` lowered for
    the cleanup only (restored afterwards), so no old commit or its statistics survive and time
    travel to an older version is impossible. Callers must hold the warehouse lock.
    """
    table = str(path)
    dt = DeltaTable(table)
    before = dt.version()
    logs_before = {p.name for p in log_files(path)}
    on_disk = set(data_files_on_disk(path))
    # vacuum also lists tombstones whose file is already gone: report what left the disk
    dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True)
    removed = on_disk - set(data_files_on_disk(path))
    dt = DeltaTable(table)
    previous = dt.metadata().configuration.get("delta.logRetentionDuration")
    dt.alter.set_table_properties(
        {"delta.logRetentionDuration": "interval 0 seconds"}, raise_if_not_exists=False
    )
    dt = DeltaTable(table)
    dt.create_checkpoint()
    dt.cleanup_metadata()
    dt = DeltaTable(table)
    dt.alter.set_table_properties(
        {"delta.logRetentionDuration": previous or "interval 30 days"}, raise_if_not_exists=False
    )
    logs_after = {p.name for p in log_files(path)}
    return {
        "version_before": before,
        "version_after": DeltaTable(table).version(),
        "files_removed": sorted(removed),
        "log_files_removed": sorted(logs_before - logs_after),
    }


def data_files_on_disk(path: Path) -> list[str]:
    """Every parquet file under the table root outside the log, relative to the root."""
    return sorted(
        p.relative_to(path).as_posix()
        for p in path.rglob("*.parquet")
        if "_delta_log" not in p.relative_to(path).parts
    )


def live_files(path: Path) -> list[str]:
    """Data files referenced by the current version, relative to the table root."""
    from urllib.parse import unquote

    actions = _add_actions(DeltaTable(str(path)))
    return sorted(unquote(f) for f in actions.get("path", []))


def partition_columns(path: Path) -> list[str]:
    return list(DeltaTable(str(path)).metadata().partition_columns)


def empty_frame(path: Path) -> pl.DataFrame:
    """A zero-row frame with the table's schema."""
    return _empty(DeltaTable(str(path)))


def file_paths(path: Path) -> list[str]:
    """Absolute local paths of the current version's data files."""
    root = str(path).rstrip("/")
    return [f"{root}/{f}" for f in live_files(path)]
