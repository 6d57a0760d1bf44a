"""Replay protection: erased customers stay erased when old batches come back (contract §5).

``governance/suppressions`` holds one row per erased (affiliate, customer): the keyed subject
hash (never the customer number) and the effective date R. Ingestion drops the rows of a
suppressed customer from every batch dated on or before R; later batches load normally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.governance.rules import Subject, subject_hash
from dam_pipelines.lib.registry import Feed
from dam_pipelines.settings import Settings

SUPPRESSIONS = ("governance", "suppressions")

SUPPRESSIONS_SCHEMA: dict[str, pl.DataType] = {
    "affiliate": pl.Utf8(),
    "subject_hash": pl.Utf8(),
    "effective_date": pl.Date(),
    "origin": pl.Utf8(),
    "updated_at": pl.Datetime("us", "UTC"),
}

#: Same shape as ``dam_pipelines.lib.ingest.Suppressor`` (not imported: no import cycle).
Suppressor = Callable[[Feed, str, pl.DataFrame], pl.DataFrame]


def read_suppressions(warehouse: Path) -> pl.DataFrame:
    df = delta.read(warehouse.joinpath(*SUPPRESSIONS))
    return df if df is not None else pl.DataFrame(schema=SUPPRESSIONS_SCHEMA)


def record_suppressions(
    warehouse: Path, subjects: Iterable[Subject], *, now: datetime
) -> int | None:
    """Upsert one row per subject; a later effective date wins over an earlier one."""
    rows = [
        {
            "affiliate": s.affiliate,
            "subject_hash": s.hash,
            "effective_date": s.until,
            "origin": s.origin,
            "updated_at": now,
        }
        for s in subjects
    ]
    path = warehouse.joinpath(*SUPPRESSIONS)
    if not rows:
        return delta.version(path)
    new = pl.DataFrame(rows, schema=SUPPRESSIONS_SCHEMA, orient="row")
    merged = (
        pl.concat([read_suppressions(warehouse), new])
        .sort("effective_date", "updated_at", descending=True)
        .unique(["affiliate", "subject_hash"], keep="first")
        .sort("affiliate", "subject_hash")
    )
    return delta.overwrite(
        path,
        merged,
        configuration=delta.table_config(["affiliate", "effective_date", "origin", "updated_at"]),
    )


def suppressed_mask(
    df: pl.DataFrame,
    affiliate: str,
    business_date: str | date,
    suppressions: pl.DataFrame,
    key: str,
) -> pl.Series:
    """True for the rows of ``df`` whose customer is suppressed for a batch of this date."""
    none = pl.repeat(False, df.height, dtype=pl.Boolean, eager=True).alias("suppressed")
    if "customer_no" not in df.columns or df.height == 0:
        return none
    bdate = date.fromisoformat(str(business_date))
    active = set(
        suppressions.filter(
            (pl.col("affiliate") == affiliate) & (pl.col("effective_date") >= bdate)
        )["subject_hash"].to_list()
    )
    if not active:
        return none
    hashes = {
        c: subject_hash(key, affiliate, c) in active
        for c in df["customer_no"].drop_nulls().unique().to_list()
    }
    return df["customer_no"].replace_strict(hashes, default=False, return_dtype=pl.Boolean)


def make_suppressor(settings: Settings) -> Suppressor:
    """The ingestion hook: drop rows of customers erased with an effective date >= the batch's.

    Works on any frame with a ``customer_no`` column (validated rows and quarantine rows alike);
    frames without one pass through. The suppression list is read once per call of this
    factory, so make one suppressor per ingestion run.
    """
    suppressions = read_suppressions(settings.warehouse_dir)
    key = settings.pseudonym_key

    def suppress(feed: Feed, business_date: str, rows: pl.DataFrame) -> pl.DataFrame:
        if suppressions.height == 0:
            return rows
        mask = suppressed_mask(rows, feed.affiliate, business_date, suppressions, key)
        return rows.filter(~mask) if mask.any() else rows  # the usual case: nothing to drop

    return suppress
