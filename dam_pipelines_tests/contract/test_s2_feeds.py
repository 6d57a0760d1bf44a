"""Contract §2 (feed kinds, as-of semantics, event dates, conditional columns), end to end."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.landing import write_batch
from dam_pipelines.settings import Settings
from dam_pipelines_tests.contract.kit import (
    bronze,
    deliver,
    frame,
    ingest,
    ledger,
    run,
    settings_for,
)

D = "2026-11-24"


def _q(s) -> list[tuple[int, str, str]]:
    q = pl.read_delta(str(s.warehouse_dir / "audit" / "quarantine")).sort("row_number", "column")
    return list(zip(q["row_number"], q["column"], q["reason"], strict=True))


def test_event_date_is_the_kst_date_and_the_window_is_d_minus_7_to_d(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    good = [{"approval_no": f"G{i}", "approved_at": f"{D}T12:00:00+09:00"} for i in range(20)]
    edge = [
        {"approval_no": "E1", "approved_at": "2026-11-23T15:00:00+00:00"},  # KST 11-24 00:00
        {"approval_no": "E2", "approved_at": "2026-11-23T14:59:59+00:00"},  # KST 11-23
        {"approval_no": "E3", "approved_at": "2026-11-17T00:00:00+09:00"},  # D-7: allowed
        {"approval_no": "E4", "approved_at": "2026-11-16T23:59:59+09:00"},  # D-8: RANGE
        {"approval_no": "E5", "approved_at": "2026-11-24T15:00:00+00:00"},  # KST 11-25: RANGE
    ]
    deliver(s, "card", "transactions", D, *good, *edge)
    ingest(s, D)
    got = bronze(s, "card", "transactions").filter(pl.col("approval_no").str.starts_with("E"))
    got = dict(zip(got["approval_no"], got["event_date"], strict=True))
    assert got == {"E1": date(2026, 11, 24), "E2": date(2026, 11, 23), "E3": date(2026, 11, 17)}
    assert _q(s) == [(24, "approved_at", "RANGE"), (25, "approved_at", "RANGE")]


def test_conditional_columns_required_when_and_null_otherwise(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    good = [{"customer_no": f"G{i}"} for i in range(20)]
    rows = [
        {"customer_no": "X1", "status": "CLOSED", "closed_on": None},  # REQUIRED
        {"customer_no": "X2", "status": "ACTIVE", "closed_on": "2026-01-01"},  # RANGE
        {"customer_no": "X3", "status": "CLOSED", "closed_on": "2026-01-01"},  # ok
    ]
    deliver(s, "card", "customers", D, *good, *rows)
    ingest(s, D)
    assert _q(s) == [(21, "closed_on", "REQUIRED"), (22, "closed_on", "RANGE")]
    assert "X3" in bronze(s, "card", "customers")["customer_no"].to_list()


def _bank(s) -> None:
    deliver(s, "bank", "customers", "2026-11-01", {"customer_no": "C1"})


def _balance(s, as_of: str) -> int | None:
    prof, _ = run(s, as_of)
    (row,) = prof.values()
    return row["deposit_balance"]


def test_snapshot_missing_rejected_empty_and_late_older(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    _bank(s)
    deliver(s, "bank", "deposit_accounts", "2026-11-20", {"balance": "100"})
    assert _balance(s, "2026-11-21") == 100  # D missing: the latest loaded before D
    deliver(s, "bank", "deposit_accounts", "2026-11-21", {"balance": "x"})  # rejected
    assert _balance(s, "2026-11-21") == 100
    deliver(s, "bank", "deposit_accounts", "2026-11-22", {"balance": "200"})
    deliver(s, "bank", "deposit_accounts", "2026-11-19", {"balance": "999"})  # late, older
    assert _balance(s, "2026-11-22") == 200
    write_batch(
        s.landing_dir,
        "bank",
        "deposit_accounts",
        "2026-11-23",
        [frame("bank", "deposit_accounts", {})[:0]],
    )  # empty: everything gone
    assert _balance(s, "2026-11-23") == 0


def test_change_feed_latest_business_date_then_revision_and_late_master_data(
    tmp_path: Path,
) -> None:
    s = settings_for(tmp_path)
    deliver(s, "card", "merchants", "2026-11-01", {"merchant_id": "M1"})
    deliver(
        s,
        "card",
        "transactions",
        "2026-11-20",
        {"approval_no": "A1", "customer_no": "C9", "approved_at": "2026-11-20T10:00:00+09:00"},
    )
    prof, _ = run(s, "2026-11-20")
    assert prof == {}  # the event of an unknown customer is kept, counts nowhere yet
    # the customer arrives later; its batch dated 11-22 wins over a late 11-21 one
    deliver(
        s,
        "card",
        "customers",
        "2026-11-22",
        {"customer_no": "C9", "status": "DORMANT", "updated_at": "2026-11-22T09:00:00+09:00"},
    )
    deliver(
        s,
        "card",
        "customers",
        "2026-11-21",
        {
            "customer_no": "C9",
            "status": "CLOSED",
            "closed_on": "2026-11-21",
            "updated_at": "2026-11-23T09:00:00+09:00",
        },
    )
    prof, _ = run(s, "2026-11-22")
    (row,) = prof.values()
    assert (row["card_status"], row["card_spend_90d"]) == ("DORMANT", 1000)
    write_batch(
        s.landing_dir,
        "card",
        "customers",
        "2026-11-21",
        [frame("card", "customers", {"customer_no": "C9", "status": "ACTIVE"})],
        revision=2,
    )
    prof, _ = run(s, "2026-11-22")
    assert [r["card_status"] for r in prof.values()] == ["DORMANT"]
    assert ledger(s).filter(pl.col("feed") == "customers")["status"].to_list() == [
        "REPLACED",
        "LOADED",
        "LOADED",
    ]


def _card_customer(tmp_path: Path) -> Settings:
    """A dam whose card affiliate knows customer C1 since 2026-11-01."""
    s = settings_for(tmp_path)
    deliver(s, "card", "customers", "2026-11-01", {"customer_no": "C1"})
    return s


def _txn(s: Settings, day: str, approval_no: str, at: str, amount: str, *more: dict) -> None:
    """Deliver a card transactions batch of ``day``: one event of customer C1 (and ``more``)."""
    row = {"approval_no": approval_no, "approved_at": f"{at}T10:00:00+09:00", "amount": amount}
    deliver(s, "card", "transactions", day, row, *more)


def test_an_event_resent_later_is_the_same_event_and_a_correction_dropping_it_removes_it(
    tmp_path: Path,
) -> None:
    s = _card_customer(tmp_path)
    _txn(s, "2026-11-22", "A1", "2026-11-21", "100")
    _txn(s, "2026-11-23", "A1", "2026-11-22", "5000")
    prof, _ = run(s, "2026-11-23")
    assert [r["card_spend_90d"] for r in prof.values()] == [5000]
    write_batch(
        s.landing_dir,
        "card",
        "transactions",
        "2026-11-23",
        [
            frame(
                "card",
                "transactions",
                {"approval_no": "A2", "approved_at": "2026-11-23T10:00:00+09:00", "amount": "7"},
            )
        ],
        revision=2,
    )
    prof, _ = run(s, "2026-11-23")
    assert [r["card_spend_90d"] for r in prof.values()] == [107]


def test_a_re_delivery_that_fails_its_checks_leaves_the_loaded_delivery_standing(
    tmp_path: Path,
) -> None:
    # docs/silver-gold.md decision 11: a quarantined row is not loaded, so it is no delivery
    # that wins; the event keeps its last loaded version.
    s = _card_customer(tmp_path)
    _txn(s, "2026-11-22", "A1", "2026-11-21", "100")
    good = [
        {"approval_no": f"B{i}", "approved_at": "2026-11-23T10:00:00+09:00", "amount": "1"}
        for i in range(9)
    ]
    # one bad row of ten is not "more than 10%": the batch loads
    _txn(s, "2026-11-23", "A1", "2026-11-22", "5천", *good)
    prof, _ = run(s, "2026-11-23")
    assert [r["card_spend_90d"] for r in prof.values()] == [109]
    q = delta.read(s.table_path("audit", "quarantine"))
    assert q is not None
    assert q.select("business_date", "row_number", "column", "reason").rows() == [
        ("2026-11-23", 1, "amount", "TYPE")
    ]


def test_an_event_resent_with_a_moved_date_is_counted_once(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    deliver(s, "card", "customers", "2026-11-01", {"customer_no": "C1"})
    deliver(
        s,
        "card",
        "transactions",
        "2026-11-10",
        {"approval_no": "A1", "approved_at": "2026-11-10T10:00:00+09:00", "amount": "100"},
    )
    deliver(
        s,
        "card",
        "transactions",
        "2026-11-18",  # same event, corrected time: 11-11 (D-7)
        {"approval_no": "A1", "approved_at": "2026-11-11T10:00:00+09:00", "amount": "100"},
    )
    prof, _ = run(s, "2026-11-18")
    assert [r["card_spend_90d"] for r in prof.values()] == [100]


def test_an_event_moved_by_a_later_night_is_counted_once_incrementally(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    deliver(s, "card", "customers", "2026-11-01", {"customer_no": "C1"})
    deliver(
        s,
        "card",
        "transactions",
        "2026-11-10",
        {"approval_no": "A1", "approved_at": "2026-11-10T10:00:00+09:00", "amount": "100"},
    )
    prof, _ = run(s, "2026-11-10")  # full build: A1 lives in the 11-10 partition
    assert [r["card_spend_90d"] for r in prof.values()] == [100]
    deliver(
        s,
        "card",
        "transactions",
        "2026-11-18",
        {"approval_no": "A1", "approved_at": "2026-11-11T10:00:00+09:00", "amount": "120"},
    )
    prof, _ = run(s, "2026-11-18")  # incremental: recomputes 11-11..11-18 only
    assert [r["card_spend_90d"] for r in prof.values()] == [120]
    silver = pl.read_delta(str(s.warehouse_dir / "silver" / "card" / "transactions"))
    assert silver.select("approval_no", "event_date", "amount").rows() == [
        ("A1", date(2026, 11, 11), 120)
    ]
