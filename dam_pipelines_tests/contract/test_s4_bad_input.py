"""Contract §4 (batch rejection order, row reasons, audit tables), through ingestion."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from dam_pipelines.lib.landing import write_batch
from dam_pipelines_tests.contract.kit import bronze, frame, ingest, ledger, settings_for

D = "2026-11-24"


def _merchants(n: int, start: int = 0, **kw) -> pl.DataFrame:
    return frame("card", "merchants", *[{"merchant_id": f"M{start + i}", **kw} for i in range(n)])


def _break(folder: Path, name: str, how: str) -> None:
    f = folder / name
    if how == "missing":
        f.unlink()
    elif how == "checksum":
        f.write_bytes(f.read_bytes() + b"M999,x,CAFE,11,2026-11-24T10:00:00+09:00\n")
    elif how == "decode":  # bytes invalid in utf-8, with a matching sha256
        f.write_bytes(f.read_bytes().replace(b"CAFE", b"CA\xffFE"))
        m = json.loads((folder / "_manifest.json").read_text())
        for entry in m["files"]:
            if entry["name"] == name:
                entry["sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
        (folder / "_manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ("checksum", "missing", "FILE_MISSING"),  # each reason across all files first
        ("decode", "checksum", "CHECKSUM_MISMATCH"),
        (None, "decode", "DECODE_ERROR"),
    ],
)
def test_batch_reasons_in_contract_order_across_files(
    tmp_path: Path, first, second, reason
) -> None:
    s = settings_for(tmp_path)
    wb = write_batch(
        s.landing_dir,
        "card",
        "merchants",
        D,
        [_merchants(2, category="CAFE"), _merchants(2, 10, category="CAFE")],
    )
    names = [f["name"] for f in wb.manifest["files"]]
    if first:
        _break(wb.folder, names[0], first)
    _break(wb.folder, names[1], second)
    ingest(s, D)
    led = ledger(s)
    assert led.select("status", "reason", "rows_loaded", "rows_quarantined").rows() == [
        ("REJECTED", reason, 0, 0)
    ]
    assert not (s.warehouse_dir / "bronze" / "card" / "merchants").exists()


def test_missing_column_before_row_count_and_control_total(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    write_batch(
        s.landing_dir,
        "card",
        "merchants",
        D,
        [_merchants(2), _merchants(2, 10).drop("category")],
        manifest_overrides={"control_total": {"column": "category", "sum": 1}},
    )
    ingest(s, D)  # control_total on a text column: the manifest itself is invalid
    assert ledger(s)["reason"].to_list() == ["MANIFEST_INVALID"]
    s2 = settings_for(tmp_path / "b")
    wb = write_batch(
        s2.landing_dir, "card", "merchants", D, [_merchants(2), _merchants(2, 10).drop("category")]
    )
    wb.manifest["files"][0]["rows"] = 5  # a row count mismatch in the first file
    (wb.folder / "_manifest.json").write_text(json.dumps(wb.manifest))
    ingest(s2, D)
    assert ledger(s2)["reason"].to_list() == ["MISSING_COLUMN"]


def test_row_numbers_across_parts_and_one_ledger_row_per_revision(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    p1 = _merchants(10)
    p2 = frame(
        "card",
        "merchants",
        *[{"merchant_id": f"N{i}"} for i in range(9)],
        {"merchant_id": "N9", "category": "BAKERY"},
    )
    write_batch(s.landing_dir, "card", "merchants", D, [p1, p2.with_columns(extra=pl.lit("z"))])
    ingest(s, D)
    led = ledger(s)
    assert led.select(
        "revision", "status", "rows_read", "rows_loaded", "rows_quarantined", "dropped_columns"
    ).rows() == [(1, "LOADED", 20, 19, 1, "extra")]
    q = pl.read_delta(str(s.warehouse_dir / "audit" / "quarantine"))
    assert q.select("revision", "row_number", "column", "reason").rows() == [
        (1, 20, "category", "ENUM")
    ]
    assert "extra" not in bronze(s, "card", "merchants").columns
    # 3 bad rows of 20 is more than 10%: the correction is rejected, revision 1 stays loaded
    write_batch(
        s.landing_dir,
        "card",
        "merchants",
        D,
        [_merchants(17), _merchants(3, 50, category="BAKERY")],
        revision=2,
    )
    ingest(s, D)
    assert ledger(s).select("revision", "status", "reason").rows() == [
        (1, "LOADED", None),
        (2, "REJECTED", "TOO_MANY_BAD_ROWS"),
    ]
    # exactly 10% loads
    write_batch(
        s.landing_dir,
        "card",
        "merchants",
        D,
        [_merchants(18), _merchants(2, 50, category="BAKERY")],
        revision=3,
    )
    ingest(s, D)
    assert ledger(s).select("revision", "status").rows() == [
        (1, "REPLACED"),
        (2, "REJECTED"),
        (3, "LOADED"),
    ]
    assert bronze(s, "card", "merchants").height == 18


def test_duplicate_key_quarantines_every_such_row(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    write_batch(s.landing_dir, "card", "merchants", D, [_merchants(9), _merchants(1, 3)])
    ingest(s, D)  # M3 twice (rows 4 and 10): 2 of 10 bad -> rejected
    assert ledger(s)["reason"].to_list() == ["TOO_MANY_BAD_ROWS"]
    s2 = settings_for(tmp_path / "b")
    write_batch(s2.landing_dir, "card", "merchants", D, [_merchants(19), _merchants(1, 3)])
    ingest(s2, D)
    q = pl.read_delta(str(s2.warehouse_dir / "audit" / "quarantine"))
    assert q.select("row_number", "column", "reason").rows() == [
        (4, "merchant_id", "DUPLICATE_KEY"),
        (20, "merchant_id", "DUPLICATE_KEY"),
    ]
