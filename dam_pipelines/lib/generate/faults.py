"""Deliberate contract violations and awkward-but-legal deliveries (``--faults``).

Every planted fault is recorded (``<landing>/_faults.json``) with the batch it belongs to and
what the dam is expected to do with it, so tests can prove each one was caught. Faults sit in
the first ten business days of the period, on batches chosen so that no other data is lost
by accident: batch-level rejections hit small feeds or a single snapshot day, row-level faults
are a handful of rows in large batches.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .common import from_day
from .row_faults import ROW_FAULTS

FAULT_MIN_DAYS = 10
FAULT_MIN_CUSTOMERS = 200
#: A batch gets row faults only while they stay below 1/12 of its rows (the contract rejects >10%).
BAD_ROW_MARGIN = 12


@dataclass
class Fault:
    affiliate: str
    feed: str
    business_date: str
    revision: int
    kind: str
    expected_reason: str | None
    row_number: int | None
    column: str | None
    note: str
    level: str  # batch | row | scenario
    expected_status: str | None  # LOADED | REJECTED | SKIPPED | REPLACED | None (not logged)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: (feed, day index, kind, note) of batch-level rejections (contract §4, in check order).
BATCH_FAULTS: tuple[tuple[str, int, str, str], ...] = (
    ("card/merchants", 2, "MANIFEST_INVALID", "created_at without offset"),
    ("life/customers", 3, "FILE_MISSING", "manifest lists part 2, which was never written"),
    (
        "bank/customers",
        4,
        "CHECKSUM_MISMATCH",
        "part 1 lost its final CRLF after the manifest was written",
    ),
    ("life/policies", 5, "DECODE_ERROR", "byte 0xFF inside a row: invalid CP949"),
    (
        "card/merchants",
        6,
        "DECODE_ERROR",
        "last row opens a quoted field that is never closed (not RFC 4180)",
    ),
    ("securities/trades", 7, "MISSING_COLUMN", "required column fee missing"),
    ("bank/loans", 8, "ROW_COUNT_MISMATCH", "manifest says one row more than part 1 holds"),
    ("life/premium_payments", 9, "CONTROL_TOTAL_MISMATCH", "control_total sum off by 10,000"),
    ("securities/customers", 1, "TOO_MANY_BAD_ROWS", "40% of the rows carry gender X"),
)

ORPHANS = (("bank", 2, 3, "deposit_accounts"), ("card", 3, 3, "transactions"))
QUIET_MERCHANT_DAY = 7
OUT_OF_ORDER = ("securities/holdings", 6, 2)  # delivered together with the batch 2 days later
REDELIVERED = ("bank/loans", 3, 2)  # rewritten identically 2 days later
CORRECTION = ("card/transactions", 9)
NOT_READY = "card/transactions"


class FaultPlan:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.faults: list[Fault] = []
        self.pending = list(ROW_FAULTS) if enabled else []
        self.batch = {(f, d): (k, n) for f, d, k, n in BATCH_FAULTS} if enabled else {}
        self.bad_rows: dict[tuple[str, int], int] = {}

    def add(
        self,
        feed_id: str,
        day: int,
        kind: str,
        reason: str | None,
        note: str,
        *,
        level: str,
        status: str | None,
        revision: int = 1,
        row: int | None = None,
        column: str | None = None,
        **details: Any,
    ) -> None:
        a, f = feed_id.split("/")
        self.faults.append(
            Fault(
                a,
                f,
                str(from_day(day)),
                revision,
                kind,
                reason,
                row,
                column,
                note,
                level,
                status,
                details,
            )
        )

    def batch_fault(self, feed_id: str, d: int) -> tuple[str, str] | None:
        return self.batch.get((feed_id, d))

    def reserved(self, feed_id: str, d: int) -> bool:
        return self.batch_fault(feed_id, d) is not None or (
            self.enabled and (feed_id, d) == CORRECTION
        )

    def plant_rows(
        self,
        feed_id: str,
        d: int,
        day: int,
        stage: str,
        df: pl.DataFrame,
        rng: np.random.Generator,
        ctx: Any,
        avoid: set[int],
    ) -> tuple[pl.DataFrame, list[str]]:
        """Apply the pending row faults due for this batch; returns the frame and retired keys."""
        if not self.enabled or self.reserved(feed_id, d):
            return df, []
        retired: list[str] = []
        batch = (feed_id, d)
        for spec in list(self.pending):
            if spec.feed != feed_id or spec.stage != stage or spec.day > d:
                continue
            out = spec.fn(df, rng, day, ctx, set(avoid))
            if out is None:
                continue
            bad = len({row for row, *_ in out[1] if row is not None}) if spec.reason else 0
            if (self.bad_rows.get(batch, 0) + bad) * BAD_ROW_MARGIN > df.height:
                continue  # would come near the 10% rejection threshold: try the next batch
            self.bad_rows[batch] = self.bad_rows.get(batch, 0) + bad
            df, hits, keys = out
            retired += [k for k in keys if k]
            self.pending.remove(spec)
            for row, col, note, det in hits:
                if row is not None:
                    avoid.add(row)
                self.add(
                    feed_id,
                    day,
                    spec.kind,
                    spec.reason,
                    note,
                    level=spec.level,
                    status="LOADED",
                    row=None if row is None else row + 1,
                    column=col,
                    **det,
                )
        return df, retired

    def records(self) -> list[dict[str, Any]]:
        def key(f: Fault) -> tuple:
            return (f.business_date, f.affiliate, f.feed, f.revision, f.kind, f.row_number or 0)

        return [f.as_dict() for f in sorted(self.faults, key=key)]


# ---- batch-level damage, applied after the parts are written -----------------------------
#: Faults whose manifest must be (re)written after the files were damaged.
REWRITE_MANIFEST = frozenset(
    {"FILE_MISSING", "DECODE_ERROR", "ROW_COUNT_MISMATCH", "CONTROL_TOTAL_MISMATCH"}
)


def _break_cp949(data: bytes) -> bytes:
    """Replace one ASCII byte of the first data row by 0xFF, which is no CP949 lead byte."""
    pos = data.index(b"\n") + 5
    return data[:pos] + b"\xff" + data[pos + 1 :]


def _unterminated_quote(data: bytes) -> bytes:
    """Open a quote in the second field of the last row and never close it."""
    body = data.rstrip(b"\r\n")
    start = body.rfind(b"\n") + 1
    comma = body.index(b",", start) + 1
    return data[:comma] + b'"' + data[comma:]


def damage_batch(
    kind: str, folder: Path, manifest: dict[str, Any], encoding: str
) -> dict[str, Any]:
    """Damage a written batch for ``kind``; returns the manifest to write (if it must be)."""
    first = folder / manifest["files"][0]["name"]
    if kind == "FILE_MISSING":
        (folder / manifest["files"][-1]["name"]).unlink()
    elif kind == "DECODE_ERROR":
        data = first.read_bytes()
        data = _break_cp949(data) if encoding == "cp949" else _unterminated_quote(data)
        first.write_bytes(data)
        manifest["files"][0]["sha256"] = hashlib.sha256(data).hexdigest()
    elif kind == "ROW_COUNT_MISMATCH":
        manifest["files"][0]["rows"] += 1
    elif kind == "CONTROL_TOTAL_MISMATCH":
        manifest["control_total"]["sum"] += 10_000
    elif kind == "CHECKSUM_MISMATCH":  # the file changes after its manifest was written
        data = first.read_bytes()
        first.write_bytes(data[:-2] if data.endswith(b"\r\n") else data + b"\n")
    return manifest
