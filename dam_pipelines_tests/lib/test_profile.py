"""gold/customer_profile: every column of contract §6 on tiny hand-built bronze."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dam_pipelines.lib import delta
from dam_pipelines.lib.gold import PROFILE, build_gold
from dam_pipelines.lib.profile import (
    PROFILE_SCHEMA,
    affiliate_summary,
    age_band,
    age_years,
    card_metrics,
    card_window_sums,
    demographics,
    widen,
)
from dam_pipelines_tests.bronzekit import BronzeKit, gcid

D = date(2026, 6, 30)


def day(offset: int) -> str:
    return (D + timedelta(days=offset)).isoformat()


def at(offset: int, hour: int = 12) -> str:
    return f"{day(offset)}T{hour:02d}:00:00+09:00"


@pytest.fixture
def kit(tmp_path: Path) -> BronzeKit:
    return BronzeKit(tmp_path / "warehouse")


def profile(kit: BronzeKit, as_of: date = D) -> dict[str, dict[str, Any]]:
    build_gold(kit.warehouse, as_of)
    df = delta.read(kit.warehouse / PROFILE)
    assert df is not None
    return {r["gcid"]: r for r in df.to_dicts()}


def card_customer(kit: BronzeKit, person: str = "alice", bd: str = "2026-01-01", **kw: Any) -> None:
    kit.load("card", "customers", bd, [{"customer_no": f"C-{person}", "person": person, **kw}])


def merchants(kit: BronzeKit, **categories: str) -> None:
    kit.load(
        "card",
        "merchants",
        "2026-01-01",
        [{"merchant_id": m, "category": c} for m, c in categories.items()],
    )


def txn(
    approval: str, offset: int, amount: int, *, person: str = "alice", **kw: Any
) -> dict[str, Any]:
    return {
        "approval_no": approval,
        "customer_no": f"C-{person}",
        "approved_at": at(offset),
        "amount": amount,
        **kw,
    }


# --- pure functions ------------------------------------------------------------------------


def test_age_in_whole_years_and_29_february() -> None:
    births = pl.DataFrame(
        {"birth_date": [date(1996, 6, 30), date(1996, 7, 1), date(2000, 2, 29), date(2026, 6, 30)]}
    )
    got = births.select(age_years(D))
    assert got["age"].to_list() == [30, 29, 26, 0]
    # 29 Feb birthday: not reached on 28 Feb of a common year, reached on 1 March
    feb29 = pl.DataFrame({"birth_date": [date(2000, 2, 29)]})
    assert feb29.select(age_years(date(2027, 2, 28))).item() == 26
    assert feb29.select(age_years(date(2027, 3, 1))).item() == 27
    assert feb29.select(age_years(date(2028, 2, 29))).item() == 28


def test_age_bands() -> None:
    ages = pl.DataFrame({"age": [0, 19, 20, 29, 30, 59, 60, 69, 70, 101]})
    assert_frame_equal(
        ages.select(age_band()),
        pl.DataFrame(
            {
                "age_band": [
                    "0-19",
                    "0-19",
                    "20-29",
                    "20-29",
                    "30-39",
                    "50-59",
                    "60-69",
                    "60-69",
                    "70+",
                    "70+",
                ]
            }
        ),
    )


def _rel(rows: list[tuple[str, str, str, bool]]) -> pl.LazyFrame:
    """(gcid, affiliate, status, consent) -> the relationships frame shape."""
    order = ("bank", "card", "securities", "life")
    return pl.LazyFrame(
        [
            {
                "gcid": g,
                "affiliate": a,
                "aff_rank": order.index(a),
                "status": s,
                "marketing_consent": c,
                "risk_grade": 3 if a == "securities" else None,
            }
            for g, a, s, c in rows
        ],
        schema={
            "gcid": pl.Utf8,
            "affiliate": pl.Utf8,
            "aff_rank": pl.Int64,
            "status": pl.Utf8,
            "marketing_consent": pl.Boolean,
            "risk_grade": pl.Int64,
        },
    )


def test_affiliate_summary_consent_ignores_closed_relationships() -> None:
    rel = _rel(
        [
            ("a", "bank", "ACTIVE", True),
            ("a", "card", "CLOSED", False),
            ("a", "securities", "DORMANT", True),
            ("b", "bank", "ACTIVE", True),
            ("b", "card", "ACTIVE", False),
            ("c", "bank", "CLOSED", True),
            ("c", "life", "CLOSED", True),
            ("d", "life", "ACTIVE", True),
        ]
    )
    got = affiliate_summary(rel).sort("gcid").collect()
    expected = pl.DataFrame(
        {
            "gcid": ["a", "b", "c", "d"],
            "bank_status": ["ACTIVE", "ACTIVE", "CLOSED", None],
            "card_status": ["CLOSED", "ACTIVE", None, None],
            "securities_status": ["DORMANT", None, None, None],
            "life_status": [None, None, "CLOSED", "ACTIVE"],
            "active_affiliate_count": [2, 2, 0, 1],
            "marketing_consent": [True, False, False, True],
            "risk_grade": [3, None, None, None],
        }
    )
    assert_frame_equal(got, expected)


def test_demographics_latest_instant_then_affiliate_order() -> None:
    utc = pl.Datetime("us", "UTC")
    rel = pl.LazyFrame(
        {
            "gcid": ["x", "x", "y", "y"],
            "aff_rank": [0, 1, 0, 2],
            "birth_date": [date(1990, 1, 1)] * 4,
            "gender": ["F", "F", "M", "F"],
            "sido_code": ["11", "26", "27", "28"],
            "updated_at": [
                "2026-06-01T01:00:00Z",
                "2026-06-01T02:00:00Z",  # x: card is later as an instant
                "2026-06-01T00:00:00Z",
                "2026-06-01T00:00:00Z",  # y: a tie, bank wins
            ],
        }
    ).with_columns(pl.col("updated_at").str.to_datetime(time_zone="UTC").cast(utc))
    got = demographics(rel, D).sort("gcid").collect()
    assert got.select("gcid", "sido_code", "gender").rows() == [("x", "26", "F"), ("y", "27", "M")]


def test_card_metrics_on_a_tiny_frame() -> None:
    txns = pl.LazyFrame(
        {
            "gcid": ["g"] * 6,
            "event_date": [D, D - timedelta(days=29), D - timedelta(days=30), D, D, D],
            "txn_type": ["PURCHASE", "PURCHASE", "PURCHASE", "CANCEL", "CASH_ADVANCE", "PURCHASE"],
            "amount": [100, 200, 400, 50, 9000, 800],
            "merchant_id": ["M1", "M2", "M1", "M2", "M1", "UNKNOWN"],
            "is_overseas": [False, False, False, False, False, True],
        }
    )
    shops = pl.LazyFrame({"merchant_id": ["M1", "M2"], "category": ["CAFE", "FUEL"]})
    got = card_metrics(widen(card_window_sums(txns, shops, D, by="gcid"), by="gcid")).collect()
    expected = pl.DataFrame(
        {
            "gcid": ["g"],
            "card_spend_30d": [100 + 200 - 50 + 800],
            "card_spend_90d": [100 + 200 + 400 - 50 + 800],
            "card_purchase_count_90d": [4],
            "card_cash_advance_90d": [9000],
            "card_overseas_share_90d": [800 / 1500],
            "card_top_category_90d": ["CAFE"],  # CAFE 500 > FUEL 150; UNKNOWN has no category
            "education_net_90d": pl.Series([None], dtype=pl.Int64),
        }
    )
    assert_frame_equal(got, expected)


# --- the gold table over bronze --------------------------------------------------------------


def test_one_row_per_gcid_with_every_column_in_order(kit: BronzeKit) -> None:
    card_customer(kit, "alice")
    kit.load(
        "bank",
        "customers",
        "2026-01-01",
        [{"customer_no": "B-alice", "person": "alice"}, {"customer_no": "B-bob", "person": "bob"}],
    )
    kit.load("life", "customers", "2026-01-01", [{"customer_no": "L-carol", "person": "carol"}])
    build_gold(kit.warehouse, D)
    df = delta.read(kit.warehouse / PROFILE)
    assert df is not None
    assert df.schema == PROFILE_SCHEMA
    assert df["gcid"].to_list() == sorted(gcid(p) for p in ("alice", "bob", "carol"))
    assert df["as_of_date"].unique().to_list() == [D]


def test_sido_from_latest_instant_with_affiliate_tie_order_and_legacy_codes(kit: BronzeKit) -> None:
    # alice: bank says 10:00+09:00 (01:00Z), card says 02:00+00:00 (02:00Z): card is later.
    kit.load(
        "bank",
        "customers",
        "2026-01-01",
        [
            {
                "customer_no": "B-alice",
                "person": "alice",
                "sido_code": "11",
                "updated_at": "2026-06-01T10:00:00+09:00",
            },
            {
                "customer_no": "B-bob",
                "person": "bob",
                "sido_code": "45",
                "gender": "F",
                "updated_at": "2026-06-01T09:00:00+09:00",
            },
        ],
    )
    kit.load(
        "card",
        "customers",
        "2026-01-01",
        [
            {
                "customer_no": "C-alice",
                "person": "alice",
                "sido_code": "42",
                "updated_at": "2026-06-01T02:00:00+00:00",
            },
        ],
    )
    # bob: securities at the same instant in another offset -> tie, bank wins (and its gender).
    kit.load(
        "securities",
        "customers",
        "2026-01-01",
        [
            {
                "customer_no": "S-bob",
                "person": "bob",
                "sido_code": "26",
                "gender": "M",
                "updated_at": "2026-06-01T00:00:00+00:00",
            },
        ],
    )
    p = profile(kit)
    assert p[gcid("alice")]["sido_code"] == "51"  # legacy 42 normalized
    assert p[gcid("bob")]["sido_code"] == "52"  # bank's legacy 45, the tie winner
    assert p[gcid("bob")]["gender"] == "F"


def test_statuses_counts_and_consent_across_relationships(kit: BronzeKit) -> None:
    kit.load(
        "bank",
        "customers",
        "2026-01-01",
        [
            {"customer_no": "B-alice", "person": "alice", "marketing_consent": "Y"},
            {"customer_no": "B-bob", "person": "bob", "marketing_consent": "Y"},
            {
                "customer_no": "B-carol",
                "person": "carol",
                "status": "CLOSED",
                "closed_on": "2025-01-01",
                "marketing_consent": "Y",
            },
        ],
    )
    kit.load(
        "card",
        "customers",
        "2026-01-01",
        [
            {
                "customer_no": "C-alice",
                "person": "alice",
                "status": "CLOSED",
                "closed_on": "2025-01-01",
                "marketing_consent": "N",
            },
            {"customer_no": "C-bob", "person": "bob", "marketing_consent": "N"},
        ],
    )
    kit.load(
        "securities",
        "customers",
        "2026-01-01",
        [{"customer_no": "S-alice", "person": "alice", "status": "DORMANT", "risk_grade": 2}],
    )
    p = profile(kit)
    a, b, c = p[gcid("alice")], p[gcid("bob")], p[gcid("carol")]
    assert (a["bank_status"], a["card_status"], a["securities_status"], a["life_status"]) == (
        "ACTIVE",
        "CLOSED",
        "DORMANT",
        None,
    )
    assert (a["active_affiliate_count"], a["marketing_consent"], a["risk_grade"]) == (2, True, 2)
    assert (b["active_affiliate_count"], b["marketing_consent"]) == (2, False)
    assert (c["active_affiliate_count"], c["marketing_consent"]) == (0, False)


def test_null_without_relationship_zero_with_one(kit: BronzeKit) -> None:
    card_customer(kit, "alice")  # a card customer with no activity at all
    kit.load(
        "bank",
        "customers",
        "2026-01-01",
        [{"customer_no": "B-bob", "person": "bob", "status": "CLOSED", "closed_on": "2025-01-01"}],
    )
    kit.load(
        "securities",
        "customers",
        "2026-01-01",
        [{"customer_no": "S-carol", "person": "carol", "risk_grade": None}],
    )
    kit.load("life", "customers", "2026-01-01", [{"customer_no": "L-dave", "person": "dave"}])
    p = profile(kit)
    card = ["card_spend_30d", "card_spend_90d", "card_purchase_count_90d", "card_cash_advance_90d"]
    bank = [
        "deposit_balance",
        "deposit_account_count",
        "loan_outstanding",
        "loan_max_days_past_due",
    ]
    sec = ["securities_market_value", "securities_trade_count_90d", "securities_trade_amount_90d"]
    life = [
        "insurance_active_policy_count",
        "insurance_monthly_premium",
        "insurance_sum_assured",
        "insurance_lapsed_policy_count",
        "premium_failed_count_90d",
    ]
    for person, zero in (("alice", card), ("bob", bank), ("carol", sec), ("dave", life)):
        row = p[gcid(person)]
        for col in card + bank + sec + life:
            assert row[col] == (0 if col in zero else None), (person, col)
        assert (row["total_assets"], row["net_assets"]) == (0, 0)
        assert row["card_overseas_share_90d"] is None
        assert row["card_top_category_90d"] is None
        assert row["risk_grade"] is None


def test_card_windows_at_their_exact_edges(kit: BronzeKit) -> None:
    card_customer(kit)
    merchants(kit, M1="CAFE")
    # each event in a batch of its own date, so D+1 is loaded but after D
    for i, offset in enumerate((0, -29, -30, -89, -90, 1)):
        kit.load("card", "transactions", day(offset), [txn(f"A{i}", offset, 10**i)])
    row = profile(kit)[gcid("alice")]
    assert row["card_spend_30d"] == 1 + 10  # D, D-29
    assert row["card_spend_90d"] == 1 + 10 + 100 + 1000  # D, D-29, D-30, D-89
    assert row["card_purchase_count_90d"] == 4
    # trades and premium payments use the same 90d window
    kit.load("securities", "customers", "2026-01-01", [{"customer_no": "S-a", "person": "alice"}])
    kit.load("life", "customers", "2026-01-01", [{"customer_no": "L-a", "person": "alice"}])
    for offset in (0, -89, -90):
        kit.load(
            "securities",
            "trades",
            day(offset),
            [
                {
                    "trade_id": f"T{offset}",
                    "customer_no": "S-a",
                    "executed_at": at(offset),
                    "amount": 7,
                }
            ],
        )
        kit.load(
            "life",
            "premium_payments",
            day(offset),
            [
                {
                    "payment_id": f"P{offset}",
                    "customer_no": "L-a",
                    "due_on": day(offset),
                    "result": "FAILED",
                }
            ],
        )
    row = profile(kit)[gcid("alice")]
    assert (row["securities_trade_count_90d"], row["securities_trade_amount_90d"]) == (2, 14)
    assert row["premium_failed_count_90d"] == 2


def test_event_date_is_the_kst_calendar_date(kit: BronzeKit) -> None:
    card_customer(kit)
    # 2026-04-01T23:30+09:00 is D-90 in KST (out); 2026-04-01T15:30Z is 04-02 00:30 KST (in)
    kit.load(
        "card",
        "transactions",
        day(-89),
        [
            {
                "approval_no": "K1",
                "customer_no": "C-alice",
                "approved_at": "2026-04-01T23:30:00+09:00",
                "amount": 1,
            },
            {
                "approval_no": "K2",
                "customer_no": "C-alice",
                "approved_at": "2026-04-01T15:30:00+00:00",
                "amount": 10,
            },
        ],
    )
    assert profile(kit)[gcid("alice")]["card_spend_90d"] == 10


def test_cancel_counts_on_its_own_date_in_its_own_merchants_category(kit: BronzeKit) -> None:
    card_customer(kit)
    merchants(kit, CAFE1="CAFE", GROC1="GROCERY")
    kit.load("card", "transactions", day(-95), [txn("P1", -95, 5000, merchant_id="CAFE1")])
    kit.load(
        "card",
        "transactions",
        day(-1),
        [
            txn("X1", -1, 5000, txn_type="CANCEL", original_approval_no="P1", merchant_id="CAFE1"),
            txn("X2", -1, 300, txn_type="CANCEL", original_approval_no="P0", merchant_id="GROC1"),
            txn("P2", -3, 1000, merchant_id="GROC1"),
            txn("P3", -3, 600, merchant_id="CAFE1"),
        ],
    )
    row = profile(kit)[gcid("alice")]
    assert row["card_spend_90d"] == 1000 + 600 - 5000 - 300  # the old purchase is out of window
    assert row["card_purchase_count_90d"] == 2
    # CAFE: 600 - 5000 < 0; GROCERY: 1000 - 300 = 700 > 0
    assert row["card_top_category_90d"] == "GROCERY"
    assert row["card_overseas_share_90d"] == 0.0


def test_top_category_ties_are_alphabetical_and_null_when_none_positive(kit: BronzeKit) -> None:
    card_customer(kit, "alice")
    card_customer(kit, "bob", bd="2026-01-02")
    merchants(kit, F1="FUEL", C1="CAFE", T1="TRAVEL")
    kit.load(
        "card",
        "transactions",
        day(0),
        [
            txn("A1", 0, 1000, merchant_id="F1"),
            txn("A2", 0, 1000, merchant_id="C1"),
            txn("A3", 0, 400, merchant_id="T1"),
            txn("B1", 0, 1000, person="bob", merchant_id="F1"),
            txn(
                "B2",
                0,
                1000,
                person="bob",
                merchant_id="F1",
                txn_type="CANCEL",
                original_approval_no="B1",
            ),
        ],
    )
    p = profile(kit)
    assert p[gcid("alice")]["card_top_category_90d"] == "CAFE"
    assert p[gcid("bob")]["card_top_category_90d"] is None  # net 0 is not positive
    assert p[gcid("bob")]["card_overseas_share_90d"] == 0.0


def test_unknown_merchant_counts_in_spend_but_not_in_top_category(kit: BronzeKit) -> None:
    card_customer(kit)
    merchants(kit, G1="GROCERY")
    kit.load(
        "card",
        "transactions",
        day(0),
        [
            txn("A1", 0, 7000, merchant_id="NOPE", is_overseas="Y"),
            txn("A2", 0, 1000, merchant_id="G1"),
            txn("A3", 0, 500, merchant_id="NOPE", txn_type="CASH_ADVANCE"),
        ],
    )
    row = profile(kit)[gcid("alice")]
    assert (row["card_spend_30d"], row["card_spend_90d"], row["card_purchase_count_90d"]) == (
        8000,
        8000,
        2,
    )
    assert row["card_cash_advance_90d"] == 500
    assert row["card_overseas_share_90d"] == pytest.approx(7000 / 8000)
    assert row["card_top_category_90d"] == "GROCERY"


def test_cash_advance_is_in_no_spend_or_category_metric(kit: BronzeKit) -> None:
    card_customer(kit)
    merchants(kit, T1="TRAVEL")
    kit.load(
        "card",
        "transactions",
        day(0),
        [txn("A1", 0, 50000, merchant_id="T1", txn_type="CASH_ADVANCE", is_overseas="Y")],
    )
    row = profile(kit)[gcid("alice")]
    assert (row["card_spend_30d"], row["card_spend_90d"], row["card_purchase_count_90d"]) == (
        0,
        0,
        0,
    )
    assert row["card_cash_advance_90d"] == 50000
    assert row["card_top_category_90d"] is None
    assert row["card_overseas_share_90d"] is None  # no purchase amount


def test_event_of_a_customer_known_only_later_counts_from_then_on(kit: BronzeKit) -> None:
    card_customer(kit, "bob")
    kit.load("card", "transactions", day(-1), [txn("A1", -1, 900, person="alice")])
    before = profile(kit, D - timedelta(days=1))
    assert gcid("alice") not in before
    assert before[gcid("bob")]["card_spend_90d"] == 0
    card_customer(kit, "alice", bd=day(0))  # late master data
    assert gcid("alice") not in profile(kit, D - timedelta(days=1))  # still unknown as of D-1
    assert profile(kit, D)[gcid("alice")]["card_spend_90d"] == 900


def test_a_revision_that_drops_an_event_removes_it_unless_delivered_elsewhere(
    kit: BronzeKit,
) -> None:
    card_customer(kit)
    kit.load("card", "transactions", day(-2), [txn("A3", -3, 100)])
    kit.load(
        "card", "transactions", day(-1), [txn("A1", -1, 1), txn("A2", -1, 10), txn("A3", -3, 1000)]
    )
    assert profile(kit)[gcid("alice")]["card_spend_90d"] == 1011
    kit.load("card", "transactions", day(-1), [txn("A1", -1, 1)], revision=2)
    # A2 is gone; A3 falls back to the delivery of D-2
    assert profile(kit)[gcid("alice")]["card_spend_90d"] == 101


def test_an_event_resent_later_with_a_new_amount_takes_the_latest(kit: BronzeKit) -> None:
    card_customer(kit)
    kit.load("card", "transactions", day(-3), [txn("A1", -4, 1000)])
    kit.load("card", "transactions", day(-1), [txn("A1", -4, 1500)])
    assert profile(kit)[gcid("alice")]["card_spend_90d"] == 1500
    # an older batch corrected afterwards does not beat the later delivery
    kit.load("card", "transactions", day(-3), [txn("A1", -4, 2000)], revision=2)
    assert profile(kit)[gcid("alice")]["card_spend_90d"] == 1500
    # but as of D-2 the corrected D-3 batch is the latest delivery
    assert profile(kit, D - timedelta(days=2))[gcid("alice")]["card_spend_90d"] == 2000


def _bank_customer(kit: BronzeKit, *persons: str) -> None:
    kit.load(
        "bank",
        "customers",
        "2026-01-01",
        [{"customer_no": f"B-{p}", "person": p} for p in persons or ("alice",)],
    )


def _accounts(kit: BronzeKit, bd: str, balance: int) -> None:
    kit.load(
        "bank",
        "deposit_accounts",
        bd,
        [{"account_no": "D1", "customer_no": "B-alice", "balance": balance}],
    )


def test_missing_snapshot_uses_the_previous_one(kit: BronzeKit) -> None:
    _bank_customer(kit)
    _accounts(kit, day(-2), 100)
    _accounts(kit, day(-1), 200)
    assert profile(kit)[gcid("alice")]["deposit_balance"] == 200


def test_rejected_snapshot_is_ignored(kit: BronzeKit) -> None:
    _bank_customer(kit)
    _accounts(kit, day(-1), 200)
    kit.reject("bank", "deposit_accounts", day(0))
    assert profile(kit)[gcid("alice")]["deposit_balance"] == 200
    # a rejected correction leaves the loaded revision in force
    _accounts(kit, day(0), 300)
    kit.reject("bank", "deposit_accounts", day(0), revision=2)
    assert profile(kit)[gcid("alice")]["deposit_balance"] == 300


def test_an_empty_snapshot_means_everything_is_gone(kit: BronzeKit) -> None:
    _bank_customer(kit)
    _accounts(kit, day(-1), 200)
    kit.load("bank", "deposit_accounts", day(0), [])
    row = profile(kit)[gcid("alice")]
    assert (row["deposit_balance"], row["deposit_account_count"]) == (0, 0)
    kit.redeliver("bank", "deposit_accounts", day(0))  # SKIPPED is still the loaded revision
    assert profile(kit)[gcid("alice")]["deposit_balance"] == 0


def test_an_older_snapshot_arriving_late_never_replaces_a_newer_one(kit: BronzeKit) -> None:
    _bank_customer(kit)
    _accounts(kit, day(0), 300)
    profile(kit)
    _accounts(kit, day(-2), 999)
    assert profile(kit)[gcid("alice")]["deposit_balance"] == 300
    assert profile(kit, D - timedelta(days=1))[gcid("alice")]["deposit_balance"] == 999


def test_deposits_and_loans_by_status(kit: BronzeKit) -> None:
    _bank_customer(kit, "alice", "bob")
    kit.load(
        "bank",
        "deposit_accounts",
        day(0),
        [
            {"account_no": "D1", "customer_no": "B-alice", "status": "ACTIVE", "balance": 100},
            {"account_no": "D2", "customer_no": "B-alice", "status": "DORMANT", "balance": 10},
            {
                "account_no": "D3",
                "customer_no": "B-alice",
                "status": "CLOSED",
                "balance": 1000,
                "closed_on": "2026-01-01",
            },
            {"account_no": "D9", "customer_no": "B-nobody", "status": "ACTIVE", "balance": 5},
        ],
    )
    kit.load(
        "bank",
        "loans",
        day(0),
        [
            {
                "loan_no": "L1",
                "customer_no": "B-alice",
                "status": "NORMAL",
                "outstanding_balance": 1000,
            },
            {
                "loan_no": "L2",
                "customer_no": "B-alice",
                "status": "DELINQUENT",
                "outstanding_balance": 500,
                "days_past_due": 30,
            },
            {
                "loan_no": "L3",
                "customer_no": "B-alice",
                "status": "DEFAULTED",
                "outstanding_balance": 200,
                "days_past_due": 90,
            },
            {
                "loan_no": "L4",
                "customer_no": "B-alice",
                "status": "WRITTEN_OFF",
                "outstanding_balance": 7777,
                "days_past_due": 400,
            },
            {
                "loan_no": "L5",
                "customer_no": "B-bob",
                "status": "REPAID",
                "outstanding_balance": 0,
                "days_past_due": 3,
            },
        ],
    )
    p = profile(kit)
    a, b = p[gcid("alice")], p[gcid("bob")]
    assert (a["deposit_balance"], a["deposit_account_count"]) == (110, 2)
    assert (a["loan_outstanding"], a["loan_max_days_past_due"]) == (1700, 90)
    assert (b["loan_outstanding"], b["loan_max_days_past_due"]) == (0, 0)
    assert (a["total_assets"], a["net_assets"]) == (110, 110 - 1700)
    assert gcid("nobody") not in p  # a snapshot row of an unknown customer makes no profile


def test_securities_columns(kit: BronzeKit) -> None:
    kit.load(
        "securities",
        "customers",
        "2026-01-01",
        [{"customer_no": "S-alice", "person": "alice", "risk_grade": 4}],
    )
    kit.load(
        "securities",
        "holdings",
        day(0),
        [
            {"account_no": "A", "symbol": "X", "customer_no": "S-alice", "market_value": 300},
            {"account_no": "A", "symbol": "Y", "customer_no": "S-alice", "market_value": 700},
            {"account_no": "Z", "symbol": "X", "customer_no": "S-nobody", "market_value": 1},
        ],
    )
    kit.load(
        "securities",
        "trades",
        day(0),
        [
            {"trade_id": "T1", "customer_no": "S-alice", "side": "BUY", "amount": 10},
            {"trade_id": "T2", "customer_no": "S-alice", "side": "SELL", "amount": 20},
            {"trade_id": "T3", "customer_no": "S-nobody", "side": "SELL", "amount": 40},
        ],
    )
    row = profile(kit)[gcid("alice")]
    assert row["securities_market_value"] == 1000
    assert (row["securities_trade_count_90d"], row["securities_trade_amount_90d"]) == (2, 30)
    assert row["risk_grade"] == 4
    assert row["total_assets"] == 1000


def test_insurance_columns_and_surrender_value_in_assets(kit: BronzeKit) -> None:
    kit.load("life", "customers", "2026-01-01", [{"customer_no": "L-alice", "person": "alice"}])
    kit.load("bank", "customers", "2026-01-01", [{"customer_no": "B-alice", "person": "alice"}])
    kit.load(
        "life",
        "policies",
        day(0),
        [
            {
                "policy_no": "P1",
                "customer_no": "L-alice",
                "status": "ACTIVE",
                "monthly_premium": 10,
                "sum_assured": 1000,
                "surrender_value": 5,
            },
            {
                "policy_no": "P2",
                "customer_no": "L-alice",
                "status": "ACTIVE",
                "monthly_premium": 20,
                "sum_assured": 2000,
                "surrender_value": 6,
            },
            {
                "policy_no": "P3",
                "customer_no": "L-alice",
                "status": "LAPSED",
                "lapsed_on": day(-5),
                "monthly_premium": 40,
                "sum_assured": 4000,
                "surrender_value": 700,
            },
            {
                "policy_no": "P4",
                "customer_no": "L-alice",
                "status": "SURRENDERED",
                "surrender_value": 8000,
            },
        ],
    )
    kit.load(
        "life",
        "premium_payments",
        day(0),
        [
            {"payment_id": "X1", "customer_no": "L-alice", "result": "FAILED"},
            {"payment_id": "X2", "customer_no": "L-alice", "result": "PAID", "paid_at": at(0)},
        ],
    )
    kit.load(
        "bank",
        "loans",
        day(0),
        [{"loan_no": "L1", "customer_no": "B-alice", "outstanding_balance": 100}],
    )
    row = profile(kit)[gcid("alice")]
    assert (
        row["insurance_active_policy_count"],
        row["insurance_monthly_premium"],
        row["insurance_sum_assured"],
        row["insurance_lapsed_policy_count"],
    ) == (2, 30, 3000, 1)
    assert row["premium_failed_count_90d"] == 1
    assert (row["total_assets"], row["net_assets"]) == (11, 11 - 100)


def test_life_stage_uses_integrated_data(kit: BronzeKit) -> None:
    kit.load(
        "bank",
        "customers",
        "2026-01-01",
        [
            {"customer_no": "B-young", "person": "young", "birth_date": "2000-01-01"},
            {"customer_no": "B-home", "person": "home", "birth_date": "1988-01-01"},
        ],
    )
    kit.load(
        "bank",
        "loans",
        day(0),
        [
            {
                "loan_no": "L1",
                "customer_no": "B-home",
                "loan_type": "JEONSE",
                "outstanding_balance": 1,
            }
        ],
    )
    kit.load(
        "card",
        "customers",
        "2026-01-01",
        [
            {"customer_no": "C-home", "person": "home", "birth_date": "1988-01-01"},
            {"customer_no": "C-parent", "person": "parent", "birth_date": "1985-01-01"},
        ],
    )
    merchants(kit, E1="EDUCATION")
    kit.load(
        "card", "transactions", day(0), [txn("A1", 0, 300000, person="parent", merchant_id="E1")]
    )
    p = profile(kit)
    assert p[gcid("young")]["life_stage"] == "YOUNG_ADULT"
    assert p[gcid("home")]["life_stage"] == "HOME_BUILDER"
    assert p[gcid("parent")]["life_stage"] == "FAMILY_WITH_CHILDREN"


# --- an independent computation over generated feeds ---------------------------------------

# Contract §6 written once more, as plain SQL straight over bronze and audit/batches (not over
# silver): what an auditor recomputing the published tables would write.
_ORACLE = """
WITH allc AS (
  SELECT 'bank' aff, 1 r, customer_no, gcid, birth_date, gender, sido_code, status,
         marketing_consent, NULL::BIGINT risk_grade, updated_at, business_date, _revision FROM c_bank
  UNION ALL SELECT 'card', 2, customer_no, gcid, birth_date, gender, sido_code, status,
         marketing_consent, NULL, updated_at, business_date, _revision FROM c_card
  UNION ALL SELECT 'securities', 3, customer_no, gcid, birth_date, gender, sido_code, status,
         marketing_consent, risk_grade, updated_at, business_date, _revision FROM c_securities
  UNION ALL SELECT 'life', 4, customer_no, gcid, birth_date, gender, sido_code, status,
         marketing_consent, NULL, updated_at, business_date, _revision FROM c_life),
cust AS (SELECT * FROM allc WHERE business_date <= $d QUALIFY row_number() OVER (
  PARTITION BY aff, customer_no ORDER BY business_date DESC, _revision DESC) = 1),
m AS (SELECT * FROM merch WHERE business_date <= $d QUALIFY row_number() OVER (
  PARTITION BY merchant_id ORDER BY business_date DESC, _revision DESC) = 1),
t AS (SELECT * FROM txn WHERE business_date <= $d QUALIFY row_number() OVER (
  PARTITION BY approval_no ORDER BY business_date DESC, _revision DESC) = 1),
tr AS (SELECT * FROM trade WHERE business_date <= $d QUALIFY row_number() OVER (
  PARTITION BY trade_id ORDER BY business_date DESC, _revision DESC) = 1),
pp AS (SELECT * FROM prem WHERE business_date <= $d QUALIFY row_number() OVER (
  PARTITION BY payment_id ORDER BY business_date DESC, _revision DESC) = 1),
snap AS (SELECT feed, max(business_date) bd FROM audit
  WHERE status IN ('LOADED', 'SKIPPED') AND business_date <= $d GROUP BY feed),
dep_s AS (SELECT * FROM dep WHERE business_date = (SELECT bd FROM snap WHERE feed = 'deposit_accounts')),
loan_s AS (SELECT * FROM loan WHERE business_date = (SELECT bd FROM snap WHERE feed = 'loans')),
hold_s AS (SELECT * FROM hold WHERE business_date = (SELECT bd FROM snap WHERE feed = 'holdings')),
pol_s AS (SELECT * FROM pol WHERE business_date = (SELECT bd FROM snap WHERE feed = 'policies')),
demo AS (SELECT gcid, birth_date, gender,
    CASE sido_code WHEN '42' THEN '51' WHEN '45' THEN '52' ELSE sido_code END sido
  FROM cust QUALIFY row_number() OVER (PARTITION BY gcid ORDER BY updated_at DESC, r) = 1),
rel AS (SELECT gcid,
    max(status) FILTER (WHERE aff = 'bank') bank_status,
    max(status) FILTER (WHERE aff = 'card') card_status,
    max(status) FILTER (WHERE aff = 'securities') securities_status,
    max(status) FILTER (WHERE aff = 'life') life_status,
    count(*) FILTER (WHERE status <> 'CLOSED') active,
    count(*) FILTER (WHERE status <> 'CLOSED') > 0
      AND count(*) FILTER (WHERE status <> 'CLOSED' AND NOT marketing_consent) = 0 consent,
    max(risk_grade) FILTER (WHERE aff = 'securities') risk_grade
  FROM cust GROUP BY gcid),
tc AS (SELECT t.*, c.gcid FROM t JOIN cust c ON c.aff = 'card' AND c.customer_no = t.customer_no
  WHERE t.event_date BETWEEN $day - 89 AND $day),
card AS (SELECT gcid,
    sum(CASE WHEN txn_type = 'PURCHASE' THEN amount WHEN txn_type = 'CANCEL' THEN -amount ELSE 0 END)
      FILTER (WHERE event_date >= $day - 29) s30,
    sum(CASE WHEN txn_type = 'PURCHASE' THEN amount WHEN txn_type = 'CANCEL' THEN -amount ELSE 0 END) s90,
    count(*) FILTER (WHERE txn_type = 'PURCHASE') pc,
    sum(amount) FILTER (WHERE txn_type = 'CASH_ADVANCE') ca,
    sum(amount) FILTER (WHERE txn_type = 'PURCHASE' AND is_overseas) ov,
    sum(amount) FILTER (WHERE txn_type = 'PURCHASE') pa
  FROM tc GROUP BY gcid),
catnet AS (SELECT gcid, m.category,
    sum(CASE WHEN txn_type = 'PURCHASE' THEN amount ELSE -amount END) net
  FROM tc JOIN m USING (merchant_id) WHERE txn_type IN ('PURCHASE', 'CANCEL') GROUP BY ALL),
top AS (SELECT gcid, category FROM catnet WHERE net > 0
  QUALIFY row_number() OVER (PARTITION BY gcid ORDER BY net DESC, category) = 1),
bank AS (SELECT c.gcid, sum(balance) bal, count(*) n FROM dep_s d
  JOIN cust c ON c.aff = 'bank' AND c.customer_no = d.customer_no
  WHERE d.status IN ('ACTIVE', 'DORMANT') GROUP BY 1),
ln AS (SELECT c.gcid, sum(outstanding_balance) o, max(days_past_due) dpd FROM loan_s l
  JOIN cust c ON c.aff = 'bank' AND c.customer_no = l.customer_no
  WHERE l.status IN ('NORMAL', 'DELINQUENT', 'DEFAULTED') GROUP BY 1),
hv AS (SELECT c.gcid, sum(market_value) mv FROM hold_s h
  JOIN cust c ON c.aff = 'securities' AND c.customer_no = h.customer_no GROUP BY 1),
tv AS (SELECT c.gcid, count(*) n, sum(amount) a FROM tr
  JOIN cust c ON c.aff = 'securities' AND c.customer_no = tr.customer_no
  WHERE event_date BETWEEN $day - 89 AND $day GROUP BY 1),
pv AS (SELECT c.gcid, count(*) FILTER (WHERE p.status = 'ACTIVE') act,
    sum(monthly_premium) FILTER (WHERE p.status = 'ACTIVE') mp,
    sum(sum_assured) FILTER (WHERE p.status = 'ACTIVE') sa,
    count(*) FILTER (WHERE p.status = 'LAPSED') lapsed,
    sum(surrender_value) FILTER (WHERE p.status = 'ACTIVE') sv
  FROM pol_s p JOIN cust c ON c.aff = 'life' AND c.customer_no = p.customer_no GROUP BY 1),
fv AS (SELECT c.gcid, count(*) FILTER (WHERE result = 'FAILED') f FROM pp
  JOIN cust c ON c.aff = 'life' AND c.customer_no = pp.customer_no
  WHERE event_date BETWEEN $day - 89 AND $day GROUP BY 1)
SELECT gcid,
  year($day) - year(birth_date)
    - CASE WHEN month(birth_date) * 100 + day(birth_date) > month($day) * 100 + day($day)
      THEN 1 ELSE 0 END age,
  gender, sido sido_code, bank_status, card_status, securities_status, life_status,
  active active_affiliate_count, consent marketing_consent,
  CASE WHEN card_status IS NOT NULL THEN coalesce(s30, 0) END card_spend_30d,
  CASE WHEN card_status IS NOT NULL THEN coalesce(s90, 0) END card_spend_90d,
  CASE WHEN card_status IS NOT NULL THEN coalesce(pc, 0) END card_purchase_count_90d,
  CASE WHEN card_status IS NOT NULL THEN coalesce(ca, 0) END card_cash_advance_90d,
  CASE WHEN coalesce(pa, 0) > 0 THEN coalesce(ov, 0)::DOUBLE / pa END card_overseas_share_90d,
  top.category card_top_category_90d,
  CASE WHEN bank_status IS NOT NULL THEN coalesce(bal, 0) END deposit_balance,
  CASE WHEN bank_status IS NOT NULL THEN coalesce(bank.n, 0) END deposit_account_count,
  CASE WHEN bank_status IS NOT NULL THEN coalesce(o, 0) END loan_outstanding,
  CASE WHEN bank_status IS NOT NULL THEN coalesce(dpd, 0) END loan_max_days_past_due,
  CASE WHEN securities_status IS NOT NULL THEN coalesce(mv, 0) END securities_market_value,
  CASE WHEN securities_status IS NOT NULL THEN coalesce(tv.n, 0) END securities_trade_count_90d,
  CASE WHEN securities_status IS NOT NULL THEN coalesce(tv.a, 0) END securities_trade_amount_90d,
  rel.risk_grade,
  CASE WHEN life_status IS NOT NULL THEN coalesce(act, 0) END insurance_active_policy_count,
  CASE WHEN life_status IS NOT NULL THEN coalesce(mp, 0) END insurance_monthly_premium,
  CASE WHEN life_status IS NOT NULL THEN coalesce(sa, 0) END insurance_sum_assured,
  CASE WHEN life_status IS NOT NULL THEN coalesce(lapsed, 0) END insurance_lapsed_policy_count,
  CASE WHEN life_status IS NOT NULL THEN coalesce(f, 0) END premium_failed_count_90d,
  coalesce(bal, 0) + coalesce(mv, 0) + coalesce(sv, 0) total_assets,
  coalesce(bal, 0) + coalesce(mv, 0) + coalesce(sv, 0) - coalesce(o, 0) net_assets
FROM demo JOIN rel USING (gcid) LEFT JOIN card USING (gcid) LEFT JOIN top USING (gcid)
LEFT JOIN bank USING (gcid) LEFT JOIN ln USING (gcid) LEFT JOIN hv USING (gcid)
LEFT JOIN tv USING (gcid) LEFT JOIN pv USING (gcid) LEFT JOIN fv USING (gcid)
ORDER BY gcid
"""


def _oracle_profile(warehouse: Path, as_of: date) -> pl.DataFrame:
    import duckdb

    con = duckdb.connect()
    tables = {f"c_{a}": (a, "customers") for a in ("bank", "card", "securities", "life")} | {
        "merch": ("card", "merchants"),
        "txn": ("card", "transactions"),
        "dep": ("bank", "deposit_accounts"),
        "loan": ("bank", "loans"),
        "hold": ("securities", "holdings"),
        "trade": ("securities", "trades"),
        "pol": ("life", "policies"),
        "prem": ("life", "premium_payments"),
    }
    for name, (aff, feed) in tables.items():
        df = delta.read(warehouse / "bronze" / aff / feed)
        assert df is not None, (aff, feed)
        con.register(name, df.to_arrow())
    audit = delta.read(warehouse / "audit" / "batches")
    assert audit is not None
    con.register("audit", audit.to_arrow())
    params = {"d": as_of.isoformat(), "day": as_of}
    return con.execute(_ORACLE, params).pl()


@pytest.mark.slow
def test_profile_equals_an_independent_sql_computation_over_generated_feeds(settings) -> None:
    from datetime import UTC, datetime

    from dam_pipelines.lib.generate import generate_landing
    from dam_pipelines.lib.ingest import ingest_feeds
    from dam_pipelines.lib.registry import FEEDS
    from dam_pipelines.lib.silver import build_silver

    start = date(2026, 1, 1)
    generate_landing(settings.landing_dir, customers=400, days=12, start=start, seed=7, faults=True)
    for i in range(12):
        night = start + timedelta(days=i)
        ingest_feeds(
            settings,
            FEEDS,
            night,
            run_id=f"night-{i}",
            now=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=i),
        )
        build_silver(settings.warehouse_dir, night)
    for as_of in (start + timedelta(days=11), start + timedelta(days=6)):
        build_gold(settings.warehouse_dir, as_of)
        gold = delta.read(settings.warehouse_dir / PROFILE)
        assert gold is not None
        expected = _oracle_profile(settings.warehouse_dir, as_of)
        got = gold.select(expected.columns)
        assert expected.height == got.height > 300
        assert_frame_equal(got, expected, check_dtypes=False, abs_tol=1e-12)
