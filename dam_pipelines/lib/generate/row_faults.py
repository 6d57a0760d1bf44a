"""Row-level faults: a few cells changed in otherwise good batches (contract §4 row reasons,
plus legal-but-awkward rows: legacy province codes, late events, schema drift).

Each fault function returns ``None`` when the batch offers no suitable row, and the plan then
tries the feed's next batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from .common import DAY, from_day
from .customers import ID_MODULUS


# ---- cell helpers ------------------------------------------------------------------------
def set_cell(df: pl.DataFrame, i: int, col: str, value: Any) -> pl.DataFrame:
    dtype = df.schema[col]
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == i)
        .then(pl.lit(value, dtype=dtype))
        .otherwise(pl.col(col))
        .alias(col)
    )


def pick(
    rng: np.random.Generator, mask: np.ndarray | pl.Series, avoid: set[int], k: int = 1
) -> list[int] | None:
    m = np.asarray(mask.to_numpy() if isinstance(mask, pl.Series) else mask, dtype=bool).copy()
    if avoid:
        m[list(avoid)] = False
    cand = np.flatnonzero(m)
    if len(cand) < k:
        return None
    return sorted(int(x) for x in rng.choice(cand, k, replace=False))


def _all(df: pl.DataFrame) -> np.ndarray:
    return np.ones(df.height, bool)


def unreferenced_purchases(df: pl.DataFrame) -> pl.Series:
    refs = df["original_approval_no"].drop_nulls()
    return (df["txn_type"] == "PURCHASE") & ~df["approval_no"].is_in(refs.implode())


# A row fault: (frame, rng, day, ctx, avoid) -> None when not applicable today, else
# (frame, [(row_index, column, note, details)], retired_keys)
Hit = tuple[int | None, str | None, str, dict[str, Any]]
RowFn = Callable[
    [pl.DataFrame, np.random.Generator, int, Any, set[int]],
    tuple[pl.DataFrame, list[Hit], list[str]] | None,
]


def _change(
    col: str,
    new: Callable[[Any], Any],
    note: str,
    mask: Callable[[pl.DataFrame], Any] = _all,
    retire_key: str | None = None,
) -> RowFn:
    def fn(df, rng, day, ctx, avoid):
        rows = pick(rng, mask(df), avoid) if df.height else None
        if rows is None:
            return None
        i = rows[0]
        old = df[col][i]
        df = set_cell(df, i, col, new(old))
        keys = [df[retire_key][i]] if retire_key else []
        return df, [(i, col, note.format(old=old, new=df[col][i]), {})], keys

    return fn


def _kst(day: int, secs: int) -> datetime:
    d = from_day(day)
    return datetime(d.year, d.month, d.day) + timedelta(seconds=secs)


def f_approved_at(offset_days: int, secs: int, note: str) -> RowFn:
    def fn(df, rng, day, ctx, avoid):
        rows = pick(rng, unreferenced_purchases(df), avoid) if df.height else None
        if rows is None:
            return None
        i = rows[0]
        df = set_cell(df, i, "approved_at", _kst(day + offset_days, secs))
        return (
            df,
            [
                (
                    i,
                    "approved_at",
                    note.format(ts=_kst(day + offset_days, secs).isoformat() + "+09:00"),
                    {},
                )
            ],
            [df["approval_no"][i]],
        )

    return fn


def f_cancel_without_original(df, rng, day, ctx, avoid):
    rows = pick(rng, unreferenced_purchases(df), avoid) if df.height else None
    if rows is None:
        return None
    i = rows[0]
    df = set_cell(set_cell(df, i, "txn_type", "CANCEL"), i, "original_approval_no", None)
    return (
        df,
        [(i, "original_approval_no", "CANCEL without original_approval_no", {})],
        [df["approval_no"][i]],
    )


def f_duplicate(
    key: str, mask: Callable[[pl.DataFrame], Any] = _all, retire: bool = False
) -> RowFn:
    def fn(df, rng, day, ctx, avoid):
        rows = pick(rng, mask(df), avoid, k=2) if df.height else None
        if rows is None:
            return None
        i, j = rows
        old_j = df[key][j]
        df = set_cell(df, j, key, df[key][i])
        note = f"{key} {df[key][i]} delivered twice in the batch (the second copy was {old_j})"
        return df, [(i, key, note, {}), (j, key, note, {})], ([df[key][i], old_j] if retire else [])

    return fn


def f_unmasked_pan(df, rng, day, ctx, avoid):
    rows = pick(rng, unreferenced_purchases(df), avoid) if df.height else None
    if rows is None:
        return None
    i = rows[0]
    masked = df["card_no"][i]
    full = masked[:6] + "".join(str(d) for d in rng.integers(0, 10, 6)) + masked[-4:]
    df = set_cell(df, i, "card_no", full)
    return (
        df,
        [
            (
                i,
                "card_no",
                "full 16-digit card number (first 6 and last 4 as masked)",
                {"masked": masked},
            )
        ],
        [df["approval_no"][i]],
    )


def f_trade_late(df, rng, day, ctx, avoid):
    rows = pick(rng, df["market"].is_in(["KOSPI", "KOSDAQ"]), avoid) if df.height else None
    if rows is None:
        return None
    i = rows[0]
    back = next(k for k in (3, 4, 5) if (day - k + 3) % 7 < 5)
    ts = df["executed_at"][i] - timedelta(days=back)
    df = set_cell(df, i, "executed_at", ts)
    return (
        df,
        [
            (
                i,
                "executed_at",
                f"domestic trade executed {back} days before the batch (late capture)",
                {"event_date": str(ts.date())},
            )
        ],
        [],
    )


def f_failed_with_paid_at(df, rng, day, ctx, avoid):
    rows = pick(rng, df["result"] == "PAID", avoid) if df.height else None
    if rows is None:
        return None
    i = rows[0]
    return (
        set_cell(df, i, "result", "FAILED"),
        [(i, "paid_at", "result FAILED but paid_at present", {})],
        [],
    )


def f_lapsed_on_active(df, rng, day, ctx, avoid):
    rows = pick(rng, df["status"] == "ACTIVE", avoid) if df.height else None
    if rows is None:
        return None
    i = rows[0]
    lapsed = from_day(day - 40)
    return (
        set_cell(df, i, "lapsed_on", lapsed),
        [(i, "lapsed_on", f"ACTIVE policy with lapsed_on {lapsed}", {})],
        [],
    )


def f_legacy_sido(df, rng, day, ctx, avoid):
    hits: list[Hit] = []
    for new, legacy in (("51", "42"), ("52", "45")):
        rows = pick(rng, df["sido_code"] == new, avoid) or pick(rng, _all(df), avoid)
        if rows is None:
            return None
        i = rows[0]
        avoid.add(i)
        df = set_cell(df, i, "sido_code", legacy)
        hits.append(
            (
                i,
                "sido_code",
                f"legacy province code {legacy} (= {new}); must load and normalize",
                {"normalized": new},
            )
        )
    return df, hits, []


def f_add_column(name: str, values: tuple[str, ...]) -> RowFn:
    def fn(df, rng, day, ctx, avoid):
        col = pl.Series(
            name, [values[k] for k in rng.integers(0, len(values), df.height)], dtype=pl.String
        )
        return (
            df.with_columns(col),
            [(None, name, f"undeclared column {name!r}: dropped and recorded as schema drift", {})],
            [],
        )

    return fn


def f_erasure_unknown(df, rng, day, ctx, avoid):
    # the last number of the affiliate's range: never issued to anyone
    unknown = ctx.customers.books["securities"].customer_no_of_seq(ID_MODULUS - 1)
    row = pl.DataFrame(
        {
            "request_id": [f"ERS{from_day(day):%y%m%d}9999"],
            "customer_no": [unknown],
            "requested_at": [_kst(day, 11 * 3600)],
        },
        schema=df.schema,
    )
    df = pl.concat([df, row])
    return (
        df,
        [
            (
                df.height - 1,
                "customer_no",
                "erasure request for a customer number never delivered: logged, changes nothing",
                {},
            )
        ],
        [],
    )


# ---- the catalogue -----------------------------------------------------------------------
@dataclass(frozen=True)
class RowSpec:
    feed: str
    day: int  # preferred day index; moves to the next batch of the feed when not applicable
    kind: str
    reason: str | None
    stage: str  # typed | delivery
    fn: RowFn
    level: str = "row"
    optional: bool = False  # planted only if some batch of the period is big enough


def _neg_balance(old):
    return -50_000


ROW_FAULTS: tuple[RowSpec, ...] = (
    RowSpec(
        "card/customers",
        0,
        "TYPE",
        "TYPE",
        "delivery",
        _change("updated_at", lambda v: v[:-6], "timestamp without offset: {new}"),
    ),
    RowSpec(
        "card/customers",
        0,
        "RRN_MISMATCH",
        "RRN_MISMATCH",
        "typed",
        _change(
            "gender", lambda v: "F" if v == "M" else "M", "gender {new} disagrees with the rrn"
        ),
    ),
    RowSpec(
        "securities/customers",
        0,
        "RRN_MISMATCH",
        "RRN_MISMATCH",
        "typed",
        _change(
            "birth_date", lambda v: v + timedelta(days=1), "birth_date {new} is one day off the rrn"
        ),
    ),
    RowSpec(
        "bank/customers",
        0,
        "INVALID_RRN",
        "INVALID_RRN",
        "typed",
        _change("rrn", lambda v: v[:2] + "13" + v[4:], "rrn with month 13: {new}"),
    ),
    RowSpec(
        "life/customers",
        0,
        "INVALID_RRN",
        "INVALID_RRN",
        "typed",
        _change("rrn", lambda v: v[:7] + "9" + v[8:], "rrn with G digit 9"),
    ),
    RowSpec("life/customers", 0, "LEGACY_SIDO", None, "typed", f_legacy_sido, "scenario"),
    RowSpec("card/merchants", 0, "LEGACY_SIDO", None, "typed", f_legacy_sido, "scenario"),
    RowSpec("card/transactions", 1, "REQUIRED", "REQUIRED", "typed", f_cancel_without_original),
    RowSpec(
        "card/transactions",
        2,
        "ENUM",
        "ENUM",
        "typed",
        _change(
            "channel",
            lambda v: "MOBILE",
            "channel MOBILE is not ONLINE/OFFLINE",
            unreferenced_purchases,
            "approval_no",
        ),
    ),
    RowSpec(
        "card/transactions",
        3,
        "RANGE",
        "RANGE",
        "typed",
        f_approved_at(1, 10, "event dated after its batch: approved_at {ts}"),
    ),
    RowSpec(
        "card/transactions",
        4,
        "RANGE",
        "RANGE",
        "typed",
        f_approved_at(-8, DAY - 1, "event dated 8 days before its batch: approved_at {ts}"),
    ),
    RowSpec(
        "card/transactions",
        5,
        "RANGE",
        "RANGE",
        "typed",
        _change(
            "installment_months",
            lambda v: 1,
            "installment_months 1 (allowed: 0 or 2..36)",
            unreferenced_purchases,
            "approval_no",
        ),
    ),
    RowSpec(
        "card/transactions",
        6,
        "DUPLICATE_KEY",
        "DUPLICATE_KEY",
        "typed",
        f_duplicate("approval_no", unreferenced_purchases, retire=True),
    ),
    RowSpec("card/transactions", 7, "UNMASKED_PAN", "UNMASKED_PAN", "typed", f_unmasked_pan),
    RowSpec(
        "card/transactions",
        8,
        "LATE_EVENT",
        None,
        "typed",
        f_approved_at(
            -7,
            30,
            "late capture at the 7-day limit: approved_at {ts} (UTC date one day earlier); loads",
        ),
        "scenario",
    ),
    RowSpec(
        "bank/loans",
        2,
        "REQUIRED",
        "REQUIRED",
        "typed",
        _change("maturity_on", lambda v: None, "maturity_on missing (was {old})"),
    ),
    RowSpec(
        "securities/holdings",
        3,
        "ENUM",
        "ENUM",
        "typed",
        _change("market", lambda v: "KONEX", "market KONEX is not in the contract's enum"),
    ),
    RowSpec("securities/trades", 5, "LATE_EVENT", None, "typed", f_trade_late, "scenario"),
    RowSpec(
        "securities/trades",
        8,
        "SCHEMA_DRIFT",
        None,
        "typed",
        f_add_column("order_channel", ("MTS", "HTS", "WTS")),
        "scenario",
    ),
    RowSpec("life/policies", 1, "RANGE", "RANGE", "typed", f_lapsed_on_active),
    RowSpec(
        "life/premium_payments", 1, "RANGE", "RANGE", "typed", f_failed_with_paid_at, optional=True
    ),
    RowSpec(
        "bank/deposit_accounts",
        3,
        "RANGE",
        "RANGE",
        "typed",
        _change(
            "balance", _neg_balance, "negative balance {new}", lambda df: df["status"] == "ACTIVE"
        ),
    ),
    RowSpec(
        "life/policies", 4, "DUPLICATE_KEY", "DUPLICATE_KEY", "typed", f_duplicate("policy_no")
    ),
    RowSpec(
        "securities/erasure_requests",
        5,
        "ERASURE_UNKNOWN_CUSTOMER",
        None,
        "typed",
        f_erasure_unknown,
        "scenario",
    ),
    RowSpec(
        "bank/deposit_accounts",
        1,
        "TYPE",
        "TYPE",
        "delivery",
        _change(
            "balance", lambda v: f"{max(int(v), 1_000):,}", "money with thousands separators: {new}"
        ),
    ),
    RowSpec(
        "life/policies",
        2,
        "TYPE",
        "TYPE",
        "delivery",
        _change("contracted_on", lambda v: v[:4] + "-02-30", "impossible date {new}"),
    ),
    RowSpec(
        "bank/deposit_accounts",
        5,
        "SCHEMA_DRIFT",
        None,
        "delivery",
        f_add_column("branch_code", ("0101", "0230", "0457", "1102")),
        "scenario",
    ),
)
