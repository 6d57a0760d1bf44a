"""gold/card_category_trends: cells, attributes as of D, exclusions and k-anonymity."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from dam_pipelines.lib import delta
from dam_pipelines.lib.gold import TRENDS, build_gold
from dam_pipelines.lib.trends import TRENDS_SCHEMA, category_trends, monthly_rollup
from dam_pipelines_tests.bronzekit import BronzeKit

D = date(2026, 6, 30)


@pytest.fixture
def kit(tmp_path: Path) -> BronzeKit:
    return BronzeKit(tmp_path / "warehouse")


def trends(kit: BronzeKit, as_of: date = D, k: int = 5) -> list[tuple[Any, ...]]:
    build_gold(kit.warehouse, as_of, k=k)
    df = delta.read(kit.warehouse / TRENDS)
    assert df is not None
    assert df.schema == TRENDS_SCHEMA
    return df.rows()


def customers(kit: BronzeKit, n: int, bd: str = "2026-01-01", **kw: Any) -> None:
    kit.load(
        "card",
        "customers",
        bd,
        [
            {"customer_no": f"C{i}", "person": f"p{i}", "birth_date": "1980-01-01", **kw}
            for i in range(n)
        ],
    )


def txn(no: str, customer: int, when: str, amount: int = 100, **kw: Any) -> dict[str, Any]:
    return {
        "approval_no": no,
        "customer_no": f"C{customer}",
        "approved_at": f"{when}T12:00:00+09:00",
        "amount": amount,
        **kw,
    }


# --- pure functions ------------------------------------------------------------------------


def test_monthly_rollup_counts_purchase_and_cancel_only() -> None:
    txns = pl.LazyFrame(
        {
            "event_date": [date(2026, 5, 31), date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)],
            "customer_no": ["C1"] * 4,
            "merchant_id": ["M1", "M1", "M1", "M2"],
            "txn_type": ["PURCHASE", "PURCHASE", "CANCEL", "CASH_ADVANCE"],
            "amount": [1, 10, 4, 1000],
            # the cancel came in a later batch than the purchase: a row of its own
            "business_date": [date(2026, 6, 1), date(2026, 6, 1), date(2026, 6, 2), None],
        }
    )
    expected = pl.DataFrame(
        {
            "month": ["2026-05", "2026-06", "2026-06"],
            "customer_no": ["C1", "C1", "C1"],
            "merchant_id": ["M1", "M1", "M1"],
            "business_date": [date(2026, 6, 1), date(2026, 6, 1), date(2026, 6, 2)],
            "purchase_count": [1, 1, 0],
            "purchase_amount": [1, 10, 0],
            "cancel_count": [0, 0, 1],
            "cancel_amount": [0, 0, 4],
        }
    )
    key = ["month", "customer_no", "merchant_id", "business_date"]
    got = monthly_rollup(txns).collect().sort(key)
    assert_frame_equal(got, expected.sort(key))


def _rollup(cells: dict[str, int]) -> pl.LazyFrame:
    """merchant -> number of distinct customers buying there once for 100 in 2026-06."""
    rows = [
        {
            "month": "2026-06",
            "customer_no": f"C{i}",
            "merchant_id": m,
            "purchase_count": 1,
            "purchase_amount": 100,
            "cancel_count": 0,
            "cancel_amount": 0,
        }
        for m, n in cells.items()
        for i in range(n)
    ]
    return pl.LazyFrame(rows)


def test_cells_below_k_are_not_published() -> None:
    cards = pl.LazyFrame(
        {"customer_no": [f"C{i}" for i in range(5)], "gcid": [f"g{i}" for i in range(5)]}
    )
    bands = pl.LazyFrame({"gcid": [f"g{i}" for i in range(5)], "age_band": ["40-49"] * 5})
    shops = pl.LazyFrame(
        {"merchant_id": ["M5", "M4"], "sido_code": ["11", "11"], "category": ["CAFE", "FUEL"]}
    )
    rollup = _rollup({"M5": 5, "M4": 4})
    at_5 = category_trends(rollup, cards, bands, shops, k=5).collect()
    assert at_5.rows() == [("2026-06", "11", "CAFE", "40-49", 5, 5, 500)]
    at_4 = category_trends(rollup, cards, bands, shops, k=4).collect()
    assert at_4["category"].to_list() == ["CAFE", "FUEL"]
    with pytest.raises(ValueError):
        category_trends(rollup, cards, bands, shops, k=0)


def test_customers_are_counted_once_per_person() -> None:
    """Distinct gcids: two card numbers of one person (a producer's mistake) count once."""
    cards = pl.LazyFrame(
        {"customer_no": [f"C{i}" for i in range(6)], "gcid": [*(f"g{i}" for i in range(5)), "g0"]}
    )
    bands = pl.LazyFrame({"gcid": [f"g{i}" for i in range(5)], "age_band": ["40-49"] * 5})
    shops = pl.LazyFrame({"merchant_id": ["M6"], "sido_code": ["11"], "category": ["CAFE"]})
    got = category_trends(_rollup({"M6": 6}), cards, bands, shops, k=5).collect()
    assert got.rows() == [("2026-06", "11", "CAFE", "40-49", 5, 6, 600)]
    assert category_trends(_rollup({"M6": 6}), cards, bands, shops, k=6).collect().is_empty()


# --- the gold table over bronze --------------------------------------------------------------


def test_k_anonymity_at_k_minus_one_and_k(kit: BronzeKit) -> None:
    customers(kit, 9)
    kit.load(
        "card",
        "merchants",
        "2026-01-01",
        [{"merchant_id": "M1", "category": "CAFE"}, {"merchant_id": "M2", "category": "FUEL"}],
    )
    kit.load(
        "card",
        "transactions",
        "2026-06-10",
        [
            *[txn(f"A{i}", i, "2026-06-10", merchant_id="M1") for i in range(5)],
            *[txn(f"B{i}", 5 + i, "2026-06-10", merchant_id="M2") for i in range(4)],
            txn("A9", 0, "2026-06-10", merchant_id="M1"),  # a second purchase of the same customer
            # a cash advance makes no customer of the FUEL cell
            txn("B9", 0, "2026-06-10", merchant_id="M2", txn_type="CASH_ADVANCE"),
        ],
    )
    assert trends(kit) == [("2026-06", "11", "CAFE", "40-49", 5, 6, 600)]
    assert trends(kit, k=4) == [
        ("2026-06", "11", "CAFE", "40-49", 5, 6, 600),
        ("2026-06", "11", "FUEL", "40-49", 4, 4, 400),
    ]
    assert trends(kit, k=6) == []
    assert DeltaTable(str(kit.warehouse / TRENDS)).history(1)[0]["dam.as_of"] == D.isoformat()


def test_exclusions_cancels_and_no_lower_bound(kit: BronzeKit) -> None:
    customers(kit, 5)
    kit.load(
        "card",
        "merchants",
        "2026-01-01",
        [{"merchant_id": "M1", "category": "CAFE"}, {"merchant_id": "M2", "category": "GROCERY"}],
    )
    # a year back: still counted (no lower bound)
    kit.load(
        "card",
        "transactions",
        "2025-06-10",
        [txn(f"O{i}", i, "2025-06-10", merchant_id="M1") for i in range(5)],
    )
    kit.load(
        "card",
        "transactions",
        "2026-05-31",
        [txn(f"P{i}", i, "2026-05-31", 1000, merchant_id="M1") for i in range(5)],
    )
    kit.load(
        "card",
        "transactions",
        "2026-06-02",
        [
            # cancels of May's purchases: June, in the cancel's own merchant's category
            *[
                txn(
                    f"X{i}",
                    i,
                    "2026-06-01",
                    300,
                    merchant_id="M2",
                    txn_type="CANCEL",
                    original_approval_no=f"P{i}",
                )
                for i in range(5)
            ],
            *[
                txn(f"Y{i}", i, "2026-06-01", 9999, merchant_id="M2", txn_type="CASH_ADVANCE")
                for i in range(5)
            ],
            *[txn(f"U{i}", i, "2026-06-01", 7, merchant_id="M-UNKNOWN") for i in range(5)],
            *[txn(f"Z{i}", 100 + i, "2026-06-01", 5, merchant_id="M2") for i in range(5)],
        ],
    )
    assert trends(kit) == [
        ("2025-06", "11", "CAFE", "40-49", 5, 5, 500),
        ("2026-05", "11", "CAFE", "40-49", 5, 5, 5000),
        ("2026-06", "11", "GROCERY", "40-49", 5, 0, -1500),
    ]


def test_merchant_and_age_attributes_are_those_as_of_d(kit: BronzeKit) -> None:
    # five customers turning 30 on D: 20-29 as of D-1, 30-39 as of D, for old months too
    customers(kit, 5, birth_date="1996-06-30")
    kit.load(
        "card",
        "merchants",
        "2026-01-01",
        [{"merchant_id": "M1", "category": "CAFE", "sido_code": "11"}],
    )
    kit.load(
        "card",
        "merchants",
        "2026-06-30",
        [{"merchant_id": "M1", "category": "TRAVEL", "sido_code": "42"}],
    )
    kit.load(
        "card",
        "transactions",
        "2026-02-01",
        [txn(f"A{i}", i, "2026-02-01", merchant_id="M1") for i in range(5)],
    )
    assert trends(kit, D - timedelta(days=1)) == [("2026-02", "11", "CAFE", "20-29", 5, 5, 500)]
    assert trends(kit, D) == [("2026-02", "51", "TRAVEL", "30-39", 5, 5, 500)]


def test_a_customer_known_only_later_joins_the_cells_from_then_on(kit: BronzeKit) -> None:
    customers(kit, 4)
    kit.load("card", "merchants", "2026-01-01", [{"merchant_id": "M1", "category": "CAFE"}])
    kit.load(
        "card",
        "transactions",
        "2026-06-20",
        [txn(f"A{i}", i, "2026-06-20", merchant_id="M1") for i in range(5)],
    )
    assert trends(kit, date(2026, 6, 20)) == []  # C4 unknown: 4 customers only
    kit.load(
        "card",
        "customers",
        "2026-06-25",
        [{"customer_no": "C4", "person": "p4", "birth_date": "1980-01-01"}],
    )
    assert trends(kit, date(2026, 6, 24)) == []
    assert trends(kit, date(2026, 6, 25)) == [("2026-06", "11", "CAFE", "40-49", 5, 5, 500)]
