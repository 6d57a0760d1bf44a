"""Contract §6 (gold/customer_profile and gold/card_category_trends), end to end from landing."""

from __future__ import annotations

from pathlib import Path

import pytest

from dam_pipelines.lib.pseudonym import gcid
from dam_pipelines_tests.contract.kit import KEY, deliver, run, settings_for

D = "2026-11-24"
RRN = "900101-1234567"
G = gcid(RRN, KEY)


def _at(day: str, time: str = "12:00:00+09:00") -> str:
    return f"{day}T{time}"


def test_sido_latest_instant_then_bank_card_securities_life_and_legacy_codes(
    tmp_path: Path,
) -> None:
    s = settings_for(tmp_path)
    # same instant written with two offsets: a tie, broken by affiliate order (bank first)
    deliver(
        s,
        "card",
        "customers",
        "2026-11-20",
        {"sido_code": "11", "updated_at": "2026-11-20T09:00:00+09:00"},
    )
    deliver(
        s,
        "life",
        "customers",
        "2026-11-20",
        {"sido_code": "26", "updated_at": "2026-11-20T00:00:00Z"},
    )
    deliver(
        s,
        "bank",
        "customers",
        "2026-11-20",
        {
            "sido_code": "42",
            "status": "CLOSED",
            "closed_on": "2026-01-01",
            "updated_at": "2026-11-20T00:00:00+00:00",
        },
    )
    prof, _ = run(s, D)
    assert prof[G]["sido_code"] == "51"  # bank's legacy 42, CLOSED included
    # a later instant wins even though its wall-clock time is earlier
    deliver(
        s,
        "securities",
        "customers",
        "2026-11-21",
        {"sido_code": "45", "updated_at": "2026-11-20T05:00:00-05:00", "risk_grade": "2"},
    )
    prof, _ = run(s, D)
    row = prof[G]
    assert (row["sido_code"], row["risk_grade"]) == ("52", 2)
    assert (
        row["bank_status"],
        row["card_status"],
        row["securities_status"],
        row["life_status"],
    ) == ("CLOSED", "ACTIVE", "ACTIVE", "ACTIVE")
    assert row["active_affiliate_count"] == 3


def test_card_metrics_windows_cancel_cash_advance_and_unknown_merchant(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    deliver(s, "card", "customers", "2026-08-01", {})
    deliver(
        s,
        "card",
        "merchants",
        "2026-08-01",
        {"merchant_id": "M1", "category": "CAFE"},
        {"merchant_id": "M2", "category": "FUEL"},
    )
    deliver(
        s,
        "card",
        "transactions",
        "2026-08-27",  # D-89 (in 90d) and D-90 (out)
        {"approval_no": "A1", "approved_at": _at("2026-08-27"), "amount": "100"},
        {"approval_no": "A2", "approved_at": _at("2026-08-26"), "amount": "1"},
    )
    deliver(
        s,
        "card",
        "transactions",
        "2026-10-26",  # D-29 (in 30d); D-30 only in 90d
        {
            "approval_no": "B1",
            "approved_at": _at("2026-10-26"),
            "amount": "1000",
            "is_overseas": "Y",
        },
        {
            "approval_no": "B2",
            "approved_at": _at("2026-10-25"),
            "amount": "10000",
            "merchant_id": "M2",
        },
    )
    deliver(
        s,
        "card",
        "transactions",
        D,
        {
            "approval_no": "C1",
            "approved_at": _at(D),
            "txn_type": "CANCEL",
            "original_approval_no": "B2",
            "amount": "9500",
            "merchant_id": "M2",
        },
        {"approval_no": "C2", "approved_at": _at(D), "txn_type": "CASH_ADVANCE", "amount": "777"},
        {"approval_no": "C3", "approved_at": _at(D), "amount": "50", "merchant_id": "M404"},
    )
    prof, _ = run(s, D)
    row = prof[G]
    assert row["card_spend_30d"] == 1000 - 9500 + 50
    assert row["card_spend_90d"] == 100 + 1000 + 10000 - 9500 + 50
    assert row["card_purchase_count_90d"] == 4
    assert row["card_cash_advance_90d"] == 777
    assert row["card_overseas_share_90d"] == pytest.approx(1000 / 11150)
    # CAFE 1100 vs FUEL 500; the unknown merchant's 50 is in no category
    assert row["card_top_category_90d"] == "CAFE"


def test_null_without_relationship_zero_with_one_and_assets(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    deliver(s, "bank", "customers", "2026-11-01", {})
    deliver(s, "life", "customers", "2026-11-01", {"marketing_consent": "N"})
    deliver(
        s,
        "bank",
        "deposit_accounts",
        D,
        {"account_no": "D1", "balance": "300"},
        {"account_no": "D2", "balance": "50", "status": "DORMANT"},
        {"account_no": "D3", "balance": "9999", "status": "CLOSED"},
    )
    deliver(
        s,
        "bank",
        "loans",
        D,
        {
            "loan_no": "L1",
            "outstanding_balance": "1000",
            "days_past_due": "3",
            "status": "DELINQUENT",
        },
        {"loan_no": "L2", "outstanding_balance": "7", "days_past_due": "99", "status": "REPAID"},
    )
    deliver(
        s,
        "life",
        "policies",
        D,
        {"policy_no": "P1", "surrender_value": "20"},
        {"policy_no": "P2", "status": "LAPSED", "lapsed_on": "2026-01-01", "surrender_value": "5"},
    )
    prof, _ = run(s, D)
    row = prof[G]
    assert row["card_spend_30d"] is None and row["card_overseas_share_90d"] is None
    assert row["securities_market_value"] is None and row["risk_grade"] is None
    assert (row["deposit_balance"], row["deposit_account_count"]) == (350, 2)
    assert (row["loan_outstanding"], row["loan_max_days_past_due"]) == (1000, 3)
    assert (row["insurance_active_policy_count"], row["insurance_lapsed_policy_count"]) == (1, 1)
    assert row["premium_failed_count_90d"] == 0
    assert (row["total_assets"], row["net_assets"]) == (370, -630)
    assert row["marketing_consent"] is False  # an open relationship says N


def test_trends_publish_cells_of_exactly_k_and_suppress_fewer(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    people = [
        {"customer_no": f"C{i}", "rrn": f"9001{i:02d}-1234567", "birth_date": f"1990-01-{i:02d}"}
        for i in range(1, 10)
    ]
    deliver(s, "card", "customers", "2026-11-01", *people)
    deliver(
        s,
        "card",
        "merchants",
        "2026-11-01",
        {"merchant_id": "M1", "category": "CAFE", "sido_code": "45"},
        {"merchant_id": "M2", "category": "FUEL"},
    )
    txns = [
        {
            "approval_no": f"A{i}",
            "customer_no": f"C{i}",
            "approved_at": _at("2026-10-31", "23:59:59+09:00"),
            "merchant_id": "M1",
            "amount": "100",
        }
        for i in range(1, 6)
    ]  # 5 customers in 2026-10
    txns += [
        {
            "approval_no": f"B{i}",
            "customer_no": f"C{i}",
            "approved_at": _at("2026-11-01", "00:00:00+09:00"),
            "merchant_id": "M2",
            "amount": "10",
        }
        for i in range(1, 5)
    ]  # 4 customers in 2026-11
    txns += [
        {
            "approval_no": "X1",
            "customer_no": "C9",
            "approved_at": _at("2026-11-01"),
            "merchant_id": "M1",
            "txn_type": "CANCEL",
            "original_approval_no": "A1",
            "amount": "30",
        }
    ]
    deliver(s, "card", "transactions", "2026-11-01", *txns)
    _, trends = run(s, D)
    assert trends.rows() == [("2026-10", "52", "CAFE", "30-39", 5, 5, 500)]
    # the cancel in 2026-11 at M1 makes a cell with one customer: suppressed
