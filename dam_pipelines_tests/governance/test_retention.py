"""Retention rules at their exact boundaries, and the purge job (contract §5)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from dam_pipelines.lib import delta
from dam_pipelines.lib.gold import build_gold
from dam_pipelines.lib.governance import apply_erasures, apply_night_rules, run_purge
from dam_pipelines.lib.governance import audit as A
from dam_pipelines.lib.governance.audit import read_records
from dam_pipelines.lib.governance.rules import (
    closed_relationship_expired,
    event_cutoff,
    years_before,
)
from dam_pipelines.lib.landing import write_batch
from dam_pipelines.settings import Settings
from dam_pipelines_tests.contract.kit import deliver, ingest, settings_for
from dam_pipelines_tests.governance.helpers import tree_mentions, write_bronze


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2026, 3, 10), date(2021, 3, 10)),
        (date(2028, 2, 29), date(2023, 2, 28)),  # 29 Feb counts as 28 Feb
        (date(2029, 2, 28), date(2024, 2, 28)),
        (date(2029, 3, 1), date(2024, 3, 1)),
    ],
)
def test_same_calendar_day_five_years_earlier(d: date, expected: date) -> None:
    assert years_before(d, 5) == expected
    assert event_cutoff(d, 5) == expected


@pytest.mark.parametrize(
    ("closed_on", "as_of", "erased"),
    [
        (date(2021, 3, 10), date(2026, 3, 10), False),  # exactly five years: kept
        (date(2021, 3, 9), date(2026, 3, 10), True),  # one day more: erased
        (date(2021, 3, 10), date(2026, 3, 11), True),
        (date(2023, 2, 28), date(2028, 2, 29), False),  # D on 29 Feb counts as 28 Feb
        (date(2023, 2, 27), date(2028, 2, 29), True),
        (date(2024, 2, 29), date(2029, 2, 28), False),  # closed on 29 Feb
        (date(2024, 2, 29), date(2029, 3, 1), True),
        (None, date(2029, 3, 1), False),
    ],
)
def test_closed_relationship_boundary(closed_on: date | None, as_of: date, erased: bool) -> None:
    assert closed_relationship_expired(closed_on, as_of, 5) is erased


def _closed(no: str, closed_on: date) -> dict:
    return {
        "customer_no": no,
        "gcid": hashlib.sha256(no.encode()).hexdigest(),
        "status": "CLOSED",
        "closed_on": closed_on,
    }


def test_closed_relationships_are_erased_as_if_requested_on_d(settings: Settings) -> None:
    d = date(2028, 2, 29)
    write_bronze(
        settings,
        "life",
        "customers",
        "2020-01-01",
        [
            _closed("L-KEEP", date(2023, 2, 28)),
            _closed("L-GONE", date(2023, 2, 27)),
            {"customer_no": "L-OPEN", "gcid": "e" * 64},
        ],
    )
    write_bronze(
        settings,
        "life",
        "premium_payments",
        "2023-01-01",
        [
            {"payment_id": "P1", "customer_no": "L-GONE"},
            {"payment_id": "P2", "customer_no": "L-KEEP"},
        ],
    )
    report = apply_erasures(settings, d)
    assert report.subjects == 1 and report.verified
    left = delta.read(settings.table_path("bronze", "life", "customers"))
    assert sorted(left["customer_no"].to_list()) == ["L-KEEP", "L-OPEN"]
    pays = delta.read(settings.table_path("bronze", "life", "premium_payments"))
    assert pays["customer_no"].to_list() == ["L-KEEP"]
    rec = read_records(settings.warehouse_dir).row(0, named=True)
    assert rec["kind"] == "closed_relationship" and rec["effective_date"] == d
    assert rec["request_id"] == "retention:closed-relationship-5y" and rec["verified"]
    assert tree_mentions(settings.warehouse_dir / "audit", "L-GONE") == []
    # the same night again finds nothing; the next one moves the boundary past L-KEEP
    assert apply_erasures(settings, d).subjects == 0
    assert apply_erasures(settings, date(2028, 3, 1)).subjects == 1


def _ledger(settings: Settings, entries: list[tuple[str, str, str, datetime]]) -> None:
    rows = []
    for aff, feed, bdate, ts in entries:
        sha = hashlib.sha256(
            (settings.landing_dir / aff / feed / bdate / "_manifest.json").read_bytes()
        ).hexdigest()
        rows.append(
            {
                "affiliate": aff,
                "feed": feed,
                "business_date": bdate,
                "revision": 1,
                "status": "LOADED",
                "manifest_sha256": sha,
                "first_seen_at": ts,
                "updated_at": ts,
            }
        )
    delta.overwrite(settings.table_path("audit", "batches"), pl.DataFrame(rows))


def _landing(settings: Settings, bdate: str, *, manifest: bool = True) -> None:
    write_batch(
        settings.landing_dir,
        "card",
        "merchants",
        bdate,
        [pl.DataFrame({"merchant_id": ["M1"]})],
        write_manifest=manifest,
    )


@pytest.fixture
def aged(settings: Settings) -> Settings:
    d = "2026-06-30"
    # events: cut-off is 2021-06-30; exactly five years kept, one day more deleted
    write_bronze(
        settings,
        "card",
        "transactions",
        "2021-07-01",
        [
            {"approval_no": "OLD", "customer_no": "C1", "event_date": date(2021, 6, 29)},
            {"approval_no": "EDGE", "customer_no": "C1", "event_date": date(2021, 6, 30)},
        ],
    )
    write_bronze(settings, "card", "transactions", d, [{"approval_no": "NEW", "customer_no": "C1"}])
    # snapshots: 90 days before 2026-06-30 is 2026-04-01
    for s in ("2026-03-31", "2026-04-01", "2026-06-30"):
        write_bronze(settings, "bank", "loans", s, [{"loan_no": "L" + s, "customer_no": "B1"}])
    write_bronze(
        settings, "life", "policies", "2025-01-01", [{"policy_no": "P1", "customer_no": "L1"}]
    )
    # landing: processed 31 and 30 days before D, unprocessed, and not ready
    for b in ("2026-05-01", "2026-05-02", "2026-05-03"):
        _landing(settings, b)
    _landing(settings, "2026-05-04", manifest=False)
    kst_noon = lambda day: datetime.fromisoformat(f"{day}T03:00:00+00:00").astimezone(UTC)  # noqa: E731
    _ledger(
        settings,
        [
            ("card", "merchants", "2026-05-01", kst_noon("2026-05-30")),
            ("card", "merchants", "2026-05-02", kst_noon("2026-05-31")),
        ],
    )
    return settings


def test_purge_applies_every_time_based_rule_at_its_boundary(aged: Settings) -> None:
    settings = aged
    report = run_purge(settings, date(2026, 6, 30), run_id="purge-1")
    tx = delta.read(settings.table_path("bronze", "card", "transactions"))
    assert sorted(tx["approval_no"].to_list()) == ["EDGE", "NEW"]
    loans = delta.read(settings.table_path("bronze", "bank", "loans"))
    assert sorted(loans["business_date"].unique().to_list()) == ["2026-04-01", "2026-06-30"]
    pol = delta.read(settings.table_path("bronze", "life", "policies"))
    assert pol["business_date"].to_list() == ["2025-01-01"]  # old, but still the latest snapshot
    batches = settings.landing_dir / "card" / "merchants"
    assert sorted(p.name for p in batches.iterdir()) == ["2026-05-02", "2026-05-03", "2026-05-04"]
    assert report.landing_removed == ["card/merchants/2026-05-01"]
    assert report.verified, [r.verification for r in report.records]
    assert report.rows_deleted == 2 and report.files_removed >= 2
    audit = read_records(settings.warehouse_dir)
    assert set(audit["kind"]) == {"events", "snapshots", "landing", "vacuum", "verify"}
    assert audit.filter(pl.col("kind") == "events")["rows_deleted"].item() == 1
    # only live files are left on disk in every table
    for table in ("bronze/card/transactions", "bronze/bank/loans"):
        path = settings.table_path(*table.split("/"))
        assert delta.data_files_on_disk(path) == delta.live_files(path)


def test_purge_is_idempotent(aged: Settings) -> None:
    settings = aged
    run_purge(settings, date(2026, 6, 30), run_id="purge-1")
    versions = {
        t: delta.version(settings.table_path("bronze", *t))
        for t in (("card", "transactions"), ("bank", "loans"))
    }
    again = run_purge(settings, date(2026, 6, 30), run_id="purge-2")
    assert {t: c.files_removed for t, c in again.changes.items() if c.files_removed} == {}
    assert again.rows_deleted == 0 and again.landing_removed == []
    assert again.verified
    second = read_records(settings.warehouse_dir).filter(pl.col("run_id") == "purge-2")
    assert second["rows_deleted"].sum() == 0 and second["verified"].all()
    # vacuum of an unchanged table still commits (VACUUM START/END), but no data changed
    for t, v in versions.items():
        df = delta.read(settings.table_path("bronze", *t))
        assert df is not None and delta.version(settings.table_path("bronze", *t)) >= v


def test_purge_reverifies_erasures_by_hash_and_catches_a_resurrection(settings: Settings) -> None:
    write_bronze(
        settings, "card", "customers", "2026-01-01", [{"customer_no": "C7", "gcid": "f" * 64}]
    )
    write_bronze(
        settings,
        "card",
        "erasure_requests",
        "2026-01-02",
        [{"request_id": "Q", "customer_no": "C7"}],
    )
    assert apply_erasures(settings, date(2026, 1, 2)).verified
    assert run_purge(settings, date(2026, 1, 3)).verified
    # someone writes C7's old batch back around the suppressor: the purge's proof must notice
    write_bronze(
        settings, "card", "customers", "2026-01-01", [{"customer_no": "C7", "gcid": "f" * 64}]
    )
    report = run_purge(settings, date(2026, 1, 3))
    assert not report.verified
    verify = (
        read_records(settings.warehouse_dir).filter(pl.col("kind") == "verify").sort("recorded_at")
    )
    assert verify["verified"].to_list() == [True, False]
    assert "bronze/card/customers: 1 leftover rows" in verify["verification"][-1]
    assert "C7" not in verify["verification"][-1]


def test_the_night_expires_events_older_than_five_years_before_gold(tmp_path: Path) -> None:
    """Contract §5: events dated before the same day five years earlier are deleted as of D.
    The trends have no lower bound, so the night itself applies the rule before silver and
    gold are built (not only the weekly purge): an event dated 2021-11-25 (delivered then) is
    counted as of 2026-11-24 and gone as of 2026-11-26, from the trends, silver and bronze."""
    s = settings_for(tmp_path)
    deliver(s, "card", "customers", "2026-11-24", {"customer_no": "C1"})
    deliver(s, "card", "merchants", "2026-11-24", {"merchant_id": "M1"})
    for day, approval, amount in (("2021-11-25", "OLD", "100"), ("2026-11-24", "NEW", "7")):
        at = f"{day}T12:00:00+09:00"  # an event is never dated long before its batch
        deliver(
            s,
            "card",
            "transactions",
            day,
            {"approval_no": approval, "approved_at": at, "amount": amount},
        )
    deliver(s, "card", "merchants", "2026-11-26", {"merchant_id": "M1"})

    def night(day: str) -> tuple[pl.DataFrame, A.AuditRecord | None]:
        ingest(s, day)
        _, expired = apply_night_rules(s, date.fromisoformat(day), run_id=day)
        build_gold(s.warehouse_dir, date.fromisoformat(day), k=1)
        return pl.read_delta(str(s.warehouse_dir / "gold" / "card_category_trends")), expired

    trends, expired = night("2026-11-24")
    assert expired is None  # cut-off 2021-11-24: exactly five years is kept, nothing to do
    assert trends.select("month", "net_amount").rows() == [("2021-11", 100), ("2026-11", 7)]
    trends, expired = night("2026-11-26")
    assert trends.select("month", "net_amount").rows() == [("2026-11", 7)]
    assert expired is not None and expired.verified and expired.rows_deleted == 2
    for layer in ("bronze", "silver"):
        tx = pl.read_delta(str(s.warehouse_dir / layer / "card" / "transactions"))
        assert tx["approval_no"].to_list() == ["NEW"], layer
    audit = read_records(s.warehouse_dir).filter(pl.col("kind") == "events")
    assert audit.select("as_of_date", "rows_deleted", "verified").rows() == [
        (date(2026, 11, 26), 2, True)
    ]
    # the weekly purge of the same day finds nothing left of the rule
    assert run_purge(s, date(2026, 11, 26), run_id="purge").rows_deleted == 0
