"""End-to-end helpers for the contract conformance tests: landing batch -> ingest -> silver -> gold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from dam_pipelines.lib.gold import build_gold
from dam_pipelines.lib.ingest import ingest_feeds, read_ledger
from dam_pipelines.lib.landing import write_batch
from dam_pipelines.lib.registry import FEEDS, get_feed
from dam_pipelines.settings import Settings, load_settings
from dam_pipelines_tests import feedkit

KEY = "k" * 20

DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("any", "customers"): {**feedkit.CUSTOMER, "customer_no": "C1"},
    ("card", "merchants"): {
        "merchant_id": "M1",
        "merchant_name": "가게",
        "category": "GROCERY",
        "sido_code": "11",
        "updated_at": "2026-11-20T09:00:00+09:00",
    },
    ("card", "transactions"): {
        "approval_no": "A1",
        "customer_no": "C1",
        "card_no": "123456******3456",
        "approved_at": "2026-11-24T13:05:09+09:00",
        "txn_type": "PURCHASE",
        "original_approval_no": None,
        "amount": "1000",
        "installment_months": "0",
        "merchant_id": "M1",
        "channel": "OFFLINE",
        "is_overseas": "N",
    },
    ("bank", "deposit_accounts"): {
        "account_no": "D1",
        "customer_no": "C1",
        "product_type": "DEMAND",
        "opened_on": "2020-01-01",
        "closed_on": None,
        "status": "ACTIVE",
        "balance": "100",
        "interest_rate": "0.5",
    },
    ("bank", "loans"): {
        "loan_no": "L1",
        "customer_no": "C1",
        "loan_type": "CREDIT",
        "principal": "1000",
        "outstanding_balance": "500",
        "interest_rate": "4.5",
        "opened_on": "2020-01-01",
        "maturity_on": "2030-01-01",
        "days_past_due": "0",
        "status": "NORMAL",
    },
    ("securities", "trades"): {
        "trade_id": "T1",
        "customer_no": "C1",
        "account_no": "S1",
        "executed_at": "2026-11-24T10:00:00+09:00",
        "market": "KOSPI",
        "symbol": "005930",
        "side": "BUY",
        "quantity": "1",
        "price": "70000",
        "amount": "70000",
        "fee": "10",
    },
    ("securities", "holdings"): {
        "account_no": "S1",
        "customer_no": "C1",
        "symbol": "005930",
        "market": "KOSPI",
        "quantity": "1",
        "avg_cost": "70000",
        "market_value": "71000",
    },
    ("life", "policies"): {
        "policy_no": "P1",
        "customer_no": "C1",
        "product_type": "TERM",
        "contracted_on": "2020-01-01",
        "status": "ACTIVE",
        "monthly_premium": "100",
        "sum_assured": "10000",
        "paid_months": "3",
        "lapsed_on": None,
        "surrender_value": "50",
    },
    ("life", "premium_payments"): {
        "payment_id": "PP1",
        "policy_no": "P1",
        "customer_no": "C1",
        "due_on": "2026-11-24",
        "paid_at": None,
        "amount": "100",
        "method": "CARD",
        "result": "FAILED",
    },
    ("any", "erasure_requests"): {
        "request_id": "R1",
        "customer_no": "C1",
        "requested_at": "2026-11-24T10:00:00+09:00",
    },
}


def settings_for(tmp_path: Path) -> Settings:
    return load_settings(
        env={
            "DAM_LANDING_DIR": str(tmp_path / "landing"),
            "DAM_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "DAM_PSEUDONYM_KEY": KEY,
            "DAM_ENV": "test",
        }
    )


def frame(affiliate: str, feed: str, *overrides: dict[str, Any]) -> pl.DataFrame:
    """All-string rows of the feed (defaults + overrides), in the registry's column order."""
    base = DEFAULTS.get((affiliate, feed)) or DEFAULTS[("any", feed)]
    cols = [
        c
        for c in get_feed(affiliate, feed).column_names
        if c in base or any(c in o for o in overrides)
    ]
    data = [{c: {**base, **o}.get(c) for c in cols} for o in overrides]
    return pl.DataFrame(data, schema={c: pl.Utf8 for c in cols}, orient="row")


def deliver(s: Settings, affiliate: str, feed: str, day: str, *rows: dict[str, Any], **kw: Any):
    return write_batch(s.landing_dir, affiliate, feed, day, [frame(affiliate, feed, *rows)], **kw)


def ingest(s: Settings, up_to: str) -> None:
    ingest_feeds(s, FEEDS, up_to, run_id="t", now=datetime(2026, 11, 25, tzinfo=UTC))


def ledger(s: Settings) -> pl.DataFrame:
    return read_ledger(s).sort("affiliate", "feed", "business_date", "revision")


def run(s: Settings, as_of: str, k: int = 5) -> tuple[dict[str, dict[str, Any]], pl.DataFrame]:
    """Ingest everything up to D, build silver and gold; (profile by gcid, trends)."""
    ingest(s, as_of)
    build_gold(s.warehouse_dir, date.fromisoformat(as_of), k=k)
    prof = pl.read_delta(str(s.warehouse_dir / "gold" / "customer_profile"))
    trends = pl.read_delta(str(s.warehouse_dir / "gold" / "card_category_trends"))
    return {r["gcid"]: r for r in prof.to_dicts()}, trends


def bronze(s: Settings, affiliate: str, feed: str) -> pl.DataFrame:
    return pl.read_delta(str(s.warehouse_dir / "bronze" / affiliate / feed))
