from __future__ import annotations

import copy
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dam_pipelines.lib.manifest import BatchRejected, Manifest, ManifestFile, read_manifest
from dam_pipelines.lib.registry import get_feed

SHA = "ab" * 32
GOOD: dict[str, Any] = {
    "contract_version": 1,
    "affiliate": "card",
    "feed": "transactions",
    "business_date": "2026-11-24",
    "revision": 2,
    "format": "csv",
    "encoding": "utf-8",
    "files": [{"name": "part-00001.csv", "rows": 12, "sha256": SHA.upper()}],
    "control_total": {"column": "amount", "sum": 987654321},
    "created_at": "2026-11-25T01:10:00+09:00",
}


def _write(folder: Path, doc: Any) -> bytes:
    folder.mkdir(parents=True, exist_ok=True)
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode("utf-8")
    (folder / "_manifest.json").write_bytes(data)
    return data


def _read(folder: Path, date: str = "2026-11-24") -> Manifest:
    return read_manifest(folder, "card", "transactions", date)


def test_a_valid_manifest_is_read_in_full(tmp_path: Path) -> None:
    data = _write(tmp_path, GOOD)
    m = _read(tmp_path)
    assert (m.contract_version, m.affiliate, m.feed, m.business_date, m.revision) == (
        1,
        "card",
        "transactions",
        "2026-11-24",
        2,
    )
    assert (m.format, m.encoding) == ("csv", "utf-8")
    assert m.files == (ManifestFile("part-00001.csv", 12, SHA),)  # sha256 normalized to lower
    assert m.control_total == ("amount", 987654321)
    assert m.created_at.utcoffset() == timedelta(hours=9)
    assert m.sha256 == hashlib.sha256(data).hexdigest()
    assert m.batch_id == "card/transactions/2026-11-24/r2"
    assert m.rows == 12


def test_control_total_is_optional_and_parquet_has_no_encoding(tmp_path: Path) -> None:
    doc = {**GOOD, "format": "parquet", "encoding": None}
    doc.pop("control_total")
    _write(tmp_path, doc)
    m = _read(tmp_path)
    assert m.control_total is None and m.format == "parquet" and m.encoding is None


def test_a_missing_manifest_is_not_ready_rather_than_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _read(tmp_path)


def _set(path: str, value: Any) -> dict[str, Any]:
    """GOOD with one (dotted) field replaced, or deleted when value is ...; files.0.x allowed."""
    doc = copy.deepcopy(GOOD)
    target: Any = doc
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target[k]
    last = keys[-1]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return doc


INVALID = {
    "missing affiliate": _set("affiliate", ...),
    "missing encoding": _set("encoding", ...),
    "missing created_at": _set("created_at", ...),
    "missing files": _set("files", ...),
    "contract_version 2": _set("contract_version", 2),
    "contract_version string": _set("contract_version", "1"),
    "contract_version true": _set("contract_version", True),
    "affiliate mismatch": _set("affiliate", "bank"),
    "feed mismatch": _set("feed", "merchants"),
    "business_date mismatch": _set("business_date", "2026-11-23"),
    "revision 0": _set("revision", 0),
    "revision bool": _set("revision", True),
    "revision float": _set("revision", 1.0),
    "revision string": _set("revision", "1"),
    "format json": _set("format", "json"),
    "format upper": _set("format", "CSV"),
    "encoding UTF-8": _set("encoding", "UTF-8"),
    "encoding euc-kr": _set("encoding", "euc-kr"),
    "encoding null for csv": _set("encoding", None),
    "files empty": _set("files", []),
    "files not a list": _set("files", {"name": "x"}),
    "file entry not an object": _set("files", ["part-00001.csv"]),
    "file name with slash": _set("files.0.name", "sub/part.csv"),
    "file name with backslash": _set("files.0.name", "sub\\part.csv"),
    "file name dotdot": _set("files.0.name", ".."),
    "file name dot": _set("files.0.name", "."),
    "file name empty": _set("files.0.name", ""),
    "file name the manifest": _set("files.0.name", "_manifest.json"),
    "duplicate file": _set("files", [GOOD["files"][0], GOOD["files"][0]]),
    "rows negative": _set("files.0.rows", -1),
    "rows bool": _set("files.0.rows", False),
    "rows string": _set("files.0.rows", "12"),
    "rows missing": _set("files.0.rows", ...),
    "sha256 short": _set("files.0.sha256", "abc"),
    "sha256 not hex": _set("files.0.sha256", "zz" * 32),
    "created_at naive": _set("created_at", "2026-11-25T01:10:00"),
    "created_at date only": _set("created_at", "2026-11-25"),
    "created_at garbage": _set("created_at", "yesterday"),
    "created_at number": _set("created_at", 1764000000),
    "control_total unknown column": _set("control_total.column", "fee"),
    "control_total non-numeric column": _set("control_total.column", "merchant_id"),
    "control_total sum string": _set("control_total.sum", "5"),
    "control_total sum float": _set("control_total.sum", 5.5),
    "control_total not an object": _set("control_total", 5),
    "not an object": [GOOD],
}


@pytest.mark.parametrize("doc", list(INVALID.values()), ids=list(INVALID))
def test_an_invalid_manifest_is_rejected(tmp_path: Path, doc: Any) -> None:
    _write(tmp_path, doc)
    with pytest.raises(BatchRejected) as err:
        _read(tmp_path)
    assert err.value.reason == "MANIFEST_INVALID"
    assert err.value.detail.startswith("_manifest.json: ")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"contract_version": 1,',  # truncated
        b"",
        b"\xff\xfe{}",
        json.dumps(GOOD).replace('"revision": 2', '"revision": NaN').encode(),
        json.dumps(GOOD).replace('"revision": 2', '"revision": 2, "revision": 3').encode(),
    ],
    ids=["truncated", "empty", "not utf-8", "NaN", "duplicate key"],
)
def test_unparseable_json_is_manifest_invalid(tmp_path: Path, raw: bytes) -> None:
    _write(tmp_path, raw)
    with pytest.raises(BatchRejected) as err:
        _read(tmp_path)
    assert err.value.reason == "MANIFEST_INVALID"


def test_a_business_date_that_is_not_a_real_date_is_invalid(tmp_path: Path) -> None:
    _write(tmp_path, {**GOOD, "business_date": "2026-02-30"})
    with pytest.raises(BatchRejected) as err:
        _read(tmp_path, "2026-02-30")
    assert err.value.reason == "MANIFEST_INVALID"


def test_control_total_column_is_checked_against_the_given_feed(tmp_path: Path) -> None:
    _write(tmp_path, {**GOOD, "control_total": {"column": "amount", "sum": 1}})
    assert _read(tmp_path).control_total == ("amount", 1)
    other = get_feed("card", "merchants")  # has no amount column
    with pytest.raises(BatchRejected) as err:
        read_manifest(tmp_path, "card", "transactions", "2026-11-24", feed_def=other)
    assert err.value.reason == "MANIFEST_INVALID" and "amount" in err.value.detail


def test_batch_rejected_carries_reason_detail_and_pickles() -> None:
    import pickle

    err = BatchRejected("FILE_MISSING", "part-1.csv: not there", rows_read=None)
    again = pickle.loads(pickle.dumps(err))
    assert (again.reason, again.detail, again.rows_read) == (
        "FILE_MISSING",
        "part-1.csv: not there",
        None,
    )
    assert str(err) == "FILE_MISSING: part-1.csv: not there"
