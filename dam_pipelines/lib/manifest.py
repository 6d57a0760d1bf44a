"""The batch manifest (contract §1, ``_manifest.json``): parsing and validation.

Anything that does not make a valid manifest raises ``BatchRejected("MANIFEST_INVALID", ...)``
with a detail naming the field and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dam_pipelines.lib.registry import DType, Feed, get_feed

MANIFEST_NAME = "_manifest.json"
CONTRACT_VERSION = 1
FORMATS = ("csv", "parquet")
ENCODINGS = ("utf-8", "cp949")
REQUIRED_FIELDS = (
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
#: Batch-level rejection reasons, in the order the contract checks them (§4).
REJECTION_REASONS = (
    "MANIFEST_INVALID",
    "FILE_MISSING",
    "CHECKSUM_MISMATCH",
    "DECODE_ERROR",
    "MISSING_COLUMN",
    "ROW_COUNT_MISMATCH",
    "CONTROL_TOTAL_MISMATCH",
    "TOO_MANY_BAD_ROWS",
)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_SHA256 = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)


class BatchRejected(Exception):
    """A whole batch is rejected: ``reason`` is one of :data:`REJECTION_REASONS`.

    ``detail`` says in plain words which file (and row, where relevant) and why. It never
    contains a data value that could identify a person. ``rows_read`` is known once the parts
    have been decoded, else None.
    """

    def __init__(self, reason: str, detail: str, rows_read: int | None = None) -> None:
        super().__init__(reason, detail, rows_read)
        self.reason = reason
        self.detail = detail
        self.rows_read = rows_read

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass(frozen=True)
class ManifestFile:
    name: str
    rows: int
    sha256: str  # lowercase hex


@dataclass(frozen=True)
class Manifest:
    contract_version: int
    affiliate: str
    feed: str
    business_date: str
    revision: int
    format: str  # 'csv' | 'parquet'
    encoding: str | None  # 'utf-8' | 'cp949' for csv; None for parquet
    files: tuple[ManifestFile, ...]
    control_total: tuple[str, int] | None  # (column, sum)
    created_at: datetime  # timezone-aware
    sha256: str  # of the manifest bytes

    @property
    def batch_id(self) -> str:
        return f"{self.affiliate}/{self.feed}/{self.business_date}/r{self.revision}"

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def _invalid(detail: str) -> BatchRejected:
    return BatchRejected("MANIFEST_INVALID", f"{MANIFEST_NAME}: {detail}")


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    # JSON true/false arrive as bool, a subclass of int: they are not integers here.
    return isinstance(value, int) and not isinstance(value, bool)


def is_business_date(value: str) -> bool:
    """``YYYY-MM-DD`` and a real calendar date."""
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _invalid(f"field {k!r} appears twice")
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise _invalid(f"{name} is not valid JSON")


def _is_plain_name(name: str) -> bool:
    return (
        name not in ("", ".", "..", MANIFEST_NAME)
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


def _files(value: Any) -> tuple[ManifestFile, ...]:
    if not isinstance(value, list) or not value:
        raise _invalid("files must be a non-empty list")
    out: list[ManifestFile] = []
    seen: set[str] = set()
    for i, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            raise _invalid(f"files[{i}] must be an object with name, rows and sha256")
        name, rows, sha = entry.get("name"), entry.get("rows"), entry.get("sha256")
        if not isinstance(name, str) or not _is_plain_name(name):
            raise _invalid(f"files[{i}].name must be a plain file name, got {_show(name)}")
        if name in seen:
            raise _invalid(f"file {name} is listed twice")
        seen.add(name)
        if not _is_int(rows) or rows < 0:
            raise _invalid(
                f"files[{i}] ({name}): rows must be a non-negative integer, got {_show(rows)}"
            )
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise _invalid(f"files[{i}] ({name}): sha256 must be 64 hex digits, got {_show(sha)}")
        out.append(ManifestFile(name, rows, sha.lower()))
    return tuple(out)


def _control_total(value: Any, feed_def: Feed | None) -> tuple[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid("control_total must be an object with column and sum")
    column, total = value.get("column"), value.get("sum")
    if not isinstance(column, str) or not column:
        raise _invalid(f"control_total.column must be a column name, got {_show(column)}")
    if not _is_int(total):
        raise _invalid(f"control_total.sum must be an integer, got {_show(total)}")
    if feed_def is not None:
        if column not in feed_def.column_names:
            raise _invalid(f"control_total.column {column!r} is not a column of {feed_def.id}")
        if feed_def.column(column).dtype not in (DType.INT, DType.DECIMAL):
            raise _invalid(f"control_total.column {column!r} is not a numeric column")
    return column, total


def _created_at(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _invalid(f"created_at must be an ISO-8601 timestamp string, got {_show(value)}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(f"created_at {_show(value)} is not an ISO-8601 timestamp") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise _invalid(f"created_at {_show(value)} has no UTC offset")
    return ts


def parse_manifest(
    data: bytes, affiliate: str, feed: str, business_date: str, *, feed_def: Feed | None = None
) -> Manifest:
    """Validate the manifest ``data`` of the folder ``affiliate/feed/business_date``.

    ``feed_def`` (default: the registry's feed, when known) lets the control total's column
    be checked against the feed's columns.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid("is not UTF-8 text") from None
    try:
        doc = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise _invalid(f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise _invalid("must be a JSON object")
    missing = [k for k in REQUIRED_FIELDS if k not in doc]
    if missing:
        raise _invalid(f"missing field(s) {', '.join(missing)}")

    if not _is_int(doc["contract_version"]) or doc["contract_version"] != CONTRACT_VERSION:
        raise _invalid(
            f"contract_version must be {CONTRACT_VERSION}, got {_show(doc['contract_version'])}"
        )
    for name, expected in (
        ("affiliate", affiliate),
        ("feed", feed),
        ("business_date", business_date),
    ):
        if doc[name] != expected:
            raise _invalid(f"{name} {_show(doc[name])} does not match the folder ({expected!r})")
    if not is_business_date(business_date):
        raise _invalid(f"business_date {business_date!r} is not a real YYYY-MM-DD date")
    revision = doc["revision"]
    if not _is_int(revision) or revision < 1:
        raise _invalid(f"revision must be an integer >= 1, got {_show(revision)}")
    fmt = doc["format"]
    if fmt not in FORMATS:
        raise _invalid(f"format must be csv or parquet, got {_show(fmt)}")
    encoding = doc["encoding"]
    if fmt == "csv" and encoding not in ENCODINGS:
        raise _invalid(f"encoding must be exactly utf-8 or cp949 for csv, got {_show(encoding)}")
    files = _files(doc["files"])
    if feed_def is None:
        try:
            feed_def = get_feed(affiliate, feed)
        except KeyError:
            feed_def = None
    control_total = _control_total(doc.get("control_total"), feed_def)
    created_at = _created_at(doc["created_at"])
    return Manifest(
        contract_version=CONTRACT_VERSION,
        affiliate=affiliate,
        feed=feed,
        business_date=business_date,
        revision=revision,
        format=fmt,
        encoding=encoding if fmt == "csv" else None,
        files=files,
        control_total=control_total,
        created_at=created_at,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def read_manifest(
    folder: Path, affiliate: str, feed: str, business_date: str, *, feed_def: Feed | None = None
) -> Manifest:
    """Read and validate ``folder/_manifest.json``.

    A folder without a manifest is not ready (not a rejection): FileNotFoundError.
    """
    data = (Path(folder) / MANIFEST_NAME).read_bytes()
    return parse_manifest(data, affiliate, feed, business_date, feed_def=feed_def)
