"""Verification that erased data is gone: a scan of every data file and every Delta log.

Nothing is trusted: every parquet file under a table's folder (live or not) is read column by
column, and every file of its ``_delta_log`` (json commits, checkpoints, ``_last_checkpoint``)
is searched. The result names tables, files and counts, never a value of the subject.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dam_pipelines.lib import delta
from dam_pipelines.lib.governance.rules import Subject

#: Columns giving the business date of the batch a row came from, by preference.
LINEAGE_COLUMNS = ("business_date", "snapshot_date")
#: Window sums (``silver/card/window_spend``) mix batches: a row counts as a leftover when
#: its earliest batch lies on or before the subject's date (an erasure re-derives a subject's
#: rows from later batches only).
FIRST_BATCH_COLUMN = "first_business_date"


def _lineage(names: set[str]) -> str | None:
    return next((c for c in (*LINEAGE_COLUMNS, FIRST_BATCH_COLUMN) if c in names), None)


def _lineage_expr(name: str) -> pl.Expr:
    """A row's batch date as text (the date part)."""
    return pl.col(name).cast(pl.Utf8).str.slice(0, 10)


def _lineage_values(col: pl.Series, name: str) -> pl.Series:
    return col.to_frame(name).select(_lineage_expr(name)).to_series()


_BOUND = r"[^0-9A-Za-z_\-]"


@dataclass
class TableScan:
    table: str
    files_scanned: int = 0
    leftover_rows: int = 0  # rows of a subject from batches <= its date (customer_no match)
    column_hits: dict[str, int] = field(default_factory=dict)  # other columns naming a subject
    log_mentions: int = 0  # log entries naming a subject outside allowed statistics
    orphan_files: int = 0  # parquet files on disk the current version does not reference
    retained_rows: int = 0  # rows of a subject from later batches (new data, kept)
    token_files: int = 0  # files whose every text column was searched (targeted proofs)

    @property
    def clean(self) -> bool:
        return not (
            self.leftover_rows or self.column_hits or self.log_mentions or self.orphan_files
        )

    def describe(self) -> str:
        if self.clean:
            return f"{self.table}: clean ({self.files_scanned} files)"
        parts = []
        if self.leftover_rows:
            parts.append(f"{self.leftover_rows} leftover rows")
        if self.column_hits:
            parts.append(
                "matches in " + ",".join(f"{c}x{n}" for c, n in sorted(self.column_hits.items()))
            )
        if self.log_mentions:
            parts.append(f"{self.log_mentions} log mentions")
        if self.orphan_files:
            parts.append(f"{self.orphan_files} unreferenced files on disk")
        return f"{self.table}: " + "; ".join(parts)


@dataclass
class Proof:
    scans: list[TableScan] = field(default_factory=list)
    #: a night's erasure proof: the key column of every live file, every text column only of
    #: the files the erasure wrote and of the quarantine (the purge re-proves thoroughly)
    targeted: bool = False

    @property
    def verified(self) -> bool:
        return all(s.clean for s in self.scans)

    @property
    def files_scanned(self) -> int:
        return sum(s.files_scanned for s in self.scans)

    def detail(self) -> str:
        bad = [s.describe() for s in self.scans if not s.clean]
        retained = sum(s.retained_rows for s in self.scans)
        what = (
            f"the customer_no of {self.files_scanned} live data files, every text column of "
            f"{sum(s.token_files for s in self.scans)} files (those the erasure wrote and the "
            "quarantine's), and their logs"
            if self.targeted
            else f"{self.files_scanned} data files and their logs"
        )
        head = f"scanned {len(self.scans)} tables, {what}: " + (
            "nothing found" if not bad else "FOUND " + " | ".join(bad)
        )
        return head + (f"; {retained} rows from later batches kept as new data" if retained else "")


def _partition_values(rel: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in Path(rel).parts[:-1] if "=" in part)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _pattern(values: Iterable[str]) -> str:
    alts = "|".join(re.escape(v) for v in sorted(set(values), key=len, reverse=True))
    return f"(?:^|{_BOUND})({alts})(?:$|{_BOUND})"


def _column(pf: pq.ParquetFile, name: str, parts: dict[str, str], n: int) -> pl.Series:
    if name in pf.schema_arrow.names:
        s = pl.from_arrow(pf.read(columns=[name]).column(name))
        assert isinstance(s, pl.Series)
        return s.cast(pl.Utf8).alias(name)
    return pl.Series(name, [parts.get(name)] * n, dtype=pl.Utf8)


def scan_data_file(
    file: Path, rel: str, subjects: Sequence[Subject], scan: TableScan, *, affiliate_column: bool
) -> None:
    """Count rows of ``subjects`` from batches on or before their date in one parquet file.

    Every text column is read once and searched for every subject's number (Aho-Corasick);
    only the rows where some column contains one are examined further (keyed rows, then
    mentions as a whole token), so a file holding none of them costs one read.
    """
    pf = pq.ParquetFile(file)
    n = pf.metadata.num_rows
    scan.files_scanned += 1
    if n == 0:
        return
    parts = _partition_values(rel)
    schema = pf.schema_arrow
    names = set(schema.names) | set(parts)
    lineage_col = _lineage(names)
    text = [c for c in schema.names if _is_text(schema.field(c).type)]
    extra = {lineage_col, "customer_no", "affiliate"} & set(schema.names) - set(text)
    if not text:
        return
    frame = pl.from_arrow(pf.read(columns=[*text, *sorted(extra)]))
    assert isinstance(frame, pl.DataFrame)
    values = sorted({s.customer_no for s in subjects})
    hit = pl.any_horizontal([pl.col(c).str.contains_any(values) for c in text])
    frame = frame.with_row_index("_row").filter(hit.fill_null(False))
    if frame.height == 0:
        return
    m = frame.height

    def column(name: str) -> pl.Series:
        if name in frame.columns:
            return frame[name].cast(pl.Utf8).alias(name)
        return pl.Series(name, [parts.get(name)] * m, dtype=pl.Utf8)

    base = frame.select("_row")
    lineage = (
        _lineage_values(column(lineage_col), lineage_col)
        if lineage_col
        else pl.Series("lineage", [None] * m, dtype=pl.Utf8)
    )
    base = base.with_columns(lineage.alias("_lineage"))
    if affiliate_column and "affiliate" in names:
        base = base.with_columns(column("affiliate").alias("_affiliate"))
    else:
        base = base.with_columns(pl.lit(None, pl.Utf8).alias("_affiliate"))
    subj = _subject_frame(subjects)

    def of_subject(df: pl.DataFrame) -> pl.DataFrame:
        df = df.join(subj, on="_value", how="inner")
        return df.filter(pl.col("_affiliate").is_null() | (pl.col("_affiliate") == pl.col("_sa")))

    # 1. rows keyed by the subject's customer number
    if "customer_no" in names:
        keyed = of_subject(base.with_columns(column("customer_no").alias("_value")))
        old = keyed.filter(pl.col("_lineage").is_null() | (pl.col("_lineage") <= pl.col("_until")))
        scan.leftover_rows += old.height
        scan.retained_rows += keyed.height - old.height
        later = set(keyed.filter(pl.col("_lineage") > pl.col("_until"))["_row"].to_list())
    else:
        later = set()
    # 2. every text column, for any mention of a subject's number as a token (JSON records too)
    pattern = _pattern(values)
    for name in text:
        found = base.with_columns(column(name).str.extract(pattern, 1).alias("_value")).filter(
            pl.col("_value").is_not_null()
        )
        if found.height == 0:
            continue
        found = of_subject(found).filter(
            ~pl.col("_row").is_in(list(later))
            & (pl.col("_lineage").is_null() | (pl.col("_lineage") <= pl.col("_until")))
        )
        if name != "customer_no" and found.height:
            scan.column_hits[name] = scan.column_hits.get(name, 0) + found.height


def _log_entries(file: Path) -> Iterable[dict | str]:
    if file.suffix == ".json" and file.name[0].isdigit():
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    yield line
    elif file.suffix == ".parquet":
        yield from pq.read_table(file).to_pylist()
    else:
        yield file.read_bytes().decode("utf-8", errors="replace")


def scan_log(
    path: Path, subjects: Sequence[Subject], scan: TableScan, *, allow_stats: bool
) -> None:
    """Count log entries naming a subject. With ``allow_stats`` (the table keeps later rows of
    a subject), min/max statistics of live files are allowed to name it."""
    regex = re.compile(_pattern(s.customer_no for s in subjects))
    live = set(delta.live_files(path)) if allow_stats else set()
    for file in delta.log_files(path):
        for entry in _log_entries(file):
            text = entry if isinstance(entry, str) else json.dumps(entry, default=str)
            if not regex.search(text):
                continue
            if allow_stats and isinstance(entry, dict) and isinstance(entry.get("add"), dict):
                add = entry["add"]
                rest = json.dumps(
                    {k: v for k, v in add.items() if k not in ("stats", "stats_parsed")},
                    default=str,
                )
                if add.get("path") in live and not regex.search(rest):
                    continue
            scan.log_mentions += 1


def _subject_frame(subjects: Sequence[Subject]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_value": [s.customer_no for s in subjects],
            "_sa": [s.affiliate for s in subjects],
            "_until": [s.until.isoformat() for s in subjects],
        },
        schema={"_value": pl.Utf8, "_sa": pl.Utf8, "_until": pl.Utf8},
    )


def scan_keys(
    path: Path, subjects: Sequence[Subject], scan: TableScan, *, affiliate_column: bool
) -> None:
    """Count rows keyed by a subject (customer_no) in every live file of one table: one
    multi-threaded scan of the key and lineage columns."""
    lf = delta.scan(path)
    if lf is None:
        return
    scan.files_scanned += len(delta.live_files(path))
    names = lf.collect_schema().names()
    if "customer_no" not in names:
        return
    lineage_col = _lineage(set(names))
    cols = [pl.col("customer_no").cast(pl.Utf8).alias("_value")]
    cols.append(
        _lineage_expr(lineage_col).alias("_lineage")
        if lineage_col
        else pl.lit(None, pl.Utf8).alias("_lineage")
    )
    cols.append(
        pl.col("affiliate").cast(pl.Utf8).alias("_affiliate")
        if affiliate_column and "affiliate" in names
        else pl.lit(None, pl.Utf8).alias("_affiliate")
    )
    values = sorted({s.customer_no for s in subjects})
    found = (
        lf.filter(pl.col("customer_no").is_in(values))
        .select(cols)
        .collect()
        .join(_subject_frame(subjects), on="_value", how="inner")
        .filter(pl.col("_affiliate").is_null() | (pl.col("_affiliate") == pl.col("_sa")))
    )
    old = found.filter(pl.col("_lineage").is_null() | (pl.col("_lineage") <= pl.col("_until")))
    scan.leftover_rows += old.height
    scan.retained_rows += found.height - old.height


def scan_table(
    path: Path,
    table: str,
    subjects: Sequence[Subject],
    *,
    affiliate_column: bool = False,
    written: set[str] | None = None,
) -> TableScan:
    """Scan the data files and the whole log of one table for ``subjects``.

    Thorough (``written`` is None): every parquet file on disk, every text column. Targeted
    (a night's erasure, ``written`` = the files it wrote): the key column of every live file,
    every text column of the files in ``written`` (of every file for the quarantine, whose raw
    records are text). Both check that no unreferenced file is left on disk.
    """
    scan = TableScan(table)
    if not subjects or not delta.exists(path):
        return scan
    on_disk = delta.data_files_on_disk(path)
    scan.orphan_files = len(set(on_disk) - set(delta.live_files(path)))
    if written is None:
        for rel in on_disk:
            scan_data_file(path / rel, rel, subjects, scan, affiliate_column=affiliate_column)
            scan.token_files += 1
    else:
        scan_keys(path, subjects, scan, affiliate_column=affiliate_column)
        tokens = TableScan(table)  # its keyed-row counts repeat scan_keys': only hits count
        for rel in on_disk if affiliate_column else sorted(written & set(on_disk)):
            scan_data_file(path / rel, rel, subjects, tokens, affiliate_column=affiliate_column)
            scan.token_files += 1
        scan.column_hits = tokens.column_hits
    scan_log(path, subjects, scan, allow_stats=scan.retained_rows > 0)
    return scan


def subject_tables(warehouse: Path, affiliate: str) -> dict[str, Path]:
    """Tables that can hold rows of one affiliate's customers (quarantine filtered by affiliate)."""
    from dam_pipelines.lib.tables import find_tables

    found = {
        k: p
        for k, p in find_tables(warehouse, ("bronze", "silver")).items()
        if k.split("/")[1] == affiliate
    }
    quarantine = warehouse / "audit" / "quarantine"
    if delta.exists(quarantine):
        found["audit/quarantine"] = quarantine
    return found


def prove_erased(
    warehouse: Path, subjects: Sequence[Subject], *, written: dict[str, set[str]] | None = None
) -> Proof:
    """Scan every table of the subjects' affiliates for them: thoroughly, or targeted on
    the files an erasure wrote (``written``: table -> files, see :func:`scan_table`)."""
    proof = Proof(targeted=written is not None)
    by_aff: dict[str, list[Subject]] = {}
    for s in subjects:
        by_aff.setdefault(s.affiliate, []).append(s)
    for aff, subs in sorted(by_aff.items()):
        for table, path in sorted(subject_tables(warehouse, aff).items()):
            proof.scans.append(
                scan_table(
                    path,
                    table,
                    subs,
                    affiliate_column=table == "audit/quarantine",
                    written=None if written is None else written.get(table, set()),
                )
            )
    return proof


def dates_ok(values: Iterable[date | None], cutoff: date) -> bool:
    return all(v is None or v >= cutoff for v in values)


def _hashes(values: Iterable[str], key: str, affiliate: str) -> dict[str, str]:
    from dam_pipelines.lib.governance.rules import subject_hash

    return {v: subject_hash(key, affiliate, v) for v in values}


def _strings(value: object) -> Iterable[str]:
    """Every text leaf of a log entry, JSON embedded in text (statistics) included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value
        if value[:1] in "{[":
            try:
                parsed = json.loads(value)
            except ValueError:
                return
            yield from _strings(parsed)


def scan_table_hashed(
    path: Path,
    table: str,
    affiliate: str,
    suppressed: dict[str, date],
    key: str,
    *,
    affiliate_column: bool = False,
) -> TableScan:
    """Like :func:`scan_table` without knowing any customer number: every distinct
    ``customer_no`` in the files (and every text token in the log) is hashed with the key and
    looked up in the suppression list (hash -> effective date)."""
    scan = TableScan(table)
    if not suppressed or not delta.exists(path):
        return scan
    on_disk = delta.data_files_on_disk(path)
    scan.orphan_files = len(set(on_disk) - set(delta.live_files(path)))
    retained: set[str] = set()
    for rel in on_disk:
        pf = pq.ParquetFile(path / rel)
        scan.files_scanned += 1
        n = pf.metadata.num_rows
        parts = _partition_values(rel)
        names = set(pf.schema_arrow.names) | set(parts)
        if n == 0 or "customer_no" not in names:
            continue
        lineage_col = _lineage(names)
        df = pl.DataFrame(
            {
                "c": _column(pf, "customer_no", parts, n),
                "d": (
                    _lineage_values(_column(pf, lineage_col, parts, n), lineage_col)
                    if lineage_col
                    else pl.Series([None] * n, dtype=pl.Utf8)
                ),
                "a": (
                    _column(pf, "affiliate", parts, n)
                    if affiliate_column and "affiliate" in names
                    else pl.Series([affiliate] * n, dtype=pl.Utf8)
                ),
            }
        ).filter((pl.col("a") == affiliate) & pl.col("c").is_not_null())
        h = _hashes(df["c"].unique().to_list(), key, affiliate)
        until = {c: suppressed[v].isoformat() for c, v in h.items() if v in suppressed}
        if not until:
            continue
        hit = df.filter(pl.col("c").is_in(list(until))).with_columns(
            pl.col("c").replace_strict(until, return_dtype=pl.Utf8).alias("u")
        )
        old = hit.filter(pl.col("d").is_null() | (pl.col("d") <= pl.col("u")))
        scan.leftover_rows += old.height
        scan.retained_rows += hit.height - old.height
        retained |= {h[c] for c in hit.filter(pl.col("d") > pl.col("u"))["c"].to_list()}
    for file in delta.log_files(path):
        for entry in _log_entries(file):
            tokens = set(_strings(entry))
            bad = [
                t
                for t, v in _hashes(tokens, key, affiliate).items()
                if v in suppressed and v not in retained
            ]
            scan.log_mentions += len(bad)
    return scan


def prove_suppressions(warehouse: Path, suppressions: pl.DataFrame, key: str) -> Proof:
    """Re-prove every erasure ever made from the suppression list alone (hashes, no numbers)."""
    proof = Proof()
    for aff in sorted(set(suppressions["affiliate"].to_list())):
        sub = suppressions.filter(pl.col("affiliate") == aff)
        suppressed = dict(
            zip(sub["subject_hash"].to_list(), sub["effective_date"].to_list(), strict=True)
        )
        for table, path in sorted(subject_tables(warehouse, aff).items()):
            proof.scans.append(
                scan_table_hashed(
                    path, table, aff, suppressed, key, affiliate_column=table == "audit/quarantine"
                )
            )
    return proof
