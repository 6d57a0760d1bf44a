"""Generated feeds with every planted fault, run night by night through Dagster.

Checks the audit accounts for every data row of every batch, each planted fault is caught
with its reason, and no direct identifier or full card number is anywhere in the warehouse.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dam_pipelines.lib import delta
from dam_pipelines.lib.generate import generate_landing
from dam_pipelines.lib.governance.audit import read_records
from dam_pipelines.lib.ingest import read_ledger
from dam_pipelines.lib.landing import MANIFEST
from dam_pipelines.lib.nightly import backfill
from dam_pipelines.lib.registry import FEEDS

START = date(2026, 10, 1)
DAYS = 10

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    from dam_pipelines.settings import load_settings

    root = tmp_path_factory.mktemp("e2e")
    settings = load_settings(
        env={
            "DAM_LANDING_DIR": str(root / "landing"),
            "DAM_WAREHOUSE_DIR": str(root / "warehouse"),
            "DAGSTER_HOME": str(root / "dagster_home"),
            "DAM_PSEUDONYM_KEY": "e2e-key-0123456789abcdef",
            "DAM_ENV": "test",
        }
    )
    generate_landing(
        settings.landing_dir, customers=400, days=DAYS, start=START, seed=7, faults=True
    )
    outcomes = backfill(settings, START, START + timedelta(days=DAYS - 1))
    return settings, outcomes


def _manifests(landing: Path):
    for m in sorted(landing.glob("*/*/*/" + MANIFEST)):
        yield m.parent, m


def test_every_night_succeeds(night):
    _, outcomes = night
    assert len(outcomes) == DAYS
    assert all(o.success for o in outcomes), [o for o in outcomes if not o.success]


def test_audit_accounts_for_every_row_of_every_ready_batch(night):
    settings, _ = night
    ledger = read_ledger(settings)
    seen = set()
    for folder, _m in _manifests(settings.landing_dir):
        affiliate, feed, day = folder.parts[-3:]
        if day > (START + timedelta(days=DAYS - 1)).isoformat():
            continue
        rows = ledger.filter(
            (pl.col("affiliate") == affiliate)
            & (pl.col("feed") == feed)
            & (pl.col("business_date") == day)
        )
        assert rows.height >= 1, f"batch {folder} was never logged"
        seen.add((affiliate, feed, day))
        for r in rows.iter_rows(named=True):
            if r["status"] in ("LOADED", "SKIPPED"):
                assert (
                    r["rows_loaded"] + r["rows_quarantined"] + (r["rows_suppressed"] or 0)
                    == r["rows_read"]
                ), r
            elif r["status"] == "REJECTED":
                assert r["reason"] and r["detail"], r
    # bronze holds exactly the loaded rows of the current revisions, less what governance
    # erased (each erasure is recorded, with its row counts per table, in audit/erasures)
    erased: dict[str, int] = {}
    for doc in read_records(settings.warehouse_dir)["rows_deleted_by_table"].drop_nulls():
        for table, n in json.loads(doc).items():
            erased[table] = erased.get(table, 0) + n
    for feed in FEEDS:
        cur = ledger.filter(
            (pl.col("affiliate") == feed.affiliate)
            & (pl.col("feed") == feed.name)
            & pl.col("status").is_in(["LOADED", "SKIPPED"])
        )
        df = delta.read(settings.table_path("bronze", feed.affiliate, feed.name))
        n = 0 if df is None else df.height
        expected = int(cur["rows_loaded"].sum() or 0) - erased.get(f"bronze/{feed.id}", 0)
        assert n == expected, feed.id


def test_every_planted_fault_is_caught(night):
    settings, _ = night
    faults = json.loads((settings.landing_dir / "_faults.json").read_text())
    ledger = read_ledger(settings)
    quarantine = delta.read(settings.table_path("audit", "quarantine"))
    assert quarantine is not None
    batch_reasons = {
        "MANIFEST_INVALID",
        "FILE_MISSING",
        "CHECKSUM_MISMATCH",
        "DECODE_ERROR",
        "MISSING_COLUMN",
        "ROW_COUNT_MISMATCH",
        "CONTROL_TOTAL_MISMATCH",
        "TOO_MANY_BAD_ROWS",
    }
    row_reasons = {
        "TYPE",
        "REQUIRED",
        "ENUM",
        "RANGE",
        "INVALID_RRN",
        "RRN_MISMATCH",
        "DUPLICATE_KEY",
        "UNMASKED_PAN",
    }
    caught_batch, caught_row = set(), set()
    for f in faults:
        reason = f.get("expected_reason")
        key = (
            (pl.col("affiliate") == f["affiliate"])
            & (pl.col("feed") == f["feed"])
            & (pl.col("business_date") == f["business_date"])
        )
        if reason in batch_reasons:
            hit = ledger.filter(
                key & (pl.col("status") == "REJECTED") & (pl.col("reason") == reason)
            )
            assert hit.height == 1, f
            caught_batch.add(reason)
        elif reason in row_reasons:
            cond = key & (pl.col("reason") == reason)
            if f.get("row_number") is not None:
                cond = cond & (pl.col("row_number") == f["row_number"])
            assert quarantine.filter(cond).height >= 1, f
            caught_row.add(reason)
    assert caught_batch == batch_reasons
    assert caught_row == row_reasons


def _identifiers(landing: Path) -> tuple[set[str], set[str], set[str]]:
    """rrns, names and phones as delivered in the landing customers feeds."""
    rrns, names, phones = set(), set(), set()
    for folder in landing.glob("*/customers/*"):
        for part in folder.iterdir():
            if part.suffix == ".parquet":
                try:
                    df = pl.read_parquet(part)
                except Exception:
                    continue
            elif part.suffix == ".csv":
                raw = part.read_bytes()
                for enc in ("utf-8-sig", "cp949"):
                    try:
                        text = raw.decode(enc)
                        break
                    except UnicodeDecodeError:
                        text = None
                if text is None:
                    continue
                try:
                    df = pl.read_csv(text.encode(), infer_schema=False)
                except Exception:
                    continue
            else:
                continue
            for col, bucket in (("rrn", rrns), ("name", names), ("phone", phones)):
                if col in df.columns:
                    bucket.update(v for v in df[col].cast(pl.Utf8).drop_nulls().to_list() if v)
    return rrns, names, phones


# 16 digits not inside a longer digit or hex run (hashes are hex) nor a decimal fraction
PAN = re.compile(r"(?<![0-9a-fA-F.])\d{16}(?![0-9a-fA-F.])")


def test_no_identifier_anywhere_in_the_warehouse(night):
    settings, _ = night
    rrns, names, phones = _identifiers(settings.landing_dir)
    assert len(rrns) > 100 and len(names) > 100
    rrn_digits = {r.replace("-", "") for r in rrns}
    needles = {*rrns, *rrn_digits, *{n for n in names if len(n) >= 2}, *phones}
    for path in settings.warehouse_dir.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                column = table.column(name)
                values = {str(v) for v in column.to_pylist() if v is not None}
                assert not values & needles, f"identifier in {path}:{name}"
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                    assert not any(PAN.search(v) for v in values), f"card number in {path}:{name}"
        elif path.suffix in (".json", ".crc") or "_delta_log" in path.parts:
            text = path.read_bytes().decode("utf-8", "replace")
            # rrns and phones anywhere; names as whole JSON strings (a syllable pair can occur
            # inside a merchant name by chance)
            assert not any(n in text for n in (*rrns, *rrn_digits, *phones)), (
                f"identifier in {path}"
            )
            assert not any(f'"{n}"' in text for n in names), f"name in {path}"
            assert not PAN.search(text), f"card number in {path}"


def test_the_nightly_job_keeps_the_trend_cells_cache(night):
    """Through Dagster, night by night: gold writes the people the trend cells were counted
    with (materializing the asset ``silver/card/trend_people``) and the cache's state that
    names them; the month tonight's batches appended to was recomputed."""
    import dagster as dg

    from dam_pipelines.lib.silver import read_state
    from dam_pipelines.lib.trend_cells import PEOPLE, STATE

    settings, _ = night
    state = read_state(settings.warehouse_dir, STATE)
    assert state is not None and state["as_of"] == (START + timedelta(days=DAYS - 1)).isoformat()
    assert state["recomputed"] == ["2026-10"] and sorted(state["months"]) == ["2026-10"]
    people = delta.read(settings.warehouse_dir / PEOPLE)
    assert people is not None and people["build"].unique().to_list() == [state["token"]]
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(PEOPLE.split("/")))
    assert event is not None
