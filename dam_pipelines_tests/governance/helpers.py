"""Tiny hand-built warehouse tables for the governance tests (shapes of docs/design.md)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.registry import DType, Feed, Kind, Role, get_feed
from dam_pipelines.lib.validate import quarantine_schema
from dam_pipelines.settings import Settings

TYPES: dict[DType, pl.DataType] = {
    DType.STRING: pl.Utf8(),
    DType.ENUM: pl.Utf8(),
    DType.INT: pl.Int64(),
    DType.DECIMAL: pl.Float64(),
    DType.DATE: pl.Date(),
    DType.TIMESTAMP: pl.Datetime("us", "UTC"),
    DType.BOOL: pl.Boolean(),
}
LINEAGE = {
    "_batch_id": pl.Utf8(),
    "_revision": pl.Int64(),
    "_source_file": pl.Utf8(),
    "_row_number": pl.Int64(),
    "_ingested_at": pl.Datetime("us", "UTC"),
    "business_date": pl.Utf8(),
}
NOW = datetime(2026, 1, 10, tzinfo=UTC)


def bronze_schema(feed: Feed) -> dict[str, pl.DataType]:
    cols: dict[str, pl.DataType] = {}
    for c in feed.columns:
        if c.role is Role.DIRECT:
            continue
        cols[c.name] = TYPES[c.dtype]
        if feed.name == "customers" and c.name == "customer_no":
            cols["gcid"] = pl.Utf8()
    if feed.kind is Kind.EVENT:
        cols["event_date"] = pl.Date()
    return {**cols, **LINEAGE}


def stats_columns(feed: Feed) -> list[str]:
    hidden = {Role.DIRECT, Role.PAN, Role.CUSTOMER_KEY, Role.RECORD_KEY}
    roles = {c.name: c.role for c in feed.columns}
    return [c for c in bronze_schema(feed) if c != "gcid" and roles.get(c) not in hidden]


def _default(name: str, dtype: pl.DataType, bdate: str) -> Any:
    if name == "status":
        return "ACTIVE"
    if name == "txn_type":
        return "PURCHASE"
    if dtype == pl.Utf8():
        return "x"
    if dtype == pl.Int64():
        return 1
    if dtype == pl.Float64():
        return 1.0
    if dtype == pl.Date():
        return date.fromisoformat(bdate)
    if dtype == pl.Boolean():
        return True
    if isinstance(dtype, pl.Datetime):
        return datetime.fromisoformat(bdate + "T01:00:00+00:00")
    return None


def write_bronze(
    settings: Settings, affiliate: str, feed_name: str, bdate: str, rows: list[dict[str, Any]]
) -> int:
    """Replace the ``bdate`` partition of a bronze table with ``rows`` (other columns filled)."""
    feed = get_feed(affiliate, feed_name)
    schema = bronze_schema(feed)
    full = []
    for i, r in enumerate(rows, start=1):
        row = {k: _default(k, t, bdate) for k, t in schema.items()}
        row.update(
            _batch_id=f"{feed.id}/{bdate}/r1",
            _revision=1,
            _source_file="part-01001.csv",
            _row_number=i,
            _ingested_at=NOW,
            business_date=bdate,
        )
        if feed.kind is Kind.EVENT:
            row["event_date"] = date.fromisoformat(bdate)
        row.update(r)
        full.append(row)
    df = pl.DataFrame(full, schema=schema, orient="row")
    return delta.replace_where(
        settings.table_path("bronze", affiliate, feed_name),
        df,
        f"business_date = '{bdate}'",
        partition_by=["business_date"],
        configuration=delta.table_config(stats_columns(feed)),
    )


QUARANTINE = quarantine_schema()


def write_quarantine(
    settings: Settings, affiliate: str, feed: str, bdate: str, customer_nos: list[str]
) -> int:
    rows = [
        {
            "affiliate": affiliate,
            "feed": feed,
            "business_date": bdate,
            "revision": 1,
            "row_number": i,
            "column": "amount",
            "reason": "TYPE",
            "detail": "amount is not an integer",
            "value": "12x",
            "customer_no": c,
            "record": json.dumps({"customer_no": c, "amount": "12x"}),
            "batch_id": f"{affiliate}/{feed}/{bdate}/r1",
            "source_file": "part-01001.csv",
            "quarantined_at": NOW,
        }
        for i, c in enumerate(customer_nos, start=1)
    ]
    df = pl.DataFrame(rows, schema=QUARANTINE, orient="row")
    pred = (
        f"affiliate = '{affiliate}' AND feed = '{feed}' AND business_date = '{bdate}' "
        "AND revision = 1"
    )
    return delta.replace_where(
        settings.table_path("audit", "quarantine"),
        df,
        pred,
        configuration=delta.table_config(
            ["affiliate", "feed", "business_date", "revision", "row_number", "column", "reason"]
        ),
    )


def write_silver(
    settings: Settings,
    affiliate: str,
    name: str,
    rows: list[dict[str, Any]],
    *,
    partition_by: list[str] | None = None,
) -> int:
    """A silver table as the silver layer lays it out (lineage ``business_date`` as a Date);
    written WITHOUT restricted statistics, so customer numbers reach the log's min/max."""
    df = pl.DataFrame(rows)
    return delta.overwrite(
        settings.table_path("silver", affiliate, name), df, partition_by=partition_by
    )


def files_with_value(table: Path, column: str, value: str) -> set[str]:
    """Parquet files on disk (live or not) holding ``value`` in ``column``."""
    out = set()
    for rel in delta.data_files_on_disk(table):
        df = pl.read_parquet(table / rel)
        if column in df.columns and value in df[column].cast(pl.Utf8).to_list():
            out.add(rel)
    return out


def tree_mentions(root: Path, *needles: str) -> list[str]:
    """Files under ``root`` (data and logs, decoded column by column) mentioning a needle."""
    import pyarrow.parquet as pq

    hits = []
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".parquet":
            text = json.dumps(pq.read_table(p).to_pylist(), default=str)
        else:
            text = p.read_bytes().decode("utf-8", errors="replace")
        if any(n in text for n in needles):
            hits.append(str(p.relative_to(root)))
    return hits
