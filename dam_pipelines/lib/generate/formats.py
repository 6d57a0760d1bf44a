"""How each affiliate's systems deliver: file format, encoding, line ends, parts, control totals.

Generators build *typed* frames (Date, naive KST Datetime, Boolean, Int64, Float64, String) in
registry column order; :func:`to_delivery` turns them into what goes on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

#: A part holds at most this many rows; big feeds are written in several parts.
PART_ROWS = 250_000


@dataclass(frozen=True)
class Delivery:
    fmt: str = "csv"  # csv | parquet
    encoding: str = "utf-8"  # csv only: utf-8 | cp949
    bom: bool = False
    crlf: bool = False
    control_total: str | None = None
    offset: str = "+09:00"  # csv timestamps carry this offset (+09:00 or +00:00)
    min_parts: int = 1
    omit: tuple[str, ...] = ()  # optional columns this producer does not send at all
    first: tuple[str, ...] = ()  # header order differs from the registry: these come first
    note: str = ""


_BANK = Delivery(encoding="cp949", crlf=True, note="legacy core banking: CP949, CRLF")
_LIFE = Delivery(encoding="cp949", note="legacy life system: CP949, LF")
_CARD = Delivery(bom=True, crlf=True, note="Windows export: UTF-8 with BOM, CRLF")

DELIVERY: dict[str, Delivery] = {
    "bank/customers": _BANK,
    "bank/erasure_requests": _BANK,
    "bank/deposit_accounts": Delivery(
        encoding="cp949", crlf=True, control_total="balance", min_parts=2, note=_BANK.note
    ),
    "bank/loans": _BANK,
    "card/customers": _CARD,
    "card/erasure_requests": _CARD,
    "card/merchants": _CARD,
    "card/transactions": Delivery(
        fmt="parquet",
        control_total="amount",
        min_parts=2,
        note="parquet, native types, tz-aware timestamps",
    ),
    "securities/customers": Delivery(fmt="parquet", note="parquet, native types"),
    "securities/erasure_requests": Delivery(
        offset="+00:00", note="plain UTF-8, timestamps in UTC (+00:00)"
    ),
    "securities/holdings": Delivery(note="plain UTF-8, LF"),
    "securities/trades": Delivery(
        fmt="parquet", control_total="amount", note="parquet, native types"
    ),
    "life/customers": Delivery(
        encoding="cp949",
        omit=("phone",),
        note="legacy life system: CP949, LF; no phone column (optional)",
    ),
    "life/erasure_requests": _LIFE,
    "life/policies": Delivery(
        encoding="cp949",
        first=("customer_no",),
        note="legacy life system: CP949, LF; customer_no first in the header",
    ),
    "life/premium_payments": Delivery(encoding="cp949", control_total="amount", note=_LIFE.note),
}


def arrange(df: pl.DataFrame, spec: Delivery) -> pl.DataFrame:
    cols = [c for c in df.columns if c not in spec.omit]
    return df.select(
        [c for c in spec.first if c in cols] + [c for c in cols if c not in spec.first]
    )


def to_delivery(df: pl.DataFrame, spec: Delivery) -> pl.DataFrame:
    """Typed frame -> the frame written to disk (strings for csv, native types for parquet)."""
    df = arrange(df, spec)
    if spec.fmt == "parquet":
        return df.with_columns(pl.col(pl.Datetime).dt.replace_time_zone("Asia/Seoul"))
    shift = {"+09:00": 0, "+00:00": -9}[spec.offset]
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if dtype == pl.Date:
            e = col.dt.strftime("%Y-%m-%d")
        elif isinstance(dtype, pl.Datetime):
            e = pl.concat_str(
                (col + pl.duration(hours=shift)).dt.strftime("%Y-%m-%dT%H:%M:%S"),
                pl.lit(spec.offset),
            )
        elif dtype == pl.Boolean:
            e = pl.when(col).then(pl.lit("Y")).when(col.not_()).then(pl.lit("N"))
        else:
            e = col.cast(pl.String)
        exprs.append(e.alias(name))
    return df.select(exprs)


def split_parts(df: pl.DataFrame, spec: Delivery) -> list[pl.DataFrame]:
    n = max(
        math.ceil(df.height / PART_ROWS), spec.min_parts if df.height >= spec.min_parts else 1, 1
    )
    size = math.ceil(df.height / n) if df.height else 0
    return [df.slice(i * size, size) for i in range(n)]
