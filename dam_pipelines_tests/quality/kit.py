"""A small, clean warehouse as of D for the quality tests: silver, gold and audit/batches.

Silver tables are hand-built in the registry's silver shape; gold is computed from them with
the project's own profile and trends code; audit/batches holds 15 loaded nights per feed with
stable volumes. Every check passes on it; tests plant exactly one defect on a copy.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.conform import silver_schema
from dam_pipelines.lib.registry import FEEDS, Feed, Kind, get_feed

D = date(2026, 11, 24)
HISTORY_DAYS = 15


def gcid(n: int) -> str:
    return hashlib.sha256(f"person-{n}".encode()).hexdigest()


def _ts(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def silver_frame(feed: Feed, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = silver_schema(feed)
    base: dict[str, Any] = {"_revision": 1, "_batch_id": f"{feed.id}/{D}/r1"}
    if "business_date" in schema:
        base["business_date"] = D
    if "snapshot_date" in schema:
        base["snapshot_date"] = D
    return pl.DataFrame([{**base, **r} for r in rows], schema=schema, orient="row")


PEOPLE = {  # person -> birth date, gender
    0: (date(1985, 3, 1), "M"),
    1: (date(1990, 7, 9), "F"),
    2: (date(1962, 1, 20), "M"),
    3: (date(2001, 12, 5), "F"),
    4: (date(1975, 5, 5), "M"),
    5: (date(1958, 8, 30), "F"),
    6: (date(1995, 2, 14), "F"),
    7: (date(1949, 11, 11), "M"),
}
MEMBERS = {
    "bank": (0, 1, 2, 3, 4),
    "card": (0, 1, 2, 3, 4, 5, 6),
    "securities": (2, 3, 4, 5),
    "life": (3, 4, 5, 6, 7),
}
PREFIX = {"bank": "B", "card": "C", "securities": "S", "life": "L"}


def cno(affiliate: str, person: int) -> str:
    return f"{PREFIX[affiliate]}{person:04d}"


def customers(affiliate: str) -> pl.DataFrame:
    rows = []
    for p in MEMBERS[affiliate]:
        birth, gender = PEOPLE[p]
        closed = affiliate == "card" and p == 6
        rows.append(
            {
                "customer_no": cno(affiliate, p),
                "gcid": gcid(p),
                "birth_date": birth,
                "gender": gender,
                "sido_code": "11" if p % 2 else "26",
                "joined_on": date(2015, 1, 1),
                "status": "CLOSED" if closed else ("DORMANT" if p == 5 else "ACTIVE"),
                "closed_on": date(2025, 1, 1) if closed else None,
                "marketing_consent": p % 3 != 0,
                "risk_grade": 1 + p % 5 if affiliate == "securities" else None,
                "updated_at": _ts(D - timedelta(days=30 + p)),
            }
        )
    return silver_frame(get_feed(affiliate, "customers"), rows)


MERCHANTS = [
    ("M01", "GROCERY", "11"),
    ("M02", "CAFE", "26"),
    ("M03", "TRAVEL", "11"),
    ("M04", "ONLINE_SHOPPING", "41"),
]


def transactions() -> pl.DataFrame:
    rows = []
    card = MEMBERS["card"]
    for i in range(60):
        day = D - timedelta(days=i % 7 if i < 42 else 8 + 3 * i)
        typ = "CASH_ADVANCE" if i % 17 == 5 else ("CANCEL" if i % 11 == 3 else "PURCHASE")
        rows.append(
            {
                "approval_no": f"A{i:05d}",
                "customer_no": cno("card", card[i % len(card)]),
                "card_no": "123456******7890",
                "approved_at": _ts(day),
                "txn_type": typ,
                "original_approval_no": f"A{i - 1:05d}" if typ == "CANCEL" else None,
                "amount": 1000 * (i + 1),
                "installment_months": 0 if i % 4 else 3,
                "merchant_id": MERCHANTS[i % 4][0],
                "channel": "ONLINE" if i % 2 else "OFFLINE",
                "is_overseas": i % 9 == 0,
                "event_date": day,
                "business_date": day,
            }
        )
    return silver_frame(get_feed("card", "transactions"), rows)


def _events(feed: Feed, rows: list[dict[str, Any]]) -> pl.DataFrame:
    return silver_frame(feed, [{**r, "business_date": r["event_date"]} for r in rows])


def silver_tables() -> dict[str, pl.DataFrame]:
    t: dict[str, pl.DataFrame] = {f"silver/{a}/customers": customers(a) for a in MEMBERS}
    for a in MEMBERS:
        t[f"silver/{a}/erasure_requests"] = _events(
            get_feed(a, "erasure_requests"),
            [
                {
                    "request_id": f"R{a}1",
                    "customer_no": "GONE1",
                    "requested_at": _ts(D - timedelta(days=3)),
                    "event_date": D - timedelta(days=3),
                }
            ],
        )
    t["silver/card/merchants"] = silver_frame(
        get_feed("card", "merchants"),
        [
            {
                "merchant_id": m,
                "merchant_name": f"가게 {m}",
                "category": c,
                "sido_code": s,
                "updated_at": _ts(D - timedelta(days=100)),
            }
            for m, c, s in MERCHANTS
        ],
    )
    t["silver/card/transactions"] = transactions()
    t["silver/bank/deposit_accounts"] = silver_frame(
        get_feed("bank", "deposit_accounts"),
        [
            {
                "account_no": f"DA{p}{k}",
                "customer_no": cno("bank", p),
                "product_type": "SAVINGS",
                "opened_on": date(2020, 1, 1),
                "closed_on": None,
                "status": "ACTIVE",
                "balance": 1_000_000 * (p + k),
                "interest_rate": 0.02,
            }
            for p in MEMBERS["bank"]
            for k in (1, 2)
        ],
    )
    t["silver/bank/loans"] = silver_frame(
        get_feed("bank", "loans"),
        [
            {
                "loan_no": f"LN{p}",
                "customer_no": cno("bank", p),
                "loan_type": "CREDIT",
                "principal": 5_000_000,
                "outstanding_balance": 4_000_000,
                "interest_rate": 0.05,
                "opened_on": date(2022, 1, 1),
                "maturity_on": date(2030, 1, 1),
                "days_past_due": p,
                "status": "NORMAL",
            }
            for p in MEMBERS["bank"][:3]
        ],
    )
    t["silver/securities/holdings"] = silver_frame(
        get_feed("securities", "holdings"),
        [
            {
                "account_no": f"SA{p}",
                "customer_no": cno("securities", p),
                "symbol": sym,
                "market": "KOSPI",
                "quantity": 10,
                "avg_cost": 50_000.0,
                "market_value": 600_000,
            }
            for p in MEMBERS["securities"]
            for sym in ("005930", "000660")
        ],
    )
    t["silver/securities/trades"] = _events(
        get_feed("securities", "trades"),
        [
            {
                "trade_id": f"T{i}",
                "customer_no": cno("securities", MEMBERS["securities"][i % 4]),
                "account_no": f"SA{MEMBERS['securities'][i % 4]}",
                "executed_at": _ts(D - timedelta(days=i % 5)),
                "market": "KOSPI",
                "symbol": "005930",
                "side": "BUY" if i % 2 else "SELL",
                "quantity": 1 + i,
                "price": 70_000.0,
                "amount": 70_000 * (1 + i),
                "fee": 100,
                "event_date": D - timedelta(days=i % 5),
            }
            for i in range(12)
        ],
    )
    t["silver/life/policies"] = silver_frame(
        get_feed("life", "policies"),
        [
            {
                "policy_no": f"P{p}",
                "customer_no": cno("life", p),
                "product_type": "TERM",
                "contracted_on": date(2018, 1, 1),
                "status": "LAPSED" if p == 7 else "ACTIVE",
                "monthly_premium": 50_000,
                "sum_assured": 100_000_000,
                "paid_months": 12,
                "lapsed_on": date(2026, 1, 1) if p == 7 else None,
                "surrender_value": 300_000,
            }
            for p in MEMBERS["life"]
        ],
    )
    t["silver/life/premium_payments"] = _events(
        get_feed("life", "premium_payments"),
        [
            {
                "payment_id": f"PP{i}",
                "policy_no": f"P{MEMBERS['life'][i % 5]}",
                "customer_no": cno("life", MEMBERS["life"][i % 5]),
                "due_on": D - timedelta(days=i % 6),
                "paid_at": _ts(D - timedelta(days=i % 6)) if i % 4 else None,
                "amount": 50_000,
                "method": "AUTO_DEBIT",
                "result": "PAID" if i % 4 else "FAILED",
                "event_date": D - timedelta(days=i % 6),
            }
            for i in range(10)
        ],
    )
    return t


def rollup(txns: pl.DataFrame) -> pl.DataFrame:
    from dam_pipelines.lib.trends import monthly_rollup

    return monthly_rollup(txns.lazy()).collect()


def audit_batches(feeds: tuple[Feed, ...] = FEEDS, days: int = HISTORY_DAYS) -> pl.DataFrame:
    rows = []
    for n, feed in enumerate(feeds):
        for k in range(days):
            day = D - timedelta(days=days - 1 - k)
            loaded = 100 + n + (k % 5)
            rows.append(
                {
                    "affiliate": feed.affiliate,
                    "feed": feed.name,
                    "business_date": day.isoformat(),
                    "revision": 1,
                    "status": "LOADED",
                    "reason": None,
                    "rows_read": loaded + 2,
                    "rows_loaded": loaded,
                    "rows_quarantined": 2,
                    "rows_suppressed": 0,
                    "batch_id": f"{feed.id}/{day}/r1",
                    "updated_at": _ts(day + timedelta(days=1)),
                }
            )
    return pl.DataFrame(rows, schema_overrides={"reason": pl.Utf8})


def write_warehouse(warehouse: Path) -> Path:
    from dam_pipelines.lib.card_window import build_window_spend

    tables = silver_tables()
    tables["silver/card/transactions_monthly"] = rollup(tables["silver/card/transactions"])
    for key, df in tables.items():
        delta.overwrite(warehouse / key, df)
    build_window_spend(warehouse, D, full=True)
    delta.overwrite(warehouse / "audit/batches", audit_batches())
    write_gold(warehouse)
    return warehouse


def write_gold(warehouse: Path, k: int = 5) -> None:
    from dam_pipelines.lib.gold import profile_inputs
    from dam_pipelines.lib.profile import customer_profile
    from dam_pipelines.lib.trends import category_trends

    profile = customer_profile(profile_inputs(warehouse, D), D).collect()
    delta.overwrite(warehouse / "gold/customer_profile", profile)
    trends = category_trends(
        delta.scan(warehouse / "silver/card/transactions_monthly"),  # type: ignore[arg-type]
        delta.scan(warehouse / "silver/card/customers"),  # type: ignore[arg-type]
        profile.lazy().select("gcid", "age_band"),
        delta.scan(warehouse / "silver/card/merchants"),  # type: ignore[arg-type]
        k=k,
    ).collect()
    delta.overwrite(warehouse / "gold/card_category_trends", trends)


def copy_warehouse(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def identifier_values(warehouse: Path) -> set[str]:
    """Every identifier value of the warehouse (to prove none leaks into docs or audit)."""
    from dam_pipelines.lib.quality.suites import TABLE_SPECS

    values: set[str] = set()
    for key, spec in TABLE_SPECS.items():
        df = delta.read(warehouse / key)
        if df is None:
            continue
        for col in spec.identifiers & set(df.columns):
            values |= {v for v in df[col].drop_nulls().cast(pl.Utf8).to_list() if len(v) >= 4}
    return values


def replace_table(warehouse: Path, key: str, df: pl.DataFrame) -> None:
    delta.overwrite(warehouse / key, df)


def read(warehouse: Path, key: str) -> pl.DataFrame:
    df = delta.read(warehouse / key)
    assert df is not None, key
    return df


def kind_of(key: str) -> Kind:
    _, aff, name = key.split("/")
    return get_feed(aff, name).kind
