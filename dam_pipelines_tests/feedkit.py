"""Tiny, valid contract rows for tests (csv string form); override fields per test."""

from __future__ import annotations

from typing import Any

import polars as pl

from dam_pipelines.lib.landing import write_batch
from dam_pipelines.lib.registry import get_feed

CUSTOMER = {
    "customer_no": "C0001",
    "rrn": "900101-1234567",
    "name": "김철수",
    "phone": "010-1234-5678",
    "birth_date": "1990-01-01",
    "gender": "M",
    "sido_code": "11",
    "joined_on": "2020-01-01",
    "status": "ACTIVE",
    "closed_on": None,
    "marketing_consent": "Y",
    "updated_at": "2026-11-20T09:00:00+09:00",
}

TRANSACTION = {
    "approval_no": "A0001",
    "customer_no": "C0001",
    "card_no": "123456******3456",
    "approved_at": "2026-11-24T13:05:09+09:00",
    "txn_type": "PURCHASE",
    "original_approval_no": None,
    "amount": "15000",
    "installment_months": "0",
    "merchant_id": "M001",
    "channel": "OFFLINE",
    "is_overseas": "N",
}

DEFAULTS = {("card", "customers"): CUSTOMER, ("card", "transactions"): TRANSACTION}


def rows(affiliate: str, feed: str, *overrides: dict[str, Any]) -> pl.DataFrame:
    """One row per override dict, on top of the defaults, as an all-string frame."""
    base = DEFAULTS[(affiliate, feed)]
    cols = get_feed(affiliate, feed).column_names
    data = [{c: {**base, **o}.get(c) for c in cols if c in {**base, **o}} for o in overrides]
    return pl.DataFrame(data, schema={c: pl.Utf8 for c in data[0]})


def transactions(
    n: int, day: str = "2026-11-24", prefix: str = "A", amount: int = 1000
) -> pl.DataFrame:
    return rows(
        "card",
        "transactions",
        *[
            {
                "approval_no": f"{prefix}{i:05d}",
                "approved_at": f"{day}T10:00:00+09:00",
                "amount": str(amount + i),
            }
            for i in range(n)
        ],
    )


def deliver(landing, affiliate: str, feed: str, day: str, df: pl.DataFrame, **kw: Any):
    return write_batch(landing, affiliate, feed, day, [df], **kw)
