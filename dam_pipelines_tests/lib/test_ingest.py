"""Ingestion: the ledger, idempotency, revisions, late and re-delivered batches."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.ingest import ingest_feed, read_ledger
from dam_pipelines.lib.registry import get_feed
from dam_pipelines_tests.feedkit import deliver, rows, transactions

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
TXN = get_feed("card", "transactions")


def _ingest(settings, up_to="2026-11-24", feed=TXN):
    return ingest_feed(settings, feed, up_to, run_id="r-test", now=NOW)


def _bronze(settings, feed=TXN) -> pl.DataFrame:
    df = delta.read(settings.table_path("bronze", feed.affiliate, feed.name))
    assert df is not None
    return df.sort("business_date", "_row_number")


def _status(settings, day, rev=1):
    led = read_ledger(settings, TXN).filter(
        (pl.col("business_date") == day) & (pl.col("revision") == rev)
    )
    assert led.height == 1
    return led.row(0, named=True)


def test_loads_a_batch_and_logs_it(settings):
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", transactions(3))
    report = _ingest(settings)
    assert [o.status for o in report.outcomes] == ["LOADED"]
    df = _bronze(settings)
    assert df.height == 3
    assert df["_row_number"].to_list() == [1, 2, 3]
    assert set(df["business_date"]) == {"2026-11-24"}
    row = _status(settings, "2026-11-24")
    assert (row["status"], row["rows_read"], row["rows_loaded"], row["rows_quarantined"]) == (
        "LOADED",
        3,
        3,
        0,
    )
    assert row["reason"] is None


def test_rerun_is_a_noop(settings):
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", transactions(3))
    _ingest(settings)
    before = _bronze(settings)
    v = delta.version(settings.table_path("bronze", "card", "transactions"))
    report = _ingest(settings)
    assert report.outcomes == []
    assert delta.version(settings.table_path("bronze", "card", "transactions")) == v
    assert _bronze(settings).equals(before)


def test_redelivery_same_revision_is_skipped_not_duplicated(settings):
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", transactions(3))
    _ingest(settings)
    before = _bronze(settings)
    deliver(
        settings.landing_dir,
        "card",
        "transactions",
        "2026-11-24",
        transactions(3),
        created_at="2026-11-25T05:00:00+09:00",
    )
    report = _ingest(settings)
    assert [o.status for o in report.outcomes] == ["SKIPPED"]
    assert _bronze(settings).equals(before)
    row = _status(settings, "2026-11-24")
    assert (row["status"], row["rows_loaded"]) == ("SKIPPED", 3)


def test_revision_two_replaces_revision_one_exactly(settings):
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", transactions(3))
    deliver(
        settings.landing_dir,
        "card",
        "transactions",
        "2026-11-23",
        transactions(2, day="2026-11-23", prefix="B"),
    )
    _ingest(settings)
    other_day = _bronze(settings).filter(pl.col("business_date") == "2026-11-23")
    r2 = transactions(2, prefix="Z")
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", r2, revision=2)
    report = _ingest(settings)
    assert [o.status for o in report.outcomes] == ["LOADED"]
    df = _bronze(settings)
    day = df.filter(pl.col("business_date") == "2026-11-24")
    assert day["approval_no"].to_list() == ["Z00000", "Z00001"]
    assert set(day["_revision"]) == {2}
    assert df.filter(pl.col("business_date") == "2026-11-23").equals(other_day)
    assert _status(settings, "2026-11-24", 1)["status"] == "REPLACED"
    assert _status(settings, "2026-11-24", 2)["status"] == "LOADED"


def test_stale_lower_revision_is_not_loaded(settings):
    deliver(
        settings.landing_dir,
        "card",
        "transactions",
        "2026-11-24",
        transactions(2, prefix="Z"),
        revision=2,
    )
    _ingest(settings)
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", transactions(3), revision=1)
    report = _ingest(settings)
    assert [o.status for o in report.outcomes] == ["REPLACED"]
    assert _bronze(settings)["approval_no"].to_list() == ["Z00000", "Z00001"]


def test_late_batch_for_an_earlier_date_loads_on_a_later_night(settings):
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", transactions(1))
    _ingest(settings, up_to="2026-11-24")
    deliver(
        settings.landing_dir,
        "card",
        "transactions",
        "2026-11-22",
        transactions(2, day="2026-11-22", prefix="L"),
    )
    report = _ingest(settings, up_to="2026-11-24")
    assert [(o.business_date, o.status) for o in report.outcomes] == [("2026-11-22", "LOADED")]
    assert sorted(set(_bronze(settings)["business_date"])) == ["2026-11-22", "2026-11-24"]


def test_batches_after_the_night_and_unready_ones_wait(settings):
    deliver(
        settings.landing_dir,
        "card",
        "transactions",
        "2026-11-25",
        transactions(1, day="2026-11-25"),
    )
    deliver(
        settings.landing_dir,
        "card",
        "transactions",
        "2026-11-24",
        transactions(1),
        write_manifest=False,
    )
    report = _ingest(settings, up_to="2026-11-24")
    assert report.outcomes == []
    assert not delta.exists(settings.table_path("bronze", "card", "transactions"))
    report = _ingest(settings, up_to="2026-11-25")
    assert [o.business_date for o in report.outcomes] == ["2026-11-25"]


def test_rejected_batch_is_logged_with_reason_and_nothing_loaded(settings):
    w = deliver(settings.landing_dir, "card", "transactions", "2026-11-24", transactions(3))
    os.remove(w.folder / w.manifest["files"][0]["name"])
    report = _ingest(settings)
    assert [(o.status, o.reason) for o in report.outcomes] == [("REJECTED", "FILE_MISSING")]
    assert not delta.exists(settings.table_path("bronze", "card", "transactions"))
    row = _status(settings, "2026-11-24")
    assert row["reason"] == "FILE_MISSING" and row["detail"]


def test_quarantined_rows_are_accounted_and_replaced_with_their_batch(settings):
    df = transactions(20)
    bad = df.with_columns(
        pl.when(pl.col("approval_no") == "A00003")
        .then(pl.lit("abc"))
        .otherwise(pl.col("amount"))
        .alias("amount")
    )
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", bad)
    _ingest(settings)
    row = _status(settings, "2026-11-24")
    assert (row["rows_read"], row["rows_loaded"], row["rows_quarantined"]) == (20, 19, 1)
    q = delta.read(settings.table_path("audit", "quarantine"))
    assert q is not None
    assert q.select("row_number", "column", "reason").rows() == [(4, "amount", "TYPE")]
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", df, revision=2)
    _ingest(settings)
    assert _bronze(settings).height == 20


def test_customers_land_pseudonymized(settings):
    feed = get_feed("card", "customers")
    deliver(settings.landing_dir, "card", "customers", "2026-11-24", rows("card", "customers", {}))
    ingest_feed(settings, feed, "2026-11-24", run_id="r", now=NOW)
    df = _bronze(settings, feed)
    assert "rrn" not in df.columns and "name" not in df.columns and "phone" not in df.columns
    assert len(df["gcid"][0]) == 64


def test_an_hours_only_offset_is_an_iso_offset(settings):
    stamps = ["2026-11-24T13:05:09+09", "2026-11-24T13:05:09"] + ["2026-11-24T10:00:00+09:00"] * 10
    df = transactions(12).with_columns(pl.Series("approved_at", stamps))
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", df)
    _ingest(settings)
    loaded = _bronze(settings)
    assert loaded.height == 11
    assert loaded["approved_at"][0] == datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC)
    q = delta.read(settings.table_path("audit", "quarantine"))
    assert q is not None
    assert q.select("row_number", "column", "reason").rows() == [(2, "approved_at", "TYPE")]
