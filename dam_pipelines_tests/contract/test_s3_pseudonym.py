"""Contract §3 (gcid, rrn rules, masking), through ingestion."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import polars as pl

from dam_pipelines_tests.contract.kit import KEY, bronze, deliver, ingest, settings_for

D = "2026-11-24"


def test_gcid_is_hmac_sha256_of_the_13_digits_and_no_identifier_lands(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    deliver(s, "card", "customers", D, {"rrn": "900101-1234560"})
    ingest(s, D)
    got = bronze(s, "card", "customers")
    expected = hmac.new(KEY.encode("utf-8"), b"9001011234560", hashlib.sha256).hexdigest()
    assert got["gcid"].to_list() == [expected]
    assert not {"rrn", "name", "phone"} & set(got.columns)


def test_rrn_centuries_gender_digit_and_no_check_digit(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    ok = [  # (rrn, birth_date, gender): G 1..8, any last digit (no check digit)
        ("991231-1000000", "1999-12-31", "M"),
        ("991231-2999999", "1999-12-31", "F"),
        ("000229-3111111", "2000-02-29", "M"),
        ("000229-4222222", "2000-02-29", "F"),
        ("850615-5333333", "1985-06-15", "M"),
        ("850615-6444444", "1985-06-15", "F"),
        ("100101-7555555", "2010-01-01", "M"),
        ("100101-8666666", "2010-01-01", "F"),
    ]
    bad = [
        ("991231-9000000", "1999-12-31", "M"),  # INVALID_RRN: G 9
        ("000229-1000000", "2000-02-29", "M"),  # INVALID_RRN: 1900-02-29 is no date
        ("991231-1000000", "2099-12-31", "M"),  # RRN_MISMATCH birth_date
        ("991231-1000000", "1999-12-31", "F"),  # RRN_MISMATCH gender
    ]
    good = [
        {"customer_no": f"G{i}", "rrn": f"8001{i:02d}-1000000", "birth_date": f"1980-01-{i:02d}"}
        for i in range(1, 29)
    ]
    rows = [
        {"customer_no": f"X{i}", "rrn": r, "birth_date": b, "gender": g}
        for i, (r, b, g) in enumerate(ok + bad)
    ]
    deliver(s, "card", "customers", D, *good, *rows)
    ingest(s, D)
    loaded = bronze(s, "card", "customers").filter(pl.col("customer_no").str.starts_with("X"))
    assert sorted(loaded["customer_no"]) == [f"X{i}" for i in range(8)]
    q = pl.read_delta(str(s.warehouse_dir / "audit" / "quarantine")).sort("row_number")
    assert list(zip(q["row_number"], q["column"], q["reason"], q["value"], strict=True)) == [
        (37, "rrn", "INVALID_RRN", "991231-9******"),
        (38, "rrn", "INVALID_RRN", "000229-1******"),
        (39, "birth_date", "RRN_MISMATCH", "2099-12-31"),
        (40, "gender", "RRN_MISMATCH", "F"),
    ]
    assert not q["record"].str.contains("9912319000000|991231-9000000|김철수|010-1234").any()


def test_a_full_card_number_is_masked_before_anything_is_written(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    good = [{"approval_no": f"G{i}", "approved_at": f"{D}T10:00:00+09:00"} for i in range(20)]
    deliver(
        s,
        "card",
        "transactions",
        D,
        *good,
        {"approval_no": "X1", "card_no": "1234567890123456", "approved_at": f"{D}T10:00:00+09:00"},
    )
    ingest(s, D)
    q = pl.read_delta(str(s.warehouse_dir / "audit" / "quarantine"))
    assert q.select("column", "reason", "value").rows() == [
        ("card_no", "UNMASKED_PAN", "123456******3456")
    ]
    assert "1234567890123456" not in q["record"][0]
    assert "X1" not in bronze(s, "card", "transactions")["approval_no"].to_list()
