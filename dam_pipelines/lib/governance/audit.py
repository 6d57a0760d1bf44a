"""``audit/erasures``: the proof record of every erasure and purge (no identifier in clear)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from dam_pipelines.lib import delta

ERASURES = ("audit", "erasures")

#: Outcomes of an audit record.
ERASED, NO_CUSTOMER, PURGED, FAILED = "ERASED", "NO_CUSTOMER", "PURGED", "VERIFY_FAILED"

ERASURES_SCHEMA: dict[str, pl.DataType] = {
    "record_id": pl.Utf8(),
    "kind": pl.Utf8(),  # request | closed_relationship | events | snapshots | landing | vacuum | verify
    "request_id": pl.Utf8(),  # the request's id, or the rule id of a retention purge
    "affiliate": pl.Utf8(),
    "subject_hash": pl.Utf8(),  # HMAC(key, affiliate|customer_no); null for time-based purges
    "effective_date": pl.Date(),  # R: rows from batches dated on or before it are gone
    "as_of_date": pl.Date(),  # the night / purge date D
    "outcome": pl.Utf8(),
    "tables_touched": pl.Utf8(),  # comma separated table keys
    "rows_deleted": pl.Int64(),
    "rows_deleted_by_table": pl.Utf8(),  # JSON {table: rows}
    "versions_before": pl.Utf8(),  # JSON {table: version}
    "versions_after": pl.Utf8(),
    "files_removed": pl.Int64(),
    "log_files_removed": pl.Int64(),
    "verified": pl.Boolean(),
    "verification": pl.Utf8(),  # human-readable detail, never a value of the subject
    "tables_scanned": pl.Int64(),
    "files_scanned": pl.Int64(),
    "recorded_at": pl.Datetime("us", "UTC"),
    "run_id": pl.Utf8(),
}

#: Statistics only for columns that cannot key a person.
ERASURES_STATS = ["kind", "affiliate", "effective_date", "as_of_date", "outcome", "verified"]


@dataclass
class TableChange:
    """What one table went through: rows deleted, versions and the files vacuumed."""

    table: str
    rows_deleted: int = 0
    version_before: int | None = None
    version_after: int | None = None
    files_removed: int = 0
    log_files_removed: int = 0


@dataclass
class AuditRecord:
    kind: str
    affiliate: str | None
    as_of_date: date
    outcome: str
    request_id: str | None = None
    subject_hash: str | None = None
    effective_date: date | None = None
    changes: list[TableChange] = field(default_factory=list)
    verified: bool = False
    verification: str = ""
    tables_scanned: int = 0
    files_scanned: int = 0

    @property
    def rows_deleted(self) -> int:
        return sum(c.rows_deleted for c in self.changes)

    def row(self, *, now: datetime, run_id: str) -> dict[str, Any]:
        touched = [c for c in self.changes if c.rows_deleted or c.files_removed]
        ident = "|".join(
            str(x)
            for x in (
                self.kind,
                self.request_id,
                self.affiliate,
                self.subject_hash,
                self.effective_date,
                self.as_of_date,
                now.isoformat(),
            )
        )
        return {
            "record_id": hashlib.sha256(ident.encode()).hexdigest()[:32],
            "kind": self.kind,
            "request_id": self.request_id,
            "affiliate": self.affiliate,
            "subject_hash": self.subject_hash,
            "effective_date": self.effective_date,
            "as_of_date": self.as_of_date,
            "outcome": self.outcome,
            "tables_touched": ",".join(c.table for c in touched) or None,
            "rows_deleted": self.rows_deleted,
            "rows_deleted_by_table": json.dumps({c.table: c.rows_deleted for c in touched}),
            "versions_before": json.dumps({c.table: c.version_before for c in touched}),
            "versions_after": json.dumps({c.table: c.version_after for c in touched}),
            "files_removed": sum(c.files_removed for c in self.changes),
            "log_files_removed": sum(c.log_files_removed for c in self.changes),
            "verified": self.verified,
            "verification": self.verification,
            "tables_scanned": self.tables_scanned,
            "files_scanned": self.files_scanned,
            "recorded_at": now,
            "run_id": run_id,
        }


def append_records(
    warehouse: Path, records: list[AuditRecord], *, now: datetime, run_id: str
) -> int | None:
    """Append ``records`` to ``audit/erasures``; returns the table version (None if nothing)."""
    if not records:
        return delta.version(warehouse.joinpath(*ERASURES))
    df = pl.DataFrame(
        [r.row(now=now, run_id=run_id) for r in records], schema=ERASURES_SCHEMA, orient="row"
    )
    return delta.append(
        warehouse.joinpath(*ERASURES), df, configuration=delta.table_config(ERASURES_STATS)
    )


def read_records(warehouse: Path) -> pl.DataFrame:
    df = delta.read(warehouse.joinpath(*ERASURES))
    return df if df is not None else pl.DataFrame(schema=ERASURES_SCHEMA)
