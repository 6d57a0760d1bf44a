"""Typed shapes of the bronze and silver tables, derived from the feed registry.

Bronze is written by ingestion (docs/design.md); silver reads it through :func:`conform_bronze`
so that a column stored with a slightly different physical type (naive UTC timestamps, a
missing optional column) still yields exactly the documented schema.
"""

from __future__ import annotations

import polars as pl

from dam_pipelines.lib.registry import LEGACY_SIDO, DType, Feed, Kind

UTC_TS = pl.Datetime("us", "UTC")

POLARS_TYPES: dict[DType, pl.DataType] = {
    DType.STRING: pl.Utf8(),
    DType.ENUM: pl.Utf8(),
    DType.INT: pl.Int64(),
    DType.DECIMAL: pl.Float64(),
    DType.DATE: pl.Date(),
    DType.TIMESTAMP: UTC_TS,
    DType.BOOL: pl.Boolean(),
}

#: Lineage kept in silver: which delivery a row comes from (business_date as a Date there).
SILVER_LINEAGE: dict[str, pl.DataType] = {
    "business_date": pl.Date(),
    "_revision": pl.Int64(),
    "_batch_id": pl.Utf8(),
}


def _data_columns(feed: Feed) -> dict[str, pl.DataType]:
    cols: dict[str, pl.DataType] = {}
    for c in feed.columns:
        if c.is_direct_identifier:
            continue
        cols[c.name] = POLARS_TYPES[c.dtype]
        if feed.name == "customers" and c.name == "customer_no":
            cols["gcid"] = pl.Utf8()
    if feed.kind is Kind.EVENT:
        cols["event_date"] = pl.Date()
    return cols


def bronze_schema(feed: Feed) -> pl.Schema:
    """The bronze table of ``feed`` as ingestion writes it (docs/design.md), in column order."""
    from dam_pipelines.lib.validate import bronze_schema as written

    return pl.Schema(written(feed))


def silver_schema(feed: Feed) -> pl.Schema:
    """Silver = bronze data columns (+ risk_grade on every customers table) + lineage.

    Snapshots carry ``snapshot_date`` instead of ``business_date``; events keep ``event_date``
    (their partition column).
    """
    cols = _data_columns(feed)
    if feed.name == "customers" and "risk_grade" not in cols:
        # One shape for every affiliate's customers; null outside securities.
        cols = {
            **{k: v for k, v in cols.items() if k != "updated_at"},
            "risk_grade": pl.Int64(),
            "updated_at": UTC_TS,
        }
    if feed.kind is Kind.SNAPSHOT:
        return pl.Schema(
            {**cols, "snapshot_date": pl.Date(), "_revision": pl.Int64(), "_batch_id": pl.Utf8()}
        )
    return pl.Schema({**cols, **SILVER_LINEAGE})


def normalize_sido(column: str = "sido_code") -> pl.Expr:
    """Legacy province codes mapped to the codes in force (42 -> 51, 45 -> 52)."""
    return pl.col(column).replace(LEGACY_SIDO)


def _cast(name: str, have: pl.DataType | None, want: pl.DataType) -> pl.Expr:
    if have is None:
        return pl.lit(None, dtype=want).alias(name)
    if isinstance(want, pl.Datetime) and isinstance(have, pl.Datetime) and have.time_zone is None:
        # A naive timestamp in bronze is UTC by design.
        return pl.col(name).dt.replace_time_zone("UTC").cast(want).alias(name)
    if have == want:
        return pl.col(name)
    return pl.col(name).cast(want).alias(name)


def conform_bronze(lf: pl.LazyFrame, feed: Feed) -> pl.LazyFrame:
    """Exactly :func:`bronze_schema` (order and types); absent columns become nulls."""
    have = lf.collect_schema()
    return lf.select([_cast(n, have.get(n), t) for n, t in bronze_schema(feed).items()])


def bronze_to_silver(lf: pl.LazyFrame, feed: Feed) -> pl.LazyFrame:
    """Conformed bronze rows -> silver columns (sido normalized, business_date as Date)."""
    target = silver_schema(feed)
    exprs: list[pl.Expr] = []
    for name, dtype in target.items():
        if name == "sido_code":
            exprs.append(normalize_sido())
        elif name in ("business_date", "snapshot_date"):
            exprs.append(pl.col("business_date").str.to_date("%Y-%m-%d").alias(name))
        elif name not in bronze_schema(feed):
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        else:
            exprs.append(pl.col(name))
    return conform_bronze(lf, feed).select(exprs)


def empty_silver(feed: Feed) -> pl.DataFrame:
    return pl.DataFrame(schema=silver_schema(feed))
