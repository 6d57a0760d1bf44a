"""Ingestion overlaps work (files read side by side, bronze writes in the background) without
changing any outcome: errors name the first file in order, a failed write stops the run before
the ledger, log lines keep batch order."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from dam_pipelines.lib import delta
from dam_pipelines.lib import ingest as ingest_module
from dam_pipelines.lib.ingest import ingest_feeds, read_ledger
from dam_pipelines.lib.landing import write_batch
from dam_pipelines.lib.registry import get_feed
from dam_pipelines.lib.validate import BatchRejected, validate_batch
from dam_pipelines_tests.feedkit import deliver, rows, transactions

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
TXN = get_feed("card", "transactions")
CUSTOMERS = get_feed("card", "customers")


def _txn_rows(prefix: str, n: int) -> pl.DataFrame:
    return transactions(n, day="2026-11-24", prefix=prefix)


def _validate(folder: Path) -> None:
    validate_batch(folder, TXN, "2026-11-24", pseudonym_key="k", ingested_at=NOW)


def test_the_first_undecodable_file_in_manifest_order_is_named(tmp_path: Path) -> None:
    wb = write_batch(
        tmp_path, "card", "transactions", "2026-11-24", [_txn_rows("A", 3), _txn_rows("B", 3)]
    )
    first, second = (f["name"] for f in wb.manifest["files"])
    # both files are spoiled after the manifest was written: the checksums fail first ...
    (wb.folder / second).write_bytes(b"approval_no\n\xff\n")
    (wb.folder / first).write_bytes(b"approval_no\n\xfe\n")
    with pytest.raises(BatchRejected) as err:
        _validate(wb.folder)
    assert err.value.reason == "CHECKSUM_MISMATCH" and err.value.detail.startswith(first)


def test_decode_errors_are_reported_for_the_first_file(tmp_path: Path) -> None:
    wb = write_batch(
        tmp_path, "card", "transactions", "2026-11-24", [_txn_rows("A", 3), _txn_rows("B", 3)]
    )
    manifest = dict(wb.manifest)
    bodies = [b"approval_no,amount\nA1\n", b"approval_no\n\xff\n"]  # ragged, then bad bytes
    for f, body in zip(manifest["files"], bodies, strict=True):
        (wb.folder / f["name"]).write_bytes(body)
        f["sha256"] = hashlib.sha256(body).hexdigest()
    (wb.folder / "_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BatchRejected) as err:
        _validate(wb.folder)
    first = manifest["files"][0]["name"]
    assert err.value.reason == "DECODE_ERROR"
    assert err.value.detail.startswith(f"{first}: line 2 (data row 1): has 1 field")


def test_a_control_total_beyond_int64_is_summed_exactly(tmp_path: Path) -> None:
    df = _txn_rows("A", 4).with_columns(
        pl.Series("amount", ["9223372036854775807"] * 3 + ["9223372036854775808"])
    )
    wb = write_batch(tmp_path, "card", "transactions", "2026-11-24", [df])
    # the last value does not fit a 64-bit integer: it counts 0, the others are summed exactly
    for total, loads in [(3 * (2**63 - 1), True), (3 * (2**63 - 1) - 2**64, False)]:
        manifest = {**wb.manifest, "control_total": {"column": "amount", "sum": total}}
        (wb.folder / "_manifest.json").write_text(json.dumps(manifest))
        if loads:
            vb = validate_batch(
                wb.folder,
                TXN,
                "2026-11-24",
                pseudonym_key="k",
                bad_row_threshold=1.0,
                ingested_at=NOW,
            )
            assert vb.rows_read == 4
        else:
            with pytest.raises(BatchRejected) as err:
                _validate(wb.folder)
            assert err.value.reason == "CONTROL_TOTAL_MISMATCH"


def test_a_failed_bronze_write_stops_the_run_before_the_ledger(settings, monkeypatch) -> None:
    land = settings.landing_dir
    deliver(land, "card", "transactions", "2026-11-23", transactions(3, day="2026-11-23"))
    deliver(land, "card", "transactions", "2026-11-24", transactions(3, day="2026-11-24"))
    deliver(land, "card", "customers", "2026-11-24", rows("card", "customers", {}))
    real = delta.replace_where

    def failing(path, df, predicate, **kw):
        if "transactions" in str(path) and "2026-11-23" in predicate:
            raise OSError("disk full")
        return real(path, df, predicate, **kw)

    monkeypatch.setattr(ingest_module.delta, "replace_where", failing)
    with pytest.raises(OSError, match="disk full"):
        ingest_feeds(settings, [TXN, CUSTOMERS], "2026-11-24", run_id="r1", now=NOW)
    assert read_ledger(settings).height == 0  # nothing recorded: the next run redoes it all
    # the later batch of the same table was not written after the failure
    assert delta.read(settings.table_path("bronze", "card", "transactions")) is None
    assert delta.read(settings.table_path(*ingest_module.QUARANTINE)) is None

    monkeypatch.setattr(ingest_module.delta, "replace_where", real)
    reports = ingest_feeds(settings, [TXN, CUSTOMERS], "2026-11-24", run_id="r2", now=NOW)
    assert [o.status for o in reports[TXN.id].outcomes] == ["LOADED", "LOADED"]
    assert [o.status for o in reports[CUSTOMERS.id].outcomes] == ["LOADED"]
    bronze = delta.read(settings.table_path("bronze", "card", "transactions"))
    assert bronze is not None and bronze.height == 6
    assert reports[TXN.id].bronze_version == delta.version(
        settings.table_path("bronze", "card", "transactions")
    )


def test_log_lines_keep_batch_order(settings) -> None:
    land = settings.landing_dir
    deliver(land, "card", "transactions", "2026-11-23", transactions(3, day="2026-11-23"))
    deliver(land, "card", "transactions", "2026-11-24", transactions(2, day="2026-11-24"))
    bad = write_batch(land, "card", "customers", "2026-11-24", [rows("card", "customers", {})])
    (bad.folder / bad.manifest["files"][0]["name"]).write_bytes(b"spoiled")
    lines: list[str] = []
    ingest_feeds(settings, [TXN, CUSTOMERS], "2026-11-24", run_id="r1", now=NOW, log=lines.append)
    assert [line.split(":")[0] for line in lines] == [
        "card/transactions 2026-11-23 r1",
        "card/transactions 2026-11-24 r1",
        "card/customers 2026-11-24 r1",
    ]
    assert "loaded 3" in lines[0] and "loaded 2" in lines[1] and "REJECTED" in lines[2]


def test_batches_are_validated_two_at_a_time(settings, monkeypatch) -> None:
    """The look-ahead validates the next batch while the current one is validated: two
    validations meet at a barrier, which times out (and fails the run) if they never overlap."""
    import threading

    land = settings.landing_dir
    for day in ("2026-11-22", "2026-11-23", "2026-11-24"):
        deliver(land, "card", "transactions", day, transactions(2, day=day, prefix=day[-2:]))
    meet = threading.Barrier(2, timeout=20)
    met: list[str] = []
    real = ingest_module.validate_batch

    def meeting(folder, *args, **kw):
        if folder.name in ("2026-11-22", "2026-11-23"):
            meet.wait()  # both must be running at once
            met.append(folder.name)
        return real(folder, *args, **kw)

    monkeypatch.setattr(ingest_module, "validate_batch", meeting)
    reports = ingest_feeds(settings, [TXN], "2026-11-24", run_id="r1", now=NOW)
    assert sorted(met) == ["2026-11-22", "2026-11-23"]
    outcomes = reports[TXN.id].outcomes
    assert [(o.business_date, o.status, o.rows_loaded) for o in outcomes] == [
        ("2026-11-22", "LOADED", 2),
        ("2026-11-23", "LOADED", 2),
        ("2026-11-24", "LOADED", 2),
    ]


def _fail_validation_of(monkeypatch, day: str, error: Exception) -> None:
    """The validation of the batch of ``day`` raises ``error``; the others run as usual."""
    real = ingest_module.validate_batch

    def failing(folder, *args, **kw):
        if folder.name == day:
            raise error
        return real(folder, *args, **kw)

    monkeypatch.setattr(ingest_module, "validate_batch", failing)


def test_a_planned_batch_the_run_skips_is_dropped(settings, monkeypatch) -> None:
    """A re-delivered batch is planned (its sighting is new) but skipped, not loaded: its
    validation, even a failing one, is dropped, and the batches after it are handed over in
    order."""
    land = settings.landing_dir
    deliver(land, "card", "transactions", "2026-11-22", transactions(2, day="2026-11-22"))
    ingest_feeds(settings, [TXN], "2026-11-22", run_id="r1", now=NOW)
    again = dict(created_at="2026-11-23T05:00:00+09:00")
    deliver(land, "card", "transactions", "2026-11-22", transactions(2, day="2026-11-22"), **again)
    deliver(land, "card", "transactions", "2026-11-23", transactions(3, day="2026-11-23"))
    deliver(land, "card", "transactions", "2026-11-24", transactions(4, day="2026-11-24"))
    _fail_validation_of(monkeypatch, "2026-11-22", OSError("never handed over"))
    reports = ingest_feeds(settings, [TXN], "2026-11-24", run_id="r2", now=NOW)
    assert [(o.business_date, o.status, o.rows_loaded) for o in reports[TXN.id].outcomes] == [
        ("2026-11-22", "SKIPPED", 2),
        ("2026-11-23", "LOADED", 3),
        ("2026-11-24", "LOADED", 4),
    ]


def test_an_error_in_a_validation_ahead_is_raised_at_its_batch(settings, monkeypatch) -> None:
    """An unexpected error of a batch validated ahead stops the run at that batch, as a direct
    call would: the batches before it are written, nothing reaches the ledger."""
    land = settings.landing_dir
    for day in ("2026-11-22", "2026-11-23", "2026-11-24"):
        deliver(land, "card", "transactions", day, transactions(2, day=day, prefix=day[-2:]))
    _fail_validation_of(monkeypatch, "2026-11-23", OSError("unreadable disk"))
    lines: list[str] = []
    with pytest.raises(OSError, match="unreadable disk"):
        ingest_feeds(settings, [TXN], "2026-11-24", run_id="r1", now=NOW, log=lines.append)
    assert read_ledger(settings).height == 0
    bronze = delta.read(settings.table_path("bronze", "card", "transactions"))
    assert bronze is not None
    assert bronze["business_date"].unique().to_list() == ["2026-11-22"]
    assert [line.split(":")[0] for line in lines] == ["card/transactions 2026-11-22 r1"]


def test_the_feed_with_most_rows_goes_first_and_reports_keep_their_order(settings) -> None:
    land = settings.landing_dir
    deliver(land, "card", "transactions", "2026-11-24", transactions(2, day="2026-11-24"))
    customers = rows("card", "customers", *[{"customer_no": f"C{i}"} for i in range(5)])
    deliver(land, "card", "customers", "2026-11-24", customers)
    lines: list[str] = []
    reports = ingest_feeds(
        settings, [TXN, CUSTOMERS], "2026-11-24", run_id="r1", now=NOW, log=lines.append
    )
    assert [line.split(":")[0] for line in lines] == [
        "card/customers 2026-11-24 r1",  # 5 rows to validate: taken first
        "card/transactions 2026-11-24 r1",
    ]
    assert list(reports) == [TXN.id, CUSTOMERS.id]
    assert [o.rows_loaded for o in reports[CUSTOMERS.id].outcomes] == [5]
