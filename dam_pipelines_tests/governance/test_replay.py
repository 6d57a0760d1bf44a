"""Through real ingestion: an erased customer's old batches replayed never come back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.governance import apply_erasures, make_suppressor
from dam_pipelines.lib.ingest import ingest_feed
from dam_pipelines.lib.landing import write_batch
from dam_pipelines.lib.registry import get_feed
from dam_pipelines.settings import Settings
from dam_pipelines_tests import feedkit

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _ingest(settings: Settings, affiliate: str, feed: str, up_to: str, run: str) -> None:
    ingest_feed(
        settings,
        get_feed(affiliate, feed),
        up_to,
        run_id=run,
        now=NOW,
        suppress=make_suppressor(settings),
    )


def test_corrected_old_batch_does_not_resurrect_but_later_batches_load(settings: Settings) -> None:
    land = settings.landing_dir
    cust = feedkit.rows(
        "card",
        "customers",
        {"customer_no": "C0001"},
        {
            "customer_no": "C0002",
            "rrn": "850505-2234567",
            "birth_date": "1985-05-05",
            "gender": "F",
        },
    )
    write_batch(land, "card", "customers", "2026-11-23", [cust])
    tx = feedkit.rows(
        "card",
        "transactions",
        {"approval_no": "A1", "customer_no": "C0001", "approved_at": "2026-11-24T10:00:00+09:00"},
        {"approval_no": "A2", "customer_no": "C0002", "approved_at": "2026-11-24T10:00:00+09:00"},
    )
    write_batch(land, "card", "transactions", "2026-11-24", [tx])
    req = pl.DataFrame(
        {
            "request_id": ["R-1"],
            "customer_no": ["C0001"],
            "requested_at": ["2026-11-24T18:00:00+09:00"],
        }
    )
    write_batch(land, "card", "erasure_requests", "2026-11-24", [req])
    for f in ("customers", "transactions", "erasure_requests"):
        _ingest(settings, "card", f, "2026-11-24", "night-1")
    report = apply_erasures(settings, date(2026, 11, 24))
    assert report.subjects == 1 and report.verified

    # revision 2 of the 11-24 transactions (a correction) and a new batch dated after R
    bad = feedkit.rows(
        "card",
        "transactions",
        {
            "approval_no": "A9",
            "customer_no": "C0001",
            "amount": "12x",
            "approved_at": "2026-11-24T11:00:00+09:00",
        },
    )
    more = feedkit.transactions(12, day="2026-11-24", prefix="B").with_columns(
        customer_no=pl.lit("C0002")
    )  # enough good rows that one bad row stays under the 10% rejection threshold
    write_batch(land, "card", "transactions", "2026-11-24", [tx, more, bad], revision=2)
    later = feedkit.rows(
        "card",
        "transactions",
        {"approval_no": "A3", "customer_no": "C0001", "approved_at": "2026-11-25T10:00:00+09:00"},
    )
    write_batch(land, "card", "transactions", "2026-11-25", [later])
    # and the erasure request batch itself, delivered again
    write_batch(land, "card", "erasure_requests", "2026-11-24", [req], revision=2)
    for f in ("transactions", "erasure_requests"):
        _ingest(settings, "card", f, "2026-11-25", "night-2")

    txns = delta.read(settings.table_path("bronze", "card", "transactions"))
    got = sorted(set(zip(txns["business_date"], txns["customer_no"], strict=True)))
    assert got == [("2026-11-24", "C0002"), ("2026-11-25", "C0001")]
    assert txns.height == 1 + 12 + 1
    assert delta.read(settings.table_path("bronze", "card", "erasure_requests")).height == 0
    # the replayed batch's bad row of C does not reach the quarantine either
    q = delta.read(settings.table_path("audit", "quarantine"))
    assert q.filter(pl.col("customer_no") == "C0001").height == 0
    ledger = delta.read(settings.table_path("audit", "batches")).filter(
        (pl.col("feed") == "transactions") & (pl.col("revision") == 2)
    )
    assert ledger["rows_suppressed"].to_list() == [1]
    # the night after: nothing new to erase, the proof still holds
    again = apply_erasures(settings, date(2026, 11, 25))
    assert again.subjects == 0
