from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dam_pipelines.lib.landing import WrittenBatch, write_batch
from dam_pipelines.lib.registry import get_feed
from dam_pipelines.lib.validate import (
    BatchRejected,
    ValidatedBatch,
    bronze_schema,
    quarantine_schema,
    validate_batch,
)
from dam_pipelines_tests import feedkit

BD = "2026-11-24"
AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
KEY = "test-pseudonym-key-0123456789"

TX = {
    "approval_no": "A0001",
    "customer_no": "C0001",
    "card_no": "123456******3456",
    "approved_at": "2026-11-24T13:05:09+09:00",
    "txn_type": "PURCHASE",
    "original_approval_no": None,
    "amount": "15000",
    "installment_months": "0",
    "merchant_id": "M001",
    "channel": "OFFLINE",
    "is_overseas": "N",
}
CUSTOMER = {**feedkit.CUSTOMER, "customer_no": "B0001"}
MERCHANT = {
    "merchant_id": "M001",
    "merchant_name": "동네마트",
    "category": "GROCERY",
    "sido_code": "11",
    "updated_at": "2026-11-20T09:00:00+09:00",
}
PAYMENT = {
    "payment_id": "P1",
    "policy_no": "L1",
    "customer_no": "L0001",
    "due_on": "2026-11-24",
    "paid_at": "2026-11-24T09:00:00+09:00",
    "amount": "50000",
    "method": "AUTO_DEBIT",
    "result": "PAID",
}
HOLDING = {
    "account_no": "S-1",
    "customer_no": "S0001",
    "symbol": "005930",
    "market": "KOSPI",
    "quantity": "10",
    "avg_cost": "71000.5",
    "market_value": "720000",
}
DEPOSIT = {
    "account_no": "D1",
    "customer_no": "B0001",
    "product_type": "SAVINGS",
    "opened_on": "2020-01-01",
    "closed_on": None,
    "status": "ACTIVE",
    "balance": "1000",
    "interest_rate": "0.035",
}


def txs(n: int, **override: Any) -> list[dict[str, Any]]:
    return [{**TX, "approval_no": f"A{i:04d}", **override} for i in range(1, n + 1)]


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={k: pl.Utf8 for k in rows[0]})


def write(
    tmp_path: Path, feed: str, *parts: list[dict[str, Any]] | pl.DataFrame, **kw: Any
) -> WrittenBatch:
    affiliate, name = feed.split("/")
    frames = [p if isinstance(p, pl.DataFrame) else frame(p) for p in parts]
    return write_batch(tmp_path / "landing", affiliate, name, BD, frames, **kw)


def validate(wb: WrittenBatch, feed: str, threshold: float = 1.0) -> ValidatedBatch:
    return validate_batch(
        wb.folder,
        get_feed(*feed.split("/")),
        BD,
        pseudonym_key=KEY,
        bad_row_threshold=threshold,
        ingested_at=AT,
    )


def rejection(
    wb: WrittenBatch, feed: str = "card/transactions", threshold: float = 1.0
) -> BatchRejected:
    with pytest.raises(BatchRejected) as err:
        validate(wb, feed, threshold)
    return err.value


def part_name(wb: WrittenBatch, i: int = 0) -> str:
    return wb.manifest["files"][i]["name"]


def patch_manifest(wb: WrittenBatch, change: Callable[[dict[str, Any]], None]) -> None:
    path = wb.folder / "_manifest.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def replace_part(wb: WrittenBatch, i: int, data: bytes) -> None:
    """Rewrite part i and keep the manifest's checksum in step (a producer-side bug)."""
    (wb.folder / part_name(wb, i)).write_bytes(data)

    def fix(doc: dict[str, Any]) -> None:
        doc["files"][i]["sha256"] = hashlib.sha256(data).hexdigest()

    patch_manifest(wb, fix)


def issues(vb: ValidatedBatch) -> list[tuple[int, str, str]]:
    return [
        (r["row_number"], r["column"], r["reason"]) for r in vb.quarantine.iter_rows(named=True)
    ]


# --- a good batch -------------------------------------------------------------------------


def test_a_valid_batch_loads_typed_bronze_rows_with_lineage(tmp_path: Path) -> None:
    cancel = {
        **TX,
        "approval_no": "A0003",
        "txn_type": "CANCEL",
        "original_approval_no": "A0001",
        "approved_at": "2026-11-23T15:30:00Z",
        "installment_months": "3",
        "is_overseas": "Y",
    }
    wb = write(tmp_path, "card/transactions", txs(2), [cancel], control_total_column="amount")
    vb = validate(wb, "card/transactions")
    feed = get_feed("card", "transactions")
    expected = pl.DataFrame(
        {
            "approval_no": ["A0001", "A0002", "A0003"],
            "customer_no": ["C0001"] * 3,
            "card_no": ["123456******3456"] * 3,
            "approved_at": [datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC)] * 2
            + [datetime(2026, 11, 23, 15, 30, tzinfo=UTC)],
            "txn_type": ["PURCHASE", "PURCHASE", "CANCEL"],
            "original_approval_no": [None, None, "A0001"],
            "amount": [15000] * 3,
            "installment_months": [0, 0, 3],
            "merchant_id": ["M001"] * 3,
            "channel": ["OFFLINE"] * 3,
            "is_overseas": [False, False, True],
            # 15:30Z is 00:30 on the 24th in KST
            "event_date": [date(2026, 11, 24)] * 3,
            "_batch_id": ["card/transactions/2026-11-24/r1"] * 3,
            "_revision": [1] * 3,
            "_source_file": [part_name(wb, 0)] * 2 + [part_name(wb, 1)],
            "_row_number": [1, 2, 3],
            "_ingested_at": [AT] * 3,
            "business_date": [BD] * 3,
        },
        schema=bronze_schema(feed),
    )
    assert_frame_equal(vb.loaded, expected)
    assert vb.quarantine.schema == pl.Schema(quarantine_schema()) and vb.quarantine.height == 0
    assert (vb.rows_read, vb.bad_rows, vb.dropped_columns) == (3, 0, ())
    assert (vb.event_date_min, vb.event_date_max) == (date(2026, 11, 24), date(2026, 11, 24))
    assert vb.manifest.revision == 1 and vb.rows_loaded == 3


def test_customers_get_a_gcid_and_lose_their_direct_identifiers(tmp_path: Path) -> None:
    second = {
        **CUSTOMER,
        "customer_no": "B0002",
        "rrn": "050228-4000001",
        "birth_date": "2005-02-28",
        "gender": "F",
        "phone": None,
    }
    wb = write(tmp_path, "bank/customers", [CUSTOMER, second])
    vb = validate(wb, "bank/customers")
    assert list(vb.loaded.columns[:3]) == ["customer_no", "gcid", "birth_date"]
    assert not {"rrn", "name", "phone"} & set(vb.loaded.columns)
    want = [
        hmac.new(KEY.encode(), d.encode(), hashlib.sha256).hexdigest()
        for d in ("9001011234567", "0502284000001")
    ]
    assert vb.loaded["gcid"].to_list() == want
    assert vb.loaded.schema == pl.Schema(bronze_schema(get_feed("bank", "customers")))


def test_an_empty_batch_is_valid_and_loads_nothing(tmp_path: Path) -> None:
    wb = write(
        tmp_path,
        "bank/customers",
        pl.DataFrame(schema={k: pl.Utf8 for k in CUSTOMER}),
        control_total_column=None,
    )
    vb = validate(wb, "bank/customers")
    assert (vb.rows_read, vb.loaded.height, vb.bad_rows) == (0, 0, 0)
    assert vb.loaded.schema == pl.Schema(bronze_schema(get_feed("bank", "customers")))
    assert vb.event_date_min is None


def test_ingested_at_must_be_aware(tmp_path: Path) -> None:
    wb = write(tmp_path, "card/transactions", txs(1))
    with pytest.raises(ValueError):
        validate_batch(
            wb.folder,
            get_feed("card", "transactions"),
            BD,
            pseudonym_key=KEY,
            ingested_at=datetime(2026, 11, 25),
        )


# --- batch-level rejections, one per reason ---------------------------------------------


def _bad_manifest(wb: WrittenBatch) -> None:
    patch_manifest(wb, lambda d: d.update(revision=0))


def _missing_file(wb: WrittenBatch) -> None:
    (wb.folder / part_name(wb, 1)).unlink()


def _bad_checksum(wb: WrittenBatch) -> None:
    path = wb.folder / part_name(wb, 1)
    path.write_bytes(path.read_bytes().replace(b"15000", b"15001"))


def _bad_bytes(wb: WrittenBatch) -> None:
    replace_part(wb, 1, (wb.folder / part_name(wb, 1)).read_bytes() + b"A9,\xff\xfe\n")


def _ragged(wb: WrittenBatch) -> None:
    replace_part(wb, 1, (wb.folder / part_name(wb, 1)).read_bytes() + b"A9,C1\n")


def _missing_column(wb: WrittenBatch) -> None:
    replace_part(wb, 1, frame(txs(1)).drop("amount").write_csv().encode())


def _row_count(wb: WrittenBatch) -> None:
    patch_manifest(wb, lambda d: d["files"][1].update(rows=2))


def _control_total(wb: WrittenBatch) -> None:
    patch_manifest(wb, lambda d: d.update(control_total={"column": "amount", "sum": 1}))


@pytest.mark.parametrize(
    ("spoil", "reason", "words"),
    [
        (_bad_manifest, "MANIFEST_INVALID", "revision"),
        (_missing_file, "FILE_MISSING", "part-01002.csv"),
        (_bad_checksum, "CHECKSUM_MISMATCH", "part-01002.csv"),
        (_bad_bytes, "DECODE_ERROR", "part-01002.csv: bytes invalid in utf-8"),
        (_ragged, "DECODE_ERROR", "part-01002.csv: line 3 (data row 2): has 2 fields"),
        (_missing_column, "MISSING_COLUMN", "part-01002.csv: required column(s) amount"),
        (
            _row_count,
            "ROW_COUNT_MISMATCH",
            "part-01002.csv: the manifest says 2 rows, the file has 1",
        ),
        (_control_total, "CONTROL_TOTAL_MISMATCH", "sum of amount over all 2 rows is 30000"),
    ],
)
def test_batch_level_rejection(
    tmp_path: Path, spoil: Callable[[WrittenBatch], None], reason: str, words: str
) -> None:
    wb = write(tmp_path, "card/transactions", txs(1), txs(1, approval_no="A0002"))
    validate(wb, "card/transactions")  # fine before it is spoiled
    spoil(wb)
    err = rejection(wb)
    assert err.reason == reason
    assert words in err.detail


def test_too_many_bad_rows(tmp_path: Path) -> None:
    rows = txs(10)
    rows[0]["amount"] = "x"
    rows[1]["channel"] = "WEB"
    wb = write(tmp_path, "card/transactions", rows)
    err = rejection(wb, threshold=0.10)
    assert err.reason == "TOO_MANY_BAD_ROWS" and err.rows_read == 10
    assert "2 of 10 rows (20.0%)" in err.detail and "ENUM on channel (1)" in err.detail


def test_exactly_the_threshold_loads(tmp_path: Path) -> None:
    rows = txs(20)
    rows[0]["amount"] = "x"
    rows[1]["channel"] = "WEB"
    rows[1]["amount"] = "0"  # a second failure of the same row does not count twice
    wb = write(tmp_path, "card/transactions", rows)
    vb = validate(wb, "card/transactions", threshold=0.10)
    assert (vb.bad_rows, vb.loaded.height, vb.quarantine.height) == (2, 18, 3)
    rows[2]["amount"] = "-1"
    wb = write(tmp_path, "card/transactions", rows)
    assert rejection(wb, threshold=0.10).reason == "TOO_MANY_BAD_ROWS"


# --- priority across all files ------------------------------------------------------------


def _two_parts(tmp_path: Path) -> WrittenBatch:
    return write(tmp_path, "card/transactions", txs(1), txs(1, approval_no="A0002"))


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        (_bad_manifest, _missing_file, "MANIFEST_INVALID"),
        # part 2 is missing, part 1 has a bad checksum: FILE_MISSING wins
        (
            _missing_file,
            lambda wb: (wb.folder / part_name(wb, 0)).write_bytes(b"x"),
            "FILE_MISSING",
        ),
        # part 1 cannot be decoded, part 2 has a bad checksum: CHECKSUM_MISMATCH wins
        (_bad_checksum, lambda wb: replace_part(wb, 0, b"\xff"), "CHECKSUM_MISMATCH"),
        # part 1 lacks a column, part 2 cannot be decoded: DECODE_ERROR wins
        (lambda wb: replace_part(wb, 0, b"approval_no\nA1\n"), _ragged, "DECODE_ERROR"),
        # part 1 has the wrong row count, part 2 lacks a column: MISSING_COLUMN wins
        (
            lambda wb: patch_manifest(wb, lambda d: d["files"][0].update(rows=5)),
            _missing_column,
            "MISSING_COLUMN",
        ),
        (_row_count, _control_total, "ROW_COUNT_MISMATCH"),
    ],
)
def test_reason_priority(
    tmp_path: Path,
    first: Callable[[WrittenBatch], None],
    second: Callable[[WrittenBatch], None],
    reason: str,
) -> None:
    wb = _two_parts(tmp_path)
    first(wb)
    second(wb)
    assert rejection(wb).reason == reason


def test_control_total_comes_before_too_many_bad_rows(tmp_path: Path) -> None:
    wb = write(tmp_path, "card/transactions", txs(2, channel="WEB"))
    _control_total(wb)
    assert rejection(wb, threshold=0.10).reason == "CONTROL_TOTAL_MISMATCH"


def test_control_total_sums_every_row_and_counts_unparseable_as_zero(tmp_path: Path) -> None:
    rows = txs(4)
    rows[0]["amount"], rows[1]["amount"], rows[2]["amount"] = "-5", "12a", None
    wb = write(tmp_path, "card/transactions", rows, control_total_column="amount")
    assert wb.manifest["control_total"]["sum"] == 15000 - 5
    vb = validate(wb, "card/transactions")
    assert vb.loaded.height == 1 and vb.bad_rows == 3


@pytest.mark.parametrize(
    ("declared", "loads"),
    [
        (71601, True),  # the exact sum 71601.25 rounded down; each value's integer part
        (71602, True),  # the exact sum rounded up
        (71600, True),  # the integer literals only (71500 and 100; the others count 0)
        (71599, False),
        (71603, False),
    ],
)
def test_a_decimal_control_total_accepts_each_reading_of_its_integer_sum(
    tmp_path: Path, declared: int, loads: bool
) -> None:
    costs = ["71500", "100", "1.75", "-0.5", "abc", None]
    rows = [{**HOLDING, "account_no": f"S{i}", "avg_cost": c} for i, c in enumerate(costs)]
    wb = write(tmp_path, "securities/holdings", rows)
    patch_manifest(wb, lambda d: d.update(control_total={"column": "avg_cost", "sum": declared}))
    if loads:
        assert validate(wb, "securities/holdings").rows_read == len(costs)
    else:
        err = rejection(wb, "securities/holdings")
        assert err.reason == "CONTROL_TOTAL_MISMATCH"
        assert "is 71600 or 71601 or 71602, the manifest says" in err.detail


def test_a_required_when_column_must_be_in_the_header(tmp_path: Path) -> None:
    wb = write(tmp_path, "bank/customers", frame([CUSTOMER]).drop("closed_on"))
    err = rejection(wb, "bank/customers")
    assert err.reason == "MISSING_COLUMN" and "closed_on" in err.detail


def test_an_empty_csv_file_misses_every_column(tmp_path: Path) -> None:
    wb = write(tmp_path, "card/transactions", txs(1))
    replace_part(wb, 0, b"")
    patch_manifest(wb, lambda d: d["files"][0].update(rows=0))
    err = rejection(wb)
    assert err.reason == "MISSING_COLUMN" and "no header row" in err.detail


# --- row checks ---------------------------------------------------------------------------


ROW_CASES: dict[str, tuple[str, dict[str, Any], list[tuple[str, str]]]] = {
    "type int": ("card/transactions", {"amount": "12a"}, [("amount", "TYPE")]),
    "type int with plus": ("card/transactions", {"amount": "+5"}, [("amount", "TYPE")]),
    "type int non-ascii digit": ("card/transactions", {"amount": "١٢"}, [("amount", "TYPE")]),
    "type int overflow": (
        "card/transactions",
        {"amount": "99999999999999999999"},
        [("amount", "TYPE")],
    ),
    "type timestamp without offset": (
        "card/transactions",
        {"approved_at": "2026-11-24T13:05:09"},
        [("approved_at", "TYPE")],
    ),
    "type timestamp with a space": (
        "card/transactions",
        {"approved_at": "2026-11-24 13:05:09+09:00"},
        [("approved_at", "TYPE")],
    ),
    "type bool": ("card/transactions", {"is_overseas": "y"}, [("is_overseas", "TYPE")]),
    "type card_no": (
        "card/transactions",
        {"card_no": "1234-56**-****-3456"},
        [("card_no", "TYPE")],
    ),
    "type date": ("bank/customers", {"joined_on": "2020-02-30"}, [("joined_on", "TYPE")]),
    "type date year 0": ("bank/customers", {"joined_on": "0000-01-01"}, [("joined_on", "TYPE")]),
    "type decimal": (
        "bank/deposit_accounts",
        {"interest_rate": "3,5"},
        [("interest_rate", "TYPE")],
    ),
    "required": ("card/transactions", {"merchant_id": None}, [("merchant_id", "REQUIRED")]),
    "required when cancel": (
        "card/transactions",
        {"txn_type": "CANCEL"},
        [("original_approval_no", "REQUIRED")],
    ),
    "required when closed": ("bank/customers", {"status": "CLOSED"}, [("closed_on", "REQUIRED")]),
    "required when paid": ("life/premium_payments", {"paid_at": None}, [("paid_at", "REQUIRED")]),
    "enum": ("card/transactions", {"channel": "WEB"}, [("channel", "ENUM")]),
    "enum sido": ("bank/customers", {"sido_code": "99"}, [("sido_code", "ENUM")]),
    "range exclusive min": ("card/transactions", {"amount": "0"}, [("amount", "RANGE")]),
    "range installment 1": (
        "card/transactions",
        {"installment_months": "1"},
        [("installment_months", "RANGE")],
    ),
    "range installment 37": (
        "card/transactions",
        {"installment_months": "37"},
        [("installment_months", "RANGE")],
    ),
    "range risk grade": ("securities/customers", {"risk_grade": "6"}, [("risk_grade", "RANGE")]),
    "range present unless cancel": (
        "card/transactions",
        {"original_approval_no": "A0000"},
        [("original_approval_no", "RANGE")],
    ),
    "range closed_on unless closed": (
        "bank/customers",
        {"closed_on": "2025-01-01"},
        [("closed_on", "RANGE")],
    ),
    "range paid_at unless paid": (
        "life/premium_payments",
        {"result": "FAILED"},
        [("paid_at", "RANGE")],
    ),
    "range event after the business date": (
        "card/transactions",
        {"approved_at": "2026-11-24T15:00:00Z"},
        [("approved_at", "RANGE")],
    ),
    "range event 8 days early": (
        "card/transactions",
        {"approved_at": "2026-11-16T23:59:59+09:00"},
        [("approved_at", "RANGE")],
    ),
    "range due date": ("life/premium_payments", {"due_on": "2026-11-25"}, [("due_on", "RANGE")]),
    "invalid rrn form": ("bank/customers", {"rrn": "9001011234567"}, [("rrn", "INVALID_RRN")]),
    "invalid rrn date": ("bank/customers", {"rrn": "901301-1234567"}, [("rrn", "INVALID_RRN")]),
    "invalid rrn 1900 leap day": (
        "bank/customers",
        {"rrn": "000229-1234567"},
        [("rrn", "INVALID_RRN")],
    ),
    "invalid rrn gender digit": (
        "bank/customers",
        {"rrn": "900101-9234567"},
        [("rrn", "INVALID_RRN")],
    ),
    "invalid rrn born later": (
        "bank/customers",
        {"rrn": "261125-3234567", "birth_date": "2026-11-25"},
        [("rrn", "INVALID_RRN")],
    ),
    "rrn mismatch birth": (
        "bank/customers",
        {"birth_date": "1990-01-02"},
        [("birth_date", "RRN_MISMATCH")],
    ),
    "rrn mismatch century": (
        "bank/customers",
        {"rrn": "050101-3234567", "birth_date": "1905-01-01"},
        [("birth_date", "RRN_MISMATCH")],
    ),
    "rrn mismatch gender": ("bank/customers", {"gender": "F"}, [("gender", "RRN_MISMATCH")]),
    "rrn of a foreign resident": ("bank/customers", {"rrn": "900101-5234567"}, []),
    "unmasked pan": (
        "card/transactions",
        {"card_no": "1234 5678 9012 3456"},
        [("card_no", "UNMASKED_PAN")],
    ),
    "unmasked pan with hyphens": (
        "card/transactions",
        {"card_no": "1234-5678-9012-3456"},
        [("card_no", "UNMASKED_PAN")],
    ),
    "several checks of one row": (
        "card/transactions",
        {"amount": "x", "channel": "WEB"},
        [("amount", "TYPE"), ("channel", "ENUM")],
    ),
}
BASE = {
    "card/transactions": TX,
    "bank/customers": CUSTOMER,
    "securities/customers": {**CUSTOMER, "customer_no": "S0001", "risk_grade": "3"},
    "life/premium_payments": PAYMENT,
    "bank/deposit_accounts": DEPOSIT,
}


@pytest.mark.parametrize(
    ("feed", "override", "expected"), list(ROW_CASES.values()), ids=list(ROW_CASES)
)
def test_row_check(
    tmp_path: Path, feed: str, override: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    key = get_feed(*feed.split("/")).key[0]
    good = {**BASE[feed], key: "K1"}
    bad = {**BASE[feed], key: "K2", **override}
    wb = write(tmp_path, feed, [good, bad])
    vb = validate(wb, feed)
    assert issues(vb) == [(2, column, reason) for column, reason in expected]
    assert vb.bad_rows == (1 if expected else 0)
    assert vb.loaded[key].to_list() == (["K1"] if expected else ["K1", "K2"])
    q = vb.quarantine
    assert q["source_file"].to_list() == [part_name(wb)] * len(expected)
    assert q["batch_id"].to_list() == [f"{feed}/{BD}/r1"] * len(expected)
    assert q["detail"].null_count() == 0 and q["record"].null_count() == 0
    assert q.schema == pl.Schema(quarantine_schema())
    assert vb.loaded.height + vb.bad_rows == vb.rows_read  # nothing lost silently


def test_an_event_dated_seven_days_early_loads(tmp_path: Path) -> None:
    wb = write(tmp_path, "card/transactions", txs(1, approved_at="2026-11-17T00:00:00+09:00"))
    vb = validate(wb, "card/transactions")
    assert vb.loaded["event_date"].to_list() == [date(2026, 11, 17)]
    assert vb.event_date_min == date(2026, 11, 17)


def test_every_row_of_a_repeated_key_is_quarantined(tmp_path: Path) -> None:
    rows = txs(3)
    rows[2]["approval_no"] = "A0001"
    wb = write(tmp_path, "card/transactions", rows[:2], rows[2:])  # across two parts
    vb = validate(wb, "card/transactions")
    assert issues(vb) == [(1, "approval_no", "DUPLICATE_KEY"), (3, "approval_no", "DUPLICATE_KEY")]
    assert vb.loaded["approval_no"].to_list() == ["A0002"]
    assert vb.quarantine["detail"][0] == "key (approval_no) appears 2 times in the batch"


def test_a_composite_key_is_named_by_its_columns(tmp_path: Path) -> None:
    other_symbol = {**HOLDING, "symbol": "000660"}
    wb = write(tmp_path, "securities/holdings", [HOLDING, other_symbol, HOLDING])
    vb = validate(wb, "securities/holdings")
    assert issues(vb) == [
        (1, "account_no,symbol", "DUPLICATE_KEY"),
        (3, "account_no,symbol", "DUPLICATE_KEY"),
    ]
    assert vb.quarantine["value"].to_list() == ["S-1,005930", "S-1,005930"]


def test_quarantine_rows_carry_masked_values_and_the_record(tmp_path: Path) -> None:
    wb = write(tmp_path, "card/transactions", txs(1, card_no="1234567890123456", amount="0"))
    q = validate(wb, "card/transactions").quarantine
    assert q["value"].to_list() == ["123456******3456", "0"]
    assert q["customer_no"].to_list() == ["C0001", "C0001"]
    record = json.loads(q["record"][0])
    assert record["card_no"] == "123456******3456" and record["amount"] == "0"
    assert q["quarantined_at"].to_list() == [AT, AT]
    assert (q["affiliate"][0], q["feed"][0], q["business_date"][0], q["revision"][0]) == (
        "card",
        "transactions",
        BD,
        1,
    )


def test_no_direct_identifier_or_pan_leaves_validation(tmp_path: Path) -> None:
    people = [
        {**CUSTOMER, "customer_no": "B1"},
        {
            **CUSTOMER,
            "customer_no": "B2",
            "rrn": "851231-2345678",
            "name": "이영희",
            "phone": "010-9999-8888",
            "birth_date": "1985-12-31",
            "gender": "M",
        },  # mismatch
        {
            **CUSTOMER,
            "customer_no": "B3",
            "rrn": "8512312345679",
            "name": "박민수",
            "phone": "010-7777-6666",
        },  # malformed rrn
        {
            **CUSTOMER,
            "customer_no": "B3",
            "rrn": "991301-1111111",
            "name": "최지우",
            "phone": "010-5555-4444",
        },  # impossible date, repeated key
    ]
    cards = txs(2)
    cards[0]["card_no"] = "1234567890123456"
    cards[1]["card_no"] = "1234-5678-9012-3456"
    secrets = [
        "1234567",
        "2345678",
        "2345679",
        "1111111",
        "김철수",
        "이영희",
        "박민수",
        "최지우",
        "010-",
        "1234567890123456",
        "789012",  # the hidden middle of the PAN
        "5678-9012",
    ]
    for feed, rows in (("bank/customers", people), ("card/transactions", cards)):
        vb = validate(write(tmp_path, feed, rows), feed)
        assert vb.bad_rows == len(rows) - (1 if feed == "bank/customers" else 0)
        for out in (vb.loaded, vb.quarantine):
            text = out.select(pl.all().cast(pl.Utf8)).write_csv()
            for secret in secrets:
                assert secret not in text, (feed, secret)


def test_cp949_batch_loads_korean_text_exactly(tmp_path: Path) -> None:
    names = ["똠방각하 뷁", '갑돌이네, "본점"']
    rows = [
        {**MERCHANT, "merchant_name": names[0]},
        {**MERCHANT, "merchant_id": "M002", "merchant_name": names[1]},
    ]
    wb = write(tmp_path, "card/merchants", rows, encoding="cp949")
    raw = (wb.folder / part_name(wb)).read_bytes()
    assert "똠".encode("cp949") in raw
    vb = validate(wb, "card/merchants")
    assert vb.loaded["merchant_name"].to_list() == names


def test_cp949_batch_with_invalid_bytes_is_rejected(tmp_path: Path) -> None:
    wb = write(tmp_path, "card/merchants", [MERCHANT], encoding="cp949")
    replace_part(wb, 0, (wb.folder / part_name(wb)).read_bytes() + b"M9,\x81\x20,CAFE,11,x\n")
    err = rejection(wb, "card/merchants")
    assert err.reason == "DECODE_ERROR" and "cp949" in err.detail


def test_utf8_bom_crlf_and_quoted_newlines(tmp_path: Path) -> None:
    name = 'Line one,\r\nline "two"'
    rows = [{**MERCHANT, "merchant_name": name}, {**MERCHANT, "merchant_id": "M002"}]
    wb = write(tmp_path, "card/merchants", rows, bom=True, crlf=True)
    raw = (wb.folder / part_name(wb)).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfmerchant_id,") and b"\r\n" in raw
    vb = validate(wb, "card/merchants")
    assert vb.loaded["merchant_name"].to_list() == [name, MERCHANT["merchant_name"]]
    assert vb.loaded["_row_number"].to_list() == [1, 2]


def test_parquet_with_native_types(tmp_path: Path) -> None:
    kst = timezone(timedelta(hours=9))
    native = pl.DataFrame(
        {
            "approval_no": ["A1", "A2"],
            "customer_no": ["C1", "C1"],
            "card_no": ["123456******3456", "123456******3456"],
            "approved_at": [
                datetime(2026, 11, 24, 13, 5, 9, tzinfo=kst),
                datetime(2026, 11, 23, 15, 30, tzinfo=kst),
            ],
            "txn_type": ["PURCHASE", "PURCHASE"],
            "original_approval_no": ["", None],  # an empty string is null
            "amount": [15000, 2000],
            "installment_months": [0, 12],
            "merchant_id": ["M1", "M2"],
            "channel": ["ONLINE", "OFFLINE"],
            "is_overseas": [True, False],
        },
        schema_overrides={"approved_at": pl.Datetime("us", "Asia/Seoul")},
    )
    naive = native.head(1).with_columns(
        pl.lit("A3").alias("approval_no"),
        pl.col("approved_at").dt.replace_time_zone(None),
    )
    wb = write(
        tmp_path, "card/transactions", native, naive, fmt="parquet", control_total_column="amount"
    )
    vb = validate(wb, "card/transactions")
    assert issues(vb) == [(3, "approved_at", "TYPE")]
    assert "no UTC offset" in vb.quarantine["detail"][0]
    out = vb.loaded
    assert out["approved_at"].to_list() == [
        datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC),
        datetime(2026, 11, 23, 6, 30, tzinfo=UTC),
    ]
    assert out["event_date"].to_list() == [date(2026, 11, 24), date(2026, 11, 23)]
    assert out["is_overseas"].to_list() == [True, False]
    assert out["amount"].to_list() == [15000, 2000]
    assert out["original_approval_no"].to_list() == [None, None]
    assert vb.manifest.encoding is None


def test_parquet_integers_and_timestamps_kept_native_check_as_their_text_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """parse keeps a parquet part's integer and zoned microsecond timestamp columns native:
    the rows loaded and the quarantine (values and records shown as text) are exactly those
    of the same parts rendered as text and parsed back, across every check such a column
    meets (required, required-when, range, the event window, years outside 0001-9999)."""
    from dam_pipelines.lib import parse

    kst = timezone(timedelta(hours=9))
    ts = [
        datetime(2026, 11, 24, 13, 5, 9, 123456, tzinfo=kst),
        datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 9, 0, tzinfo=kst),  # after the business date: RANGE
        datetime(2026, 11, 10, 9, 0, tzinfo=kst),  # more than 7 days early: RANGE
        None,  # REQUIRED
        datetime(2026, 11, 24, 0, 30, tzinfo=kst),  # year 10000 below: TYPE, as its text
        datetime(2026, 11, 24, 0, 30, tzinfo=kst),  # 9999 in UTC, 10000 locally, below
    ]
    n = len(ts)
    micros = pl.Series(ts, dtype=pl.Datetime("us", "UTC")).dt.epoch("us")
    micros[5] = 253_402_300_800_000_000  # 10000-01-01T00:00:00Z
    micros[6] = 253_402_286_400_000_000  # 9999-12-31T20:00Z, in Seoul the year 10000: TYPE
    rows = pl.DataFrame(
        {
            "approval_no": [f"A{i}" for i in range(n)],
            "customer_no": ["C1"] * n,
            "card_no": ["123456******3456"] * n,
            "approved_at": micros.cast(pl.Datetime("us", "UTC")).dt.convert_time_zone("Asia/Seoul"),
            "txn_type": ["PURCHASE"] * (n - 1) + ["CANCEL"],
            "original_approval_no": [None] * n,  # required for the CANCEL: REQUIRED
            "amount": pl.Series([15000, -5, 0, 7, 8, 9, None], dtype=pl.Int32),
            "installment_months": pl.Series([0, 3, 99, 0, 0, 0, 0], dtype=pl.UInt8),
            "merchant_id": ["M1"] * n,
            "channel": ["ONLINE"] * n,
            "is_overseas": [False] * n,
        }
    )
    wb = write(tmp_path, "card/transactions", rows.head(4), rows.tail(n - 4), fmt="parquet")
    part = parse.read_parquet_part(
        "p",
        (wb.folder / part_name(wb)).read_bytes(),
        native={"amount": "int", "approved_at": "timestamp"},
    )
    assert part.frame.schema["amount"] == pl.Int64
    assert part.frame.schema["approved_at"] == pl.Datetime("us", "Asia/Seoul")
    native = validate(wb, "card/transactions")
    monkeypatch.setattr(parse, "_kept_native", lambda _s, _kind: None)
    text = validate(wb, "card/transactions")
    assert_frame_equal(native.loaded, text.loaded)
    assert_frame_equal(native.quarantine, text.quarantine)
    assert {(r, c, why) for r, c, why in issues(native)} >= {
        (2, "amount", "RANGE"),
        (3, "approved_at", "RANGE"),
        (4, "approved_at", "RANGE"),
        (5, "approved_at", "REQUIRED"),
        (6, "approved_at", "TYPE"),
        (7, "approved_at", "TYPE"),
        (7, "amount", "REQUIRED"),
        (7, "original_approval_no", "REQUIRED"),
    }
    assert native.loaded["approval_no"].to_list() == ["A0"]
    shown = native.quarantine.filter(pl.col("row_number") == 3, pl.col("column") == "approved_at")
    assert shown["value"].to_list() == ["2026-11-25T09:00:00+09:00"]
    assert '"approved_at":"2026-11-25T09:00:00+09:00"' in shown["record"][0]


def test_a_parquet_int_column_written_as_floats_loads_its_whole_values(tmp_path: Path) -> None:
    """pandas writes an int column with a null as float64: whole values load as the integers;
    a fraction fails TYPE. A date delivered as a naive timestamp fails TYPE (the contract: native
    timestamps must be timezone-aware); delivered as a date it loads."""
    rows = pl.DataFrame(
        {
            "payment_id": ["P1", "P2", "P3"],
            "policy_no": ["L1"] * 3,
            "customer_no": ["L0001"] * 3,
            "due_on": [date(2026, 11, 24)] * 3,
            "paid_at": ["2026-11-24T09:00:00+09:00", None, "2026-11-24T09:00:00+09:00"],
            "amount": [50000.0, 70000.0, 50000.5],
            "method": ["AUTO_DEBIT"] * 3,
            "result": ["PAID", "FAILED", "PAID"],
        }
    )
    vb = validate(
        write(tmp_path, "life/premium_payments", rows, fmt="parquet"), "life/premium_payments"
    )
    assert issues(vb) == [(3, "amount", "TYPE")]
    assert vb.loaded["amount"].to_list() == [50000, 70000]
    assert vb.loaded["due_on"].to_list() == [date(2026, 11, 24)] * 2
    assert vb.quarantine["value"].to_list() == ["50000.5"]
    naive = rows.head(1).with_columns(pl.col("due_on").cast(pl.Datetime("ns")))
    vb = validate(
        write(tmp_path / "n", "life/premium_payments", naive, fmt="parquet"),
        "life/premium_payments",
    )
    assert issues(vb) == [(1, "due_on", "TYPE")]


def test_parquet_that_cannot_be_read_is_a_decode_error(tmp_path: Path) -> None:
    wb = write(tmp_path, "card/transactions", frame(txs(1)), fmt="parquet")
    replace_part(wb, 0, b"PAR1garbagePAR1")
    err = rejection(wb)
    assert err.reason == "DECODE_ERROR" and ".parquet" in err.detail


@pytest.mark.parametrize(
    ("feed", "row", "absent"),
    [
        ("bank/customers", CUSTOMER, "phone"),
        ("securities/customers", {**CUSTOMER, "risk_grade": "3"}, "risk_grade"),
        ("bank/deposit_accounts", DEPOSIT, "closed_on"),
    ],
)
def test_an_optional_column_may_be_absent(
    tmp_path: Path, feed: str, row: dict[str, Any], absent: str
) -> None:
    wb = write(tmp_path, feed, frame([row]).drop(absent))
    vb = validate(wb, feed)
    assert vb.loaded.height == 1 and vb.bad_rows == 0
    if absent in vb.loaded.columns:
        assert vb.loaded[absent].to_list() == [None]


def test_extra_columns_are_dropped_and_reported(tmp_path: Path) -> None:
    rows = [{**CUSTOMER, "email": "kim@example.com", "memo": "x"}]
    rows.append({**rows[0], "customer_no": "B2", "gender": "F"})  # quarantined row
    wb = write(tmp_path, "bank/customers", rows)
    vb = validate(wb, "bank/customers")
    assert vb.dropped_columns == ("email", "memo")
    assert vb.loaded.schema == pl.Schema(bronze_schema(get_feed("bank", "customers")))
    record = json.loads(vb.quarantine["record"][0])
    assert "email" not in record and "memo" not in record
    assert set(record) == {
        "customer_no",
        "rrn",
        "birth_date",
        "gender",
        "sido_code",
        "joined_on",
        "status",
        "closed_on",
        "marketing_consent",
        "updated_at",
    }
    assert record["rrn"] == "900101-1******"


def test_timestamp_forms(tmp_path: Path) -> None:
    forms = {
        "2026-11-24T13:05:09+09:00": datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC),
        "2026-11-24T13:05:09.123456789+0900": datetime(2026, 11, 24, 4, 5, 9, 123456, tzinfo=UTC),
        "2026-11-24T04:05:09Z": datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC),
        "2026-11-24T01:05:09.5-03:30": datetime(2026, 11, 24, 4, 35, 9, 500000, tzinfo=UTC),
        "2026-11-24T13:05:09": None,  # no offset
        "2026-11-24T13:05:09+24:00": None,
        "2026-11-24T23:59:60+09:00": None,  # leap second
        "2026-11-24T13:05:09.1234567891+09:00": None,  # more than 9 fractional digits
        "2026-11-24t13:05:09+09:00": None,
        # to the minute, as Java's OffsetDateTime.toString() writes a time whose seconds are 0
        "2026-11-24T13:05+09:00": datetime(2026, 11, 24, 4, 5, tzinfo=UTC),
        "2026-11-24T04:05Z": datetime(2026, 11, 24, 4, 5, tzinfo=UTC),
        "2026-11-24T13:05+09": datetime(2026, 11, 24, 4, 5, tzinfo=UTC),
        "2026-11-24T13:05": None,  # no offset
        "2026-11-24 13:05+09:00": None,  # a space is RFC 3339, not ISO 8601 (test_row_check)
        "2026-11-24T13+09:00": None,
        "2026-11-24T13:5+09:00": None,
        "2026-11-24T13:05.5+09:00": None,  # a fraction needs seconds
        "2026-02-29T13:05:09+09:00": None,
        "0001-01-01T00:30:00+01:00": None,  # year 0 in UTC
        "9999-12-31T23:59:59-09:00": None,  # year 10000 in UTC
        "0001-01-01T00:30:00-01:00": datetime(1, 1, 1, 1, 30, tzinfo=UTC),
    }
    rows = [{**MERCHANT, "merchant_id": f"M{i}", "updated_at": ts} for i, ts in enumerate(forms)]
    vb = validate(write(tmp_path, "card/merchants", rows), "card/merchants")
    good = [i + 1 for i, v in enumerate(forms.values()) if v is not None]
    assert vb.loaded["_row_number"].to_list() == good
    assert vb.loaded["updated_at"].to_list() == [v for v in forms.values() if v is not None]
    assert issues(vb) == [
        (i + 1, "updated_at", "TYPE") for i, v in enumerate(forms.values()) if v is None
    ]
    details = dict(zip(vb.quarantine["row_number"], vb.quarantine["detail"], strict=True))
    for no_offset in ("2026-11-24T13:05:09", "2026-11-24T13:05"):
        assert "no UTC offset" in details[list(forms).index(no_offset) + 1]


def test_duplicated_keys_ignores_keys_with_a_null_part() -> None:
    from dam_pipelines.lib.validate import duplicated_keys

    df = pl.DataFrame({"a": ["1", "1", "1", "1", "2", "2"], "b": ["x", "x", None, None, "y", "z"]})
    assert duplicated_keys(df, ["a", "b"]).to_list() == [True, True, False, False, False, False]
    assert duplicated_keys(df, ["a"]).to_list() == [True] * 4 + [True, True]
    assert duplicated_keys(df.clear(), ["a"]).to_list() == []
