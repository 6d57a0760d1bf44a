"""The synthetic producer: deterministic, contract-conformant, and every planted fault is real.

A small independent reference checker (``_check_batch``) re-reads each batch the way the
contract describes (§1-§4) so that these tests prove the generator right without relying on
the dam's own validation code.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dam_pipelines.lib.generate import DELIVERY, FAULTS_FILE, generate_landing
from dam_pipelines.lib.generate.reference import CP949_ONLY_SYLLABLES
from dam_pipelines.lib.registry import AFFILIATES, SIDO_CODES, DType, Feed, Kind, get_feed

START = date(2026, 1, 1)
KST = timezone(timedelta(hours=9))
MANIFEST_FIELDS = (
    "contract_version",
    "affiliate",
    "feed",
    "business_date",
    "revision",
    "format",
    "encoding",
    "files",
    "created_at",
)
BATCH_REASONS = (
    "MANIFEST_INVALID",
    "FILE_MISSING",
    "CHECKSUM_MISMATCH",
    "DECODE_ERROR",
    "MISSING_COLUMN",
    "ROW_COUNT_MISMATCH",
    "CONTROL_TOTAL_MISMATCH",
    "TOO_MANY_BAD_ROWS",
)
ROW_REASONS = (
    "TYPE",
    "REQUIRED",
    "ENUM",
    "RANGE",
    "INVALID_RRN",
    "RRN_MISMATCH",
    "DUPLICATE_KEY",
    "UNMASKED_PAN",
)
SCENARIOS = (
    "SCHEMA_DRIFT",
    "LATE_EVENT",
    "OUT_OF_ORDER",
    "REDELIVERED",
    "CORRECTION",
    "ORPHAN",
    "LEGACY_SIDO",
    "EMPTY_BATCH",
    "NOT_READY",
)


# ---- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("clean")
    generate_landing(landing, customers=400, days=4, start=START, seed=3)
    return landing


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("faulty")
    generate_landing(landing, customers=300, days=10, start=START, seed=5, faults=True)
    return landing


def _faults(landing: Path) -> list[dict[str, Any]]:
    return json.loads((landing / FAULTS_FILE).read_text(encoding="utf-8"))


def _batches(landing: Path) -> list[Path]:
    return sorted(p for p in landing.glob("*/*/*") if (p / "_manifest.json").exists())


def _tree(landing: Path) -> dict[str, str]:
    return {
        str(p.relative_to(landing)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(landing.rglob("*"))
        if p.is_file()
    }


# ---- a reference reader/checker, straight from the contract ------------------------------
class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        m = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
    except ValueError:
        raise Rejected("MANIFEST_INVALID") from None
    a, f, d = folder.parts[-3:]
    names = [x.get("name") for x in m.get("files") or [] if isinstance(x, dict)]
    ok = (
        all(k in m for k in MANIFEST_FIELDS)
        and m["contract_version"] == 1
        and (m["affiliate"], m["feed"], m["business_date"]) == (a, f, d)
        and isinstance(m["revision"], int)
        and m["revision"] >= 1
        and m["format"] in ("csv", "parquet")
        and (m["format"] == "parquet" or m["encoding"] in ("utf-8", "cp949"))
        and names
        and len(set(names)) == len(names)
        and all(isinstance(n, str) and "/" not in n for n in names)
    )
    try:
        ok = ok and datetime.fromisoformat(m["created_at"]).tzinfo is not None
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise Rejected("MANIFEST_INVALID")
    return m


def _parquet_rows(path: Path) -> tuple[list[str], list[list[str | None]]]:
    table = pq.read_table(path)
    cols = []
    for name in table.column_names:
        out = []
        for v in table.column(name).to_pylist():
            if v is None or v == "":
                out.append(None)
            elif isinstance(v, bool):
                out.append("Y" if v else "N")
            elif isinstance(v, datetime):
                out.append(v.isoformat())
            else:
                out.append(str(v))
        cols.append(out)
    return table.column_names, [list(r) for r in zip(*cols, strict=True)]


def _csv_rows(data: bytes, encoding: str) -> tuple[list[str], list[list[str | None]]]:
    if encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("cp949" if encoding == "cp949" else "utf-8", errors="strict")
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error):
        raise Rejected("DECODE_ERROR") from None
    header, body = rows[0], rows[1:]
    if any(len(r) != len(header) for r in body):
        raise Rejected("DECODE_ERROR")
    return header, [[v if v != "" else None for v in r] for r in body]


def _read(folder: Path) -> tuple[dict[str, Any], list[str], list[list[str | None]]]:
    """Manifest, header and all data rows (file order across parts), or Rejected."""
    m = _manifest(folder)
    datas = []
    for f in m["files"]:
        p = folder / f["name"]
        if not p.exists():
            raise Rejected("FILE_MISSING")
        datas.append(p.read_bytes())
    if any(
        hashlib.sha256(d).hexdigest() != f["sha256"] for d, f in zip(datas, m["files"], strict=True)
    ):
        raise Rejected("CHECKSUM_MISMATCH")
    parts = [
        _csv_rows(d, m["encoding"]) if m["format"] == "csv" else _parquet_rows(folder / f["name"])
        for d, f in zip(datas, m["files"], strict=True)
    ]
    feed = get_feed(m["affiliate"], m["feed"])
    header = parts[0][0]
    if any(p[0] != header for p in parts) or set(feed.header_required) - set(header):
        raise Rejected("MISSING_COLUMN")
    if any(len(p[1]) != f["rows"] for p, f in zip(parts, m["files"], strict=True)):
        raise Rejected("ROW_COUNT_MISMATCH")
    rows = [r for p in parts for r in p[1]]
    if "control_total" in m:
        i = header.index(m["control_total"]["column"])
        total = sum(int(r[i]) for r in rows if r[i] is not None and re.fullmatch(r"-?\d+", r[i]))
        if total != m["control_total"]["sum"]:
            raise Rejected("CONTROL_TOTAL_MISMATCH")
    return m, header, rows


_RRN = re.compile(r"(\d{2})(\d{2})(\d{2})-([1-8])\d{6}")


def _rrn_birth(rrn: str) -> tuple[date, str] | None:
    m = _RRN.fullmatch(rrn)
    if not m:
        return None
    yy, mm, dd, g = (int(x) for x in m.groups())
    century = 1900 if g in (1, 2, 5, 6) else 2000
    try:
        return date(century + yy, mm, dd), "M" if g % 2 else "F"
    except ValueError:
        return None


def _row_failures(feed: Feed, business_date: date, header: list[str], rows: list[list[str | None]]):
    """(row_number, column, reason) of every failed row check."""
    out: set[tuple[int, str, str]] = set()
    idx = {c: header.index(c) for c in feed.column_names if c in header}
    for n, r in enumerate(rows, start=1):
        rec = {c: r[i] for c, i in idx.items()}
        for col in feed.columns:
            v = rec.get(col.name)
            need = col.required
            if col.required_when:
                other, value = col.required_when
                need = rec.get(other) == value
                if not need and v is not None:
                    out.add((n, col.name, "RANGE"))
            if v is None:
                if need:
                    out.add((n, col.name, "REQUIRED"))
                continue
            try:
                if col.dtype is DType.INT:
                    if not re.fullmatch(r"-?\d+", v):
                        raise ValueError
                    x: float = int(v)
                elif col.dtype is DType.DECIMAL:
                    x = float(v)
                elif col.dtype is DType.DATE:
                    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                        raise ValueError
                    date.fromisoformat(v)
                elif col.dtype is DType.TIMESTAMP:
                    if datetime.fromisoformat(v).tzinfo is None:
                        raise ValueError
                elif col.dtype is DType.BOOL and v not in ("Y", "N"):
                    raise ValueError
            except ValueError:
                out.add((n, col.name, "TYPE"))
                continue
            if col.dtype is DType.ENUM and v not in col.values:
                out.add((n, col.name, "ENUM"))
            if col.dtype in (DType.INT, DType.DECIMAL):
                if col.min is not None and (x < col.min or (col.exclusive_min and x == col.min)):
                    out.add((n, col.name, "RANGE"))
                if col.max is not None and x > col.max:
                    out.add((n, col.name, "RANGE"))
                if col.allowed_ints and x not in col.allowed_ints:
                    out.add((n, col.name, "RANGE"))
        if "rrn" in rec and rec["rrn"] is not None:
            born = _rrn_birth(rec["rrn"])
            if born is None:
                out.add((n, "rrn", "INVALID_RRN"))
            else:
                if rec.get("birth_date") and rec["birth_date"] != str(born[0]):
                    out.add((n, "birth_date", "RRN_MISMATCH"))
                if rec.get("gender") and rec["gender"] != born[1]:
                    out.add((n, "gender", "RRN_MISMATCH"))
        if rec.get("card_no") is not None:
            if re.fullmatch(r"\d{16}", rec["card_no"]):
                out.add((n, "card_no", "UNMASKED_PAN"))
            elif not re.fullmatch(r"\d{6}\*{6}\d{4}", rec["card_no"]):
                out.add((n, "card_no", "TYPE"))
        if feed.kind is Kind.EVENT and rec.get(feed.event_time):
            try:
                v = rec[feed.event_time]
                ev = (
                    date.fromisoformat(v)
                    if len(v) == 10
                    else datetime.fromisoformat(v).astimezone(KST).date()
                )
                if not business_date - timedelta(days=7) <= ev <= business_date:
                    out.add((n, feed.event_time, "RANGE"))
            except (ValueError, TypeError):
                pass
    keys = defaultdict(list)
    for n, r in enumerate(rows, start=1):
        keys[tuple(r[idx[k]] for k in feed.key)].append(n)
    for ns in keys.values():
        if len(ns) > 1:
            out.update((n, feed.key[0], "DUPLICATE_KEY") for n in ns)
    return out


def _check_batch(folder: Path):
    """(manifest, header, rows, row failures); raises Rejected with the first §4 reason."""
    m, header, rows = _read(folder)
    feed = get_feed(m["affiliate"], m["feed"])
    fails = _row_failures(feed, date.fromisoformat(m["business_date"]), header, rows)
    if len({n for n, _, _ in fails}) > 0.10 * len(rows):
        raise Rejected("TOO_MANY_BAD_ROWS")
    return m, header, rows, fails


# ---- determinism -------------------------------------------------------------------------
def test_same_arguments_give_byte_identical_landing(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    s1 = generate_landing(a, customers=200, days=3, start=START, seed=42)
    generate_landing(b, customers=200, days=3, start=START, seed=42)
    generate_landing(c, customers=200, days=3, start=START, seed=43)
    assert _tree(a) == _tree(b)
    assert _tree(a) != _tree(c)
    assert s1.batches == 3 * 16 and s1.rows == sum(s1.rows_per_feed.values()) > 0


def test_without_erasure_requests_only_those_batches_change(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    generate_landing(a, customers=300, days=4, start=START, seed=42)
    s = generate_landing(b, customers=300, days=4, start=START, seed=42, erasure_requests=False)
    assert s.rows_per_feed.get("card/erasure_requests", 0) == 0
    with_req, without = _tree(a), _tree(b)
    assert with_req.keys() == without.keys()
    changed = {k.split("/")[1] for k in with_req if with_req[k] != without[k]}
    assert changed == {"erasure_requests"}  # every other feed byte for byte the same
    with pytest.raises(ValueError, match="erasure requests"):
        generate_landing(
            tmp_path / "c",
            customers=300,
            days=10,
            start=START,
            seed=1,
            faults=True,
            erasure_requests=False,
        )


def test_faulty_landing_is_deterministic_too(tmp_path: Path, faulty: Path) -> None:
    again = tmp_path / "again"
    generate_landing(again, customers=300, days=10, start=START, seed=5, faults=True)
    assert _tree(again) == _tree(faulty)


def test_faults_need_enough_days_and_customers(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_landing(tmp_path, customers=300, days=5, start=START, seed=1, faults=True)


# ---- layout, manifests, encodings --------------------------------------------------------
def test_every_feed_every_day_with_a_valid_manifest(clean: Path) -> None:
    folders = _batches(clean)
    days = {str(START + timedelta(days=i)) for i in range(4)}
    expected = {
        (a, f.name, d)
        for a in AFFILIATES
        for f in (get_feed(a, x.split("/")[1]) for x in DELIVERY if x.startswith(a + "/"))
        for d in days
    }
    assert {p.parts[-3:] for p in folders} == expected
    for folder in folders:
        m, header, rows = _read(folder)  # raises on any batch-level defect
        spec = DELIVERY[f"{m['affiliate']}/{m['feed']}"]
        assert (m["format"], m["revision"]) == (spec.fmt, 1)
        assert ("control_total" in m) == (spec.control_total is not None)
        feed = get_feed(m["affiliate"], m["feed"])
        assert sorted(header) == sorted(c for c in feed.column_names if c not in spec.omit)
        assert sum(f["rows"] for f in m["files"]) == len(rows)
        # the manifest is the newest file of the batch
        mtimes = [(folder / f["name"]).stat().st_mtime_ns for f in m["files"]]
        assert max(mtimes) <= (folder / "_manifest.json").stat().st_mtime_ns
        assert datetime.fromisoformat(m["created_at"]) > datetime.fromisoformat(
            m["business_date"] + "T23:59:59+09:00"
        )


def test_big_feeds_come_in_several_parts(clean: Path) -> None:
    m = json.loads((clean / "card/transactions/2026-01-02/_manifest.json").read_text())
    assert len(m["files"]) == 2 and all(f["rows"] > 0 for f in m["files"])


def test_csv_encodings_decode_strictly_as_declared(clean: Path) -> None:
    cp949_only = False
    for folder in _batches(clean):
        m = json.loads((folder / "_manifest.json").read_text())
        spec = DELIVERY[f"{m['affiliate']}/{m['feed']}"]
        for f in m["files"]:
            data = (folder / f["name"]).read_bytes()
            if m["format"] == "parquet":
                assert data[:4] == b"PAR1"
                continue
            assert m["encoding"] == spec.encoding
            assert data.startswith(b"\xef\xbb\xbf") == spec.bom
            assert (b"\r\n" in data) == spec.crlf and (spec.crlf or b"\r" not in data)
            text = data.decode("cp949" if spec.encoding == "cp949" else "utf-8", errors="strict")
            if spec.encoding == "cp949":
                cp949_only |= any(s in text for s in CP949_ONLY_SYLLABLES)
                if re.search("[가-힣]", text):
                    with pytest.raises(UnicodeDecodeError):
                        data.decode("utf-8")
                # a syllable outside EUC-KR (KS X 1001) is a byte pair below 0xA1
                cp949_only |= any(
                    ch.encode("cp949")[1] < 0xA1 or ch.encode("cp949")[0] < 0xA1
                    for ch in set(re.findall("[가-힣]", text))
                )
    assert cp949_only


def test_parquet_timestamps_are_timezone_aware(clean: Path) -> None:
    schema = pq.read_schema(next((clean / "card/transactions/2026-01-01").glob("*.parquet")))
    assert str(schema.field("approved_at").type) == "timestamp[us, tz=Asia/Seoul]"
    assert str(schema.field("is_overseas").type) == "bool"


# ---- content -----------------------------------------------------------------------------
def test_every_row_of_a_clean_landing_passes_the_contract_checks(clean: Path) -> None:
    for folder in _batches(clean):
        _, header, rows, fails = _check_batch(folder)
        assert not fails, f"{folder}: {sorted(fails)[:5]}"
        if "sido_code" in header:  # no legacy codes without faults
            assert {r[header.index("sido_code")] for r in rows} <= set(SIDO_CODES)


def _all_rows(landing: Path, feed_id: str) -> list[dict[str, Any]]:
    """Rows of every readable batch of a feed (rejected ones skipped)."""
    out = []
    for folder in sorted(
        p for p in (landing / feed_id).iterdir() if (p / "_manifest.json").exists()
    ):
        try:
            _, header, rows = _read(folder)
        except Rejected:
            continue
        out += [dict(zip(header, r, strict=True)) | {"_date": folder.name} for r in rows]
    return out


def test_people_have_one_number_per_affiliate_and_different_numbers_across(clean: Path) -> None:
    numbers: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    owner: dict[str, set[str]] = defaultdict(set)
    for a in AFFILIATES:
        for r in _all_rows(clean, f"{a}/customers"):
            numbers[r["rrn"]][a].add(r["customer_no"])
            owner[r["customer_no"]].add(r["rrn"])
    assert all(len(rrns) == 1 for rrns in owner.values())
    assert all(len(nos) == 1 for per in numbers.values() for nos in per.values())
    multi = [per for per in numbers.values() if len(per) > 1]
    assert len(multi) > 50
    for per in multi:
        flat = [n for nos in per.values() for n in nos]
        assert len(set(flat)) == len(flat)
    prefixes = {a: {n[0] for per in numbers.values() for n in per.get(a, ())} for a in AFFILIATES}
    assert prefixes == {"bank": {"B"}, "card": {"C"}, "securities": {"S"}, "life": {"L"}}
    births = {_rrn_birth(rrn)[0].year for rrn in numbers}
    assert min(births) < 1960 and max(births) >= 2000
    assert any(rrn[7] in "5678" for rrn in numbers)  # registered foreigners


def test_card_cancels_reference_earlier_purchases_within_their_amount(clean: Path) -> None:
    rows = _all_rows(clean, "card/transactions")
    by_no = {r["approval_no"]: r for r in rows}
    cancels = [r for r in rows if r["txn_type"] == "CANCEL"]
    assert cancels and any(r["txn_type"] == "CASH_ADVANCE" for r in rows)
    partial = 0
    for c in cancels:
        o = by_no[c["original_approval_no"]]
        assert o["txn_type"] == "PURCHASE" and o["customer_no"] == c["customer_no"]
        assert datetime.fromisoformat(o["approved_at"]) < datetime.fromisoformat(c["approved_at"])
        assert int(c["amount"]) <= int(o["amount"])
        partial += int(c["amount"]) < int(o["amount"])
    assert partial > 0
    overseas = sum(r["is_overseas"] == "Y" for r in rows) / len(rows)
    assert 0.01 < overseas < 0.06
    late = [
        r
        for r in rows
        if datetime.fromisoformat(r["approved_at"]).astimezone(KST).date()
        < date.fromisoformat(r["_date"])
    ]
    assert 0 < len(late) < 0.02 * len(rows)


def test_snapshots_are_consistent(clean: Path) -> None:
    for r in _all_rows(clean, "securities/holdings"):
        assert int(r["quantity"]) > 0 and int(r["market_value"]) >= 0
    policies = _all_rows(clean, "life/policies")
    assert {r["status"] for r in policies} >= {"ACTIVE", "LAPSED"}
    payments = _all_rows(clean, "life/premium_payments")
    assert all((r["paid_at"] is None) == (r["result"] == "FAILED") for r in payments)
    loans = _all_rows(clean, "bank/loans")
    assert {r["status"] for r in loans} >= {"NORMAL", "DELINQUENT", "REPAID"}
    days = sorted({r["_date"] for r in _all_rows(clean, "bank/deposit_accounts")})
    first = {
        r["account_no"]: int(r["balance"])
        for r in _all_rows(clean, "bank/deposit_accounts")
        if r["_date"] == days[0]
    }
    last = {
        r["account_no"]: int(r["balance"])
        for r in _all_rows(clean, "bank/deposit_accounts")
        if r["_date"] == days[-1]
    }
    assert sum(first[k] != last[k] for k in first.keys() & last.keys()) > 0  # balances move


# ---- faults ------------------------------------------------------------------------------
def test_fault_catalogue_covers_every_kind(faulty: Path) -> None:
    kinds = {f["kind"] for f in _faults(faulty)}
    assert set(BATCH_REASONS) | set(ROW_REASONS) | set(SCENARIOS) <= kinds
    decode = [f for f in _faults(faulty) if f["kind"] == "DECODE_ERROR"]
    assert {(f["affiliate"], f["feed"]) for f in decode} == {
        ("life", "policies"),
        ("card", "merchants"),
    }
    notes = " ".join(f["note"] for f in _faults(faulty))
    assert "without offset" in notes and "after its batch" in notes and "8 days before" in notes
    for f in _faults(faulty):
        assert set(f) >= {
            "affiliate",
            "feed",
            "business_date",
            "revision",
            "kind",
            "expected_reason",
            "row_number",
            "column",
            "note",
        }


def test_each_batch_fault_is_rejected_for_its_reason(faulty: Path) -> None:
    for f in _faults(faulty):
        if f["level"] != "batch":
            continue
        folder = faulty / f["affiliate"] / f["feed"] / f["business_date"]
        with pytest.raises(Rejected) as caught:
            _check_batch(folder)
        assert caught.value.reason == f["expected_reason"], f


def test_row_faults_are_exactly_the_failing_rows(faulty: Path) -> None:
    faults = _faults(faulty)
    rejected = {
        (f["affiliate"], f["feed"], f["business_date"]) for f in faults if f["level"] == "batch"
    }
    expected = defaultdict(set)
    for f in faults:
        if f["expected_reason"] in ROW_REASONS:
            expected[(f["affiliate"], f["feed"], f["business_date"])].add(
                (f["row_number"], f["column"], f["expected_reason"])
            )
    for folder in _batches(faulty):
        key = folder.parts[-3:]
        if key in rejected:
            continue
        _, _, _, fails = _check_batch(folder)
        assert fails == expected.get(key, set()), key


def test_scenario_faults_are_on_disk(faulty: Path) -> None:
    by_kind = defaultdict(list)
    for f in _faults(faulty):
        by_kind[f["kind"]].append(f)
    nr = by_kind["NOT_READY"][0]
    folder = faulty / nr["affiliate"] / nr["feed"] / nr["business_date"]
    assert list(folder.glob("part-*")) and not (folder / "_manifest.json").exists()
    cor = by_kind["CORRECTION"][0]
    folder = faulty / cor["affiliate"] / cor["feed"] / cor["business_date"]
    m, header, rows = _read(folder)
    assert m["revision"] == 2 and {p.name[:8] for p in folder.glob("part-*")} == {
        "part-010",
        "part-020",
    }
    nos = {r[header.index("approval_no")]: r for r in rows}
    d = cor["details"]
    assert d["dropped_approval_no"] not in nos
    assert int(nos[d["changed_approval_no"]][header.index("amount")]) == d["new_amount"]
    empty = by_kind["EMPTY_BATCH"][0]
    assert _read(faulty / empty["affiliate"] / empty["feed"] / empty["business_date"])[2] == []
    drift = {f["column"] for f in by_kind["SCHEMA_DRIFT"]}
    assert drift == {"branch_code", "order_channel"}
    for f in by_kind["SCHEMA_DRIFT"]:
        assert f["column"] in _read(faulty / f["affiliate"] / f["feed"] / f["business_date"])[1]
    for f in by_kind["LEGACY_SIDO"]:
        _, header, rows = _read(faulty / f["affiliate"] / f["feed"] / f["business_date"])
        assert rows[f["row_number"] - 1][header.index("sido_code")] in ("42", "45")
    for f in by_kind["ORPHAN"]:
        no = f["details"]["customer_no"]
        arrives = f["details"]["customers_business_date"]
        firsts = [
            r["_date"]
            for r in _all_rows(faulty, f"{f['affiliate']}/customers")
            if r["customer_no"] == no
        ]
        assert firsts and min(firsts) == arrives > f["business_date"]
        assert any(
            r["customer_no"] == no
            for r in _all_rows(faulty, f"{f['affiliate']}/{f['feed']}")
            if r["_date"] == f["business_date"]
        )
    late = by_kind["OUT_OF_ORDER"][0]
    folder = faulty / late["affiliate"] / late["feed"]
    older = json.loads((folder / late["business_date"] / "_manifest.json").read_text())[
        "created_at"
    ]
    newer = json.loads((folder / late["details"]["delivered_with"] / "_manifest.json").read_text())[
        "created_at"
    ]
    assert older > newer


def test_customer_numbering_is_one_to_one_for_every_affiliate():
    """Affine numbering must be a bijection mod 10**9 (a multiplier sharing a factor with
    10 once produced hundreds of duplicate customer numbers at 3,000 customers)."""
    import math

    import numpy as np

    from dam_pipelines.lib.generate.common import affine_ids
    from dam_pipelines.lib.generate.customers import _ID_MULT, ID_MODULUS

    seqs = np.arange(200_000, dtype=np.int64)
    for affiliate, mult in _ID_MULT.items():
        assert math.gcd(mult, ID_MODULUS) == 1, affiliate
        nums = affine_ids(seqs, ID_MODULUS, mult, 12345)
        assert len(np.unique(nums)) == len(seqs), affiliate
