"""Contract §1 (landing zone, manifest, csv dialect, parquet): end to end through ingestion."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dam_pipelines.lib.landing import write_batch
from dam_pipelines_tests.contract.kit import bronze, deliver, frame, ingest, ledger, settings_for

D = "2026-11-24"


def _status(s, feed: str) -> list[tuple[str, int, str]]:
    led = ledger(s).filter(pl.col("feed") == feed)
    return list(zip(led["business_date"], led["revision"], led["status"], strict=True))


def test_a_correction_whose_manifest_has_a_bom_replaces_the_earlier_revision(
    tmp_path: Path,
) -> None:
    # manifest.py accepts a UTF-8 BOM; the ledger must key the batch by the same revision.
    s = settings_for(tmp_path)
    deliver(s, "bank", "deposit_accounts", D, {"balance": "100"})
    ingest(s, D)
    write_batch(
        s.landing_dir,
        "bank",
        "deposit_accounts",
        D,
        [frame("bank", "deposit_accounts", {"balance": "333"})],
        revision=2,
    )
    m = s.landing_dir / "bank" / "deposit_accounts" / D / "_manifest.json"
    m.write_bytes(b"\xef\xbb\xbf" + m.read_bytes())
    ingest(s, D)
    assert _status(s, "deposit_accounts") == [(D, 1, "REPLACED"), (D, 2, "LOADED")]
    assert bronze(s, "bank", "deposit_accounts")["balance"].to_list() == [333]


def test_csv_with_bom_crlf_any_header_order_and_quoting_loads_exactly(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    folder = s.landing_dir / "card" / "merchants" / D
    folder.mkdir(parents=True)
    data = (
        '\ufeffupdated_at,category,merchant_id,"sido_code",merchant_name\r\n'
        '2026-11-24T13:05:09+09:00,CAFE,M1,11,"카페, ""별""\r\n2층"\r\n'
        "2026-11-23T15:00:00Z,GROCERY,M2,42,plain\r\n"
    ).encode()
    (folder / "part-00001.csv").write_bytes(data)
    (folder / "stale-r0.csv").write_bytes(b"garbage")  # not listed: ignored
    import json

    (folder / "_manifest.json").write_text(
        json.dumps(
            {
                "contract_version": 1,
                "affiliate": "card",
                "feed": "merchants",
                "business_date": D,
                "revision": 1,
                "format": "csv",
                "encoding": "utf-8",
                "files": [
                    {
                        "name": "part-00001.csv",
                        "rows": 2,
                        "sha256": hashlib.sha256(data).hexdigest(),
                    }
                ],
                "created_at": "2026-11-25T01:10:00+09:00",
            }
        )
    )
    ingest(s, D)
    got = bronze(s, "card", "merchants").sort("merchant_id")
    assert _status(s, "merchants") == [(D, 1, "LOADED")]
    assert got["merchant_name"].to_list() == ['카페, "별"\r\n2층', "plain"]
    assert got["category"].to_list() == ["CAFE", "GROCERY"]
    assert got["sido_code"].to_list() == ["11", "42"]
    assert got["updated_at"].to_list() == [
        datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC),
        datetime(2026, 11, 23, 15, tzinfo=UTC),
    ]


def test_cp949_csv_is_decoded(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    deliver(s, "card", "merchants", D, {"merchant_name": "한글상점"}, encoding="cp949")
    ingest(s, D)
    assert bronze(s, "card", "merchants")["merchant_name"].to_list() == ["한글상점"]


def test_parquet_native_types_tz_aware_timestamps_bools_and_empty_strings(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    kst = timezone(timedelta(hours=9))
    table = pa.table(
        {
            "approval_no": ["A1", "A2"],
            "customer_no": ["C1", "C1"],
            "card_no": ["123456******3456", "123456******3456"],
            "approved_at": pa.array(
                [
                    datetime(2026, 11, 24, 0, 0, tzinfo=kst),
                    datetime(2026, 11, 23, 14, 59, 59, tzinfo=UTC),
                ],
                type=pa.timestamp("us", tz="+09:00"),
            ),
            "txn_type": ["PURCHASE", "CANCEL"],
            "original_approval_no": ["", "A0"],  # empty string = null
            "amount": pa.array([1000, 200], type=pa.int32()),
            "installment_months": pa.array([0, 0], type=pa.int64()),
            "merchant_id": ["M1", "M1"],
            "channel": ["ONLINE", "OFFLINE"],
            "is_overseas": [True, False],
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    data = buf.getvalue()
    folder = s.landing_dir / "card" / "transactions" / D
    folder.mkdir(parents=True)
    (folder / "p1.parquet").write_bytes(data)
    import json

    (folder / "_manifest.json").write_text(
        json.dumps(
            {
                "contract_version": 1,
                "affiliate": "card",
                "feed": "transactions",
                "business_date": D,
                "revision": 1,
                "format": "parquet",
                "encoding": "utf-8",
                "files": [
                    {"name": "p1.parquet", "rows": 2, "sha256": hashlib.sha256(data).hexdigest()}
                ],
                "control_total": {"column": "amount", "sum": 1200},
                "created_at": "2026-11-25T01:10:00+09:00",
            }
        )
    )
    ingest(s, D)
    assert _status(s, "transactions") == [(D, 1, "LOADED")]
    got = bronze(s, "card", "transactions").sort("approval_no")
    assert got["event_date"].to_list() == [date(2026, 11, 24), date(2026, 11, 23)]
    assert got["is_overseas"].to_list() == [True, False]
    assert got["original_approval_no"].to_list() == [None, "A0"]
    assert got["amount"].to_list() == [1000, 200]


def test_redelivery_is_a_noop_and_a_late_lower_revision_never_replaces(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    deliver(s, "card", "merchants", "2026-11-23", {"category": "CAFE"})
    deliver(s, "card", "merchants", D, {"category": "FUEL"}, revision=2)
    ingest(s, D)
    m = s.landing_dir / "card" / "merchants" / "2026-11-23" / "_manifest.json"
    os.utime(m, ns=(10**9, 10**9))  # same key and revision delivered again
    # the folder of D is rewritten with an older revision arriving late
    deliver(s, "card", "merchants", D, {"category": "TRAVEL"}, revision=1)
    ingest(s, D)
    assert _status(s, "merchants") == [
        ("2026-11-23", 1, "SKIPPED"),
        (D, 1, "REPLACED"),
        (D, 2, "LOADED"),
    ]
    got = bronze(s, "card", "merchants").sort("business_date")
    assert got["category"].to_list() == ["CAFE", "FUEL"]
