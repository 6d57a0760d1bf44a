"""Build bronze Delta tables (and audit/batches) in a tmp warehouse from tiny hand-built rows.

Tests describe a batch as a few dicts with only the columns they care about; every other
column gets a plain default. Rows become exactly the bronze schema of docs/design.md
(typed columns, gcid, event_date, lineage), written the way ingestion writes them: one
business-date partition replaced per loaded revision, one ledger row per batch revision.

    kit = BronzeKit(tmp_path / "warehouse")
    kit.load("card", "customers", "2026-03-01", [{"customer_no": "C1", "person": "alice"}])
    kit.reject("bank", "loans", "2026-03-02")
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.conform import bronze_schema
from dam_pipelines.lib.ingest import BATCHES_SCHEMA
from dam_pipelines.lib.registry import DType, Feed, Kind, get_feed

KST = timezone(timedelta(hours=9))
INGESTED_AT = datetime(2030, 1, 1, tzinfo=UTC)

AUDIT_SCHEMA = BATCHES_SCHEMA


def gcid(person: str) -> str:
    """A stand-in group customer id (64 lowercase hex) for a named test person."""
    return hashlib.sha256(person.encode()).hexdigest()


def _defaults(feed: Feed, bd: str) -> dict[str, Any]:
    noon = f"{bd}T12:00:00+09:00"
    return {
        "customers": {
            "birth_date": "1980-05-10",
            "gender": "M",
            "sido_code": "11",
            "joined_on": "2020-01-01",
            "status": "ACTIVE",
            "closed_on": None,
            "marketing_consent": "Y",
            "risk_grade": None,
            "updated_at": f"{bd}T09:00:00+09:00",
        },
        "merchants": {
            "merchant_name": "가맹점",
            "category": "GROCERY",
            "sido_code": "11",
            "updated_at": f"{bd}T09:00:00+09:00",
        },
        "transactions": {
            "card_no": "123456******1234",
            "approved_at": noon,
            "txn_type": "PURCHASE",
            "original_approval_no": None,
            "amount": 1000,
            "installment_months": 0,
            "merchant_id": "M1",
            "channel": "OFFLINE",
            "is_overseas": "N",
        },
        "deposit_accounts": {
            "product_type": "DEMAND",
            "opened_on": "2020-01-01",
            "closed_on": None,
            "status": "ACTIVE",
            "balance": 0,
            "interest_rate": 0.01,
        },
        "loans": {
            "loan_type": "CREDIT",
            "principal": 1_000_000,
            "outstanding_balance": 0,
            "interest_rate": 0.05,
            "opened_on": "2020-01-01",
            "maturity_on": "2035-01-01",
            "days_past_due": 0,
            "status": "NORMAL",
        },
        "trades": {
            "account_no": "SA1",
            "executed_at": noon,
            "market": "KOSPI",
            "symbol": "005930",
            "side": "BUY",
            "quantity": 1,
            "price": 1000.0,
            "amount": 1000,
            "fee": 0,
        },
        "holdings": {
            "market": "KOSPI",
            "symbol": "005930",
            "quantity": 1,
            "avg_cost": 1000.0,
            "market_value": 0,
        },
        "policies": {
            "product_type": "TERM",
            "contracted_on": "2020-01-01",
            "status": "ACTIVE",
            "monthly_premium": 0,
            "sum_assured": 0,
            "paid_months": 0,
            "lapsed_on": None,
            "surrender_value": 0,
        },
        "premium_payments": {
            "policy_no": "P1",
            "due_on": bd,
            "paid_at": None,
            "amount": 1000,
            "method": "AUTO_DEBIT",
            "result": "PAID",
        },
        "erasure_requests": {"requested_at": noon},
    }[feed.name]


def _value(dtype: DType, v: Any) -> Any:
    if v is None:
        return None
    if dtype is DType.DATE:
        return v if isinstance(v, date) else date.fromisoformat(v)
    if dtype is DType.TIMESTAMP:
        ts = v if isinstance(v, datetime) else datetime.fromisoformat(v)
        return ts.astimezone(UTC)
    if dtype is DType.BOOL:
        return v if isinstance(v, bool) else v == "Y"
    return v


def bronze_frame(
    feed: Feed, business_date: str, rows: Sequence[Mapping[str, Any]], revision: int = 1
) -> pl.DataFrame:
    """The bronze rows of one batch, exactly :func:`bronze_schema` (gcid from ``person``)."""
    schema = bronze_schema(feed)
    out: list[dict[str, Any]] = []
    for i, given in enumerate(rows, start=1):
        row = {**_defaults(feed, business_date), **given}
        rec: dict[str, Any] = {}
        for col in feed.columns:
            if not col.is_direct_identifier:
                rec[col.name] = _value(col.dtype, row.get(col.name))
        if feed.name == "customers":
            rec["gcid"] = row.get("gcid") or gcid(row.get("person", row["customer_no"]))
        if feed.kind is Kind.EVENT:
            t = rec[feed.event_time]  # type: ignore[index]
            rec["event_date"] = (
                t
                if isinstance(t, date) and not isinstance(t, datetime)
                else t.astimezone(KST).date()
            )
        rec.update(
            {
                "_batch_id": f"{feed.id}/{business_date}/r{revision}",
                "_revision": revision,
                "_source_file": "part-00001.csv",
                "_row_number": i,
                "_ingested_at": INGESTED_AT,
                "business_date": business_date,
            }
        )
        out.append(rec)
    return pl.DataFrame(out, schema=schema, orient="row")


class BronzeKit:
    """Writes bronze partitions and ledger rows as ingestion would, batch by batch."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse
        self.ledger: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        self._tick = 0

    def _now(self) -> datetime:
        self._tick += 1
        return INGESTED_AT + timedelta(seconds=self._tick)

    def _current(self, affiliate: str, feed: str, bd: str) -> int | None:
        revs = [
            k[3]
            for k, r in self.ledger.items()
            if k[:3] == (affiliate, feed, bd) and r["status"] in ("LOADED", "SKIPPED")
        ]
        return max(revs, default=None)

    def _row(
        self, affiliate: str, feed: str, bd: str, revision: int, status: str, **extra: Any
    ) -> None:
        now = self._now()
        key = (affiliate, feed, bd, revision)
        prev = self.ledger.get(key, {})
        self.ledger[key] = {
            **{c: None for c in AUDIT_SCHEMA},
            **prev,
            "affiliate": affiliate,
            "feed": feed,
            "business_date": bd,
            "revision": revision,
            "status": status,
            "batch_id": f"{affiliate}/{feed}/{bd}/r{revision}",
            "format": "csv",
            "encoding": "utf-8",
            "first_seen_at": prev.get("first_seen_at", now),
            "updated_at": now,
            "run_id": f"run-{self._tick}",
            **extra,
        }
        df = pl.DataFrame(list(self.ledger.values()), schema=AUDIT_SCHEMA, orient="row")
        delta.overwrite(self.warehouse / "audit" / "batches", df)

    def load(
        self,
        affiliate: str,
        feed: str,
        business_date: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        revision: int | None = None,
    ) -> pl.DataFrame:
        """Load a batch revision (default: one above the current), replacing its partition."""
        f = get_feed(affiliate, feed)
        current = self._current(affiliate, feed, business_date)
        rev = revision if revision is not None else (current or 0) + 1
        df = bronze_frame(f, business_date, rows, rev)
        delta.replace_where(
            self.warehouse / "bronze" / affiliate / feed,
            df,
            f"business_date = '{business_date}'",
            partition_by=["business_date"],
        )
        extra: dict[str, Any] = {
            "rows_read": df.height,
            "rows_loaded": df.height,
            "rows_quarantined": 0,
        }
        if f.kind is Kind.EVENT and df.height:
            extra |= {
                "event_date_min": df["event_date"].min(),
                "event_date_max": df["event_date"].max(),
            }
        self._row(affiliate, feed, business_date, rev, "LOADED", **extra)
        if current is not None and current != rev:
            self._row(affiliate, feed, business_date, current, "REPLACED")
        return df

    def reject(
        self,
        affiliate: str,
        feed: str,
        business_date: str,
        *,
        revision: int | None = None,
        reason: str = "CHECKSUM_MISMATCH",
    ) -> None:
        """Log a rejected batch revision: nothing of it reaches bronze."""
        current = self._current(affiliate, feed, business_date)
        rev = revision if revision is not None else (current or 0) + 1
        self._row(affiliate, feed, business_date, rev, "REJECTED", reason=reason)

    def redeliver(self, affiliate: str, feed: str, business_date: str) -> None:
        """The loaded revision delivered again: its ledger row becomes SKIPPED."""
        current = self._current(affiliate, feed, business_date)
        assert current is not None, "nothing loaded to re-deliver"
        self._row(affiliate, feed, business_date, current, "SKIPPED")
