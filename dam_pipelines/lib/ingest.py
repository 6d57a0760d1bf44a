"""Landing discovery, the batch ledger (``audit/batches``) and bronze/quarantine writes.

For one feed and a night D: every ready batch (manifest present) with business_date <= D is
looked at once per sighting (manifest bytes + mtime). A new revision is validated and, when
accepted, replaces its business-date partition in bronze atomically; the earlier revision is
marked REPLACED. Re-deliveries of a loaded revision are SKIPPED, stale lower revisions are
REPLACED on arrival, rejected batches are logged with their reason. The ledger is merged after
the bronze writes, so a crash in between only makes the next run redo idempotent writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.landing import MANIFEST
from dam_pipelines.lib.registry import Feed, Role
from dam_pipelines.lib.validate import (
    BatchRejected,
    ValidatedBatch,
    bronze_schema,
    quarantine_schema,
    validate_batch,
)
from dam_pipelines.settings import Settings

BATCHES = ("audit", "batches")
QUARANTINE = ("audit", "quarantine")
LEDGER_KEY = ("affiliate", "feed", "business_date", "revision")

LOADED, REJECTED, SKIPPED, REPLACED = "LOADED", "REJECTED", "SKIPPED", "REPLACED"

BATCHES_SCHEMA: dict[str, pl.DataType] = {
    "affiliate": pl.Utf8(),
    "feed": pl.Utf8(),
    "business_date": pl.Utf8(),
    "revision": pl.Int64(),
    "status": pl.Utf8(),
    "reason": pl.Utf8(),
    "detail": pl.Utf8(),
    "rows_read": pl.Int64(),
    "rows_loaded": pl.Int64(),
    "rows_quarantined": pl.Int64(),
    "rows_suppressed": pl.Int64(),
    "batch_id": pl.Utf8(),
    "format": pl.Utf8(),
    "encoding": pl.Utf8(),
    "manifest_sha256": pl.Utf8(),
    "manifest_mtime_ns": pl.Int64(),
    "dropped_columns": pl.Utf8(),
    "event_date_min": pl.Date(),
    "event_date_max": pl.Date(),
    "first_seen_at": pl.Datetime("us", "UTC"),
    "updated_at": pl.Datetime("us", "UTC"),
    "run_id": pl.Utf8(),
}

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: A hook that removes rows the dam must not (re)load, e.g. erased customers (contract §5).
#: Gets the feed, the batch's business date and the validated rows; returns the rows to keep.
Suppressor = Callable[[Feed, str, pl.DataFrame], pl.DataFrame]


@dataclass
class BatchOutcome:
    affiliate: str
    feed: str
    business_date: str
    revision: int
    status: str
    reason: str | None = None
    detail: str | None = None
    rows_read: int | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_suppressed: int = 0


@dataclass
class FeedReport:
    feed: Feed
    up_to: str
    outcomes: list[BatchOutcome] = field(default_factory=list)
    bronze_version: int | None = None
    quarantine_version: int | None = None

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def rows_loaded(self) -> int:
        return sum(o.rows_loaded for o in self.outcomes if o.status == LOADED)

    @property
    def rows_quarantined(self) -> int:
        return sum(o.rows_quarantined for o in self.outcomes if o.status == LOADED)


def stats_columns(feed: Feed) -> list[str]:
    """Bronze columns whose min/max may enter the Delta log: nothing that keys a person."""
    hidden = {Role.DIRECT, Role.PAN, Role.CUSTOMER_KEY, Role.RECORD_KEY}
    cols = [c for c in bronze_schema(feed) if c != "gcid"]
    by_name = {c.name: c for c in feed.columns}
    return [c for c in cols if c not in by_name or by_name[c].role not in hidden]


def plain_columns(feed: Feed) -> list[str]:
    """Bronze columns of (nearly) unique values, written without a parquet dictionary."""
    unique = [*feed.key] if len(feed.key) == 1 else []
    cols = [*unique, "gcid", "customer_no", "_row_number"]
    return [c for c in bronze_schema(feed) if c in cols]


#: Audit tables take many small commits: checkpoint often so opening them stays cheap.
AUDIT_TABLE_PROPERTIES = {"delta.checkpointInterval": "10"}

QUARANTINE_STATS = [
    "affiliate",
    "feed",
    "business_date",
    "revision",
    "row_number",
    "column",
    "reason",
]


def ready_batches(landing: Path, feed: Feed, up_to: str) -> list[Path]:
    """Batch folders of ``feed`` holding a manifest, dated on or before ``up_to``, oldest first.

    Folders whose name is not a date are returned too (they are rejected and logged, never
    silently ignored).
    """
    root = landing / feed.affiliate / feed.name
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if not folder.is_dir() or not (folder / MANIFEST).is_file():
            continue
        if _DATE_RE.match(folder.name) and folder.name > up_to:
            continue
        found.append(folder)
    return sorted(found, key=lambda p: p.name)


def manifest_fingerprint(folder: Path) -> tuple[str, int]:
    return _sighting(folder)[1]


def _sighting(folder: Path) -> tuple[bytes, tuple[str, int]]:
    """The manifest's bytes and fingerprint (sha256, mtime), from one read of the file."""
    path = folder / MANIFEST
    raw = path.read_bytes()
    return raw, (hashlib.sha256(raw).hexdigest(), path.stat().st_mtime_ns)


def unseen_batches(
    landing: Path, feed: Feed, up_to: str, ledger: pl.DataFrame
) -> list[tuple[Path, str]]:
    """Ready batches whose current manifest sighting is not in the ledger (for the sensor)."""
    seen = set(
        ledger.filter((pl.col("affiliate") == feed.affiliate) & (pl.col("feed") == feed.name))
        .select(
            pl.concat_str(
                "manifest_sha256", pl.col("manifest_mtime_ns").cast(pl.Utf8), separator=":"
            )
        )
        .to_series()
        .to_list()
    )
    out = []
    for folder in ready_batches(landing, feed, up_to):
        sha, mtime = manifest_fingerprint(folder)
        if f"{sha}:{mtime}" not in seen:
            out.append((folder, f"{sha}:{mtime}"))
    return out


def _loose_revision(raw: bytes) -> int:
    """The manifest's revision if it is readable, else 0 (used to key the ledger row)."""
    try:
        rev = json.loads(raw.decode("utf-8-sig")).get(
            "revision"
        )  # a BOM is tolerated (manifest.py)
    except (ValueError, UnicodeDecodeError, AttributeError):
        return 0
    return rev if isinstance(rev, int) and not isinstance(rev, bool) and rev >= 1 else 0


def read_ledger(settings: Settings, feed: Feed | None = None) -> pl.DataFrame:
    df = delta.read(settings.table_path(*BATCHES))
    if df is None:
        return pl.DataFrame(schema=BATCHES_SCHEMA)
    if feed is not None:
        df = df.filter((pl.col("affiliate") == feed.affiliate) & (pl.col("feed") == feed.name))
    return df


def _ledger_row(
    o: BatchOutcome, *, fp: tuple[str, int], run_id: str, now: datetime, extra: dict[str, Any]
) -> dict[str, Any]:
    row = {k: None for k in BATCHES_SCHEMA}
    row.update(
        affiliate=o.affiliate,
        feed=o.feed,
        business_date=o.business_date,
        revision=o.revision,
        status=o.status,
        reason=o.reason,
        detail=o.detail,
        rows_read=o.rows_read,
        rows_loaded=o.rows_loaded,
        rows_quarantined=o.rows_quarantined,
        rows_suppressed=o.rows_suppressed,
        batch_id=f"{o.affiliate}/{o.feed}/{o.business_date}/r{o.revision}",
        manifest_sha256=fp[0],
        manifest_mtime_ns=fp[1],
        first_seen_at=now,
        updated_at=now,
        run_id=run_id,
    )
    row.update(extra)
    return row


@dataclass
class _PendingWrite:
    future: Future[int]
    report: FeedReport
    rows: int
    messages: list[str] = field(default_factory=list)


class _BronzeWrites:
    """Bronze writes run on background threads, so that the parquet encoding of a batch
    (single-threaded in delta-rs) overlaps the validation of the next batches.

    Writes of one table run one at a time in batch order; different tables may be written side
    by side. A failed write is raised before the ledger is touched, and no write starts after
    it (as with a crash, the batches already written are written again, idempotently, by the
    next run, since the ledger does not list them). Log lines come out in batch order, a
    batch's "loaded" line only once its write has committed.
    """

    #: Threads writing at once (each write is one table's commit).
    WRITERS = 2
    #: Rows of validated batches that may wait for (or be in) their write: bounds memory. At a
    #: million customers the night's three largest batches (2.5 M rows) wait together, so the
    #: validations ahead never stall behind a write (ingestion peaked at 1.96 GiB).
    MAX_PENDING_ROWS = 3_000_000

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[_PendingWrite] = deque()
        self._failed = False

    def say(self, msg: str) -> None:
        if self._pending:
            self._pending[-1].messages.append(msg)
        else:
            self._log(msg)

    def submit(self, report: FeedReport, rows: int, write: Callable[[], int]) -> None:
        while self._pending and (
            sum(p.rows for p in self._pending) + rows > self.MAX_PENDING_ROWS
            or any(p.report is report for p in self._pending)  # same table: in order
        ):
            self._finish_oldest()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.WRITERS, thread_name_prefix="dam-bronze-write")
        self._pending.append(_PendingWrite(self._pool.submit(self._run, write), report, rows))

    def _run(self, write: Callable[[], int]) -> int:
        if self._failed:
            raise RuntimeError("not written: an earlier bronze write of this run failed")
        try:
            return write()
        except BaseException:
            self._failed = True
            raise

    def check(self) -> None:
        """Account for the writes already done; raise now if one of them failed."""
        while self._pending and self._pending[0].future.done():
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        done = self._pending.popleft()
        done.report.bronze_version = done.future.result()  # raises the write's error
        for msg in done.messages:
            self._log(msg)

    def close(self) -> None:
        """Wait for every write, also when the caller is failing; raise the first failure."""
        try:
            while self._pending:
                self._finish_oldest()
        finally:
            for rest in self._pending:  # after a failure: they are skipped, or must finish
                rest.future.exception()
            self._pending.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


Sighting = tuple[bytes, tuple[str, int]]


class _Validations:
    """Batch validations run ahead on worker threads, in the order the run will take them.

    A night's ingestion is CPU-bound, and one validation at a time left a core idle part of
    the time (the bronze writes already run beside it). The run plans the batches it will
    probably validate (every sighting not yet in the ledger), and up to :attr:`AHEAD` of them
    are validated at once; :meth:`result` hands each over in turn (a ``BatchRejected`` is raised
    there, where a direct call would raise it). A planned batch the run skips is dropped (its
    result or error is never used); one it takes unplanned is validated on the spot. Memory:
    at most ``AHEAD`` validated batches wait, besides the writes' bound.
    """

    AHEAD = 2

    def __init__(self, settings: Settings, now: datetime, plan: Sequence[tuple[Feed, Path]]):
        self._settings, self._now = settings, now
        self._plan = list(plan)
        self._next = 0  # the first planned batch not submitted yet
        self._running: dict[Path, Future[ValidatedBatch]] = {}  # submitted, in plan order
        self._pool = ThreadPoolExecutor(self.AHEAD, thread_name_prefix="dam-validate")

    def _validate(self, feed: Feed, folder: Path) -> ValidatedBatch:
        return validate_batch(
            folder,
            feed,
            folder.name,
            pseudonym_key=self._settings.pseudonym_key,
            bad_row_threshold=self._settings.bad_row_threshold,
            ingested_at=self._now,
        )

    def _fill(self) -> None:
        while self._next < len(self._plan) and len(self._running) < self.AHEAD:
            feed, folder = self._plan[self._next]
            self._next += 1
            self._running[folder] = self._pool.submit(self._validate, feed, folder)

    def result(self, feed: Feed, folder: Path) -> ValidatedBatch:
        """The validation of ``folder`` (raises as :func:`validate_batch` does)."""
        if folder in self._running or any(f == folder for _, f in self._plan[self._next :]):
            while True:  # batches planned before it were skipped: drop them
                self._fill()
                first = next(iter(self._running))
                future = self._running.pop(first)
                if first == folder:
                    break
                future.cancel()
            self._fill()  # the next ones start while this one is handed over
            return future.result()
        return self._validate(feed, folder)

    def close(self) -> None:
        for future in self._running.values():
            future.cancel()
        self._running.clear()
        self._pool.shutdown(wait=True)


def _manifest_rows(raw: bytes) -> int:
    """The rows a manifest announces (0 when it cannot be read: validation will say why)."""
    try:
        files = json.loads(raw.decode("utf-8-sig")).get("files")
        return sum(int(f.get("rows") or 0) for f in files)
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
        return 0


LedgerRows = dict[tuple[str, int], dict[str, Any]]


@dataclass
class _Plan:
    """What a run looks at, read once: per feed its ledger rows (by business date and
    revision) and its ready batches with their manifest sightings; the feeds in the order
    the run takes them; and the batches it will most likely validate, in that order (their
    sighting is not in the ledger yet)."""

    order: list[Feed]
    ledgers: dict[str, LedgerRows]
    ready: dict[str, list[tuple[Path, Sighting]]]
    validations: list[tuple[Feed, Path]]


def _plan(settings: Settings, feeds: Sequence[Feed], up_to: str, ledger: pl.DataFrame) -> _Plan:
    """The run's :class:`_Plan`. Feeds with the most rows to validate go first: the run's last
    bronze write, which nothing overlaps, is then a small one. Feeds are independent, so the
    order changes no outcome; the reports keep the order of ``feeds``."""
    ledgers: dict[str, LedgerRows] = {}
    ready: dict[str, list[tuple[Path, Sighting]]] = {}
    planned: dict[str, list[Path]] = {}
    rows: dict[str, int] = {}
    for feed in feeds:
        mine = ledger.filter(
            (pl.col("affiliate") == feed.affiliate) & (pl.col("feed") == feed.name)
        )
        seen = ledgers[feed.id] = {(r["business_date"], r["revision"]): r for r in mine.to_dicts()}
        ready[feed.id] = [
            (folder, _sighting(folder))
            for folder in ready_batches(settings.landing_dir, feed, up_to)
        ]
        planned[feed.id], rows[feed.id] = [], 0
        for folder, (raw, fp) in ready[feed.id]:
            prev = seen.get((folder.name, _loose_revision(raw)))
            if prev is None or (prev["manifest_sha256"], prev["manifest_mtime_ns"]) != fp:
                planned[feed.id].append(folder)
                rows[feed.id] += _manifest_rows(raw)
    order = sorted(feeds, key=lambda f: -rows[f.id])  # stable: ties keep the given order
    validations = [(f, folder) for f in order for folder in planned[f.id]]
    return _Plan(order, ledgers, ready, validations)


def ingest_feeds(
    settings: Settings,
    feeds: Sequence[Feed],
    up_to: date | str,
    *,
    run_id: str,
    now: datetime,
    suppress: Suppressor | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, FeedReport]:
    """Ingest every ready, not yet seen batch of ``feeds`` dated on or before ``up_to``.

    The ledger is read once and merged once, and the quarantine is written in one commit, so a
    night costs a few Delta commits on the audit tables whatever the number of batches.
    """
    up_to = str(up_to)
    ledger = read_ledger(settings)
    reports: dict[str, FeedReport] = {}
    ledger_rows: list[dict[str, Any]] = []
    quarantine: list[pl.DataFrame] = []
    predicates: list[str] = []
    writes = _BronzeWrites(log or (lambda _msg: None))
    plan = _plan(settings, feeds, up_to, ledger)
    validations = _Validations(settings, now, plan.validations)
    try:
        for feed in plan.order:
            report, rows, q = _ingest_one(
                settings,
                feed,
                up_to,
                plan.ledgers[feed.id],
                plan.ready[feed.id],
                run_id=run_id,
                now=now,
                suppress=suppress,
                writes=writes,
                validations=validations,
            )
            reports[feed.id] = report
            ledger_rows.extend(rows)
            for frame, predicate in q:
                quarantine.append(frame)
                predicates.append(predicate)
    finally:
        validations.close()
        writes.close()
    if predicates:
        version = delta.replace_where(
            settings.table_path(*QUARANTINE),
            pl.concat(quarantine),
            " OR ".join(f"({p})" for p in predicates),
            configuration=delta.table_config(QUARANTINE_STATS, **AUDIT_TABLE_PROPERTIES),
        )
        for r in reports.values():
            r.quarantine_version = version
    if ledger_rows:
        df = pl.DataFrame(ledger_rows, schema=BATCHES_SCHEMA, orient="row")
        delta.upsert(
            settings.table_path(*BATCHES),
            df,
            LEDGER_KEY,
            configuration=delta.table_config(
                ["business_date", "revision", "status"], **AUDIT_TABLE_PROPERTIES
            ),
        )
    return {f.id: reports[f.id] for f in feeds}


def ingest_feed(
    settings: Settings,
    feed: Feed,
    up_to: date | str,
    *,
    run_id: str,
    now: datetime,
    suppress: Suppressor | None = None,
    log: Callable[[str], None] | None = None,
) -> FeedReport:
    """:func:`ingest_feeds` for one feed."""
    return ingest_feeds(
        settings, [feed], up_to, run_id=run_id, now=now, suppress=suppress, log=log
    )[feed.id]


def _batch_predicate(feed: Feed, bdate: str, rev: int) -> str:
    return " AND ".join(
        [
            f"affiliate = {delta.sql_literal(feed.affiliate)}",
            f"feed = {delta.sql_literal(feed.name)}",
            f"business_date = {delta.sql_literal(bdate)}",
            f"revision = {rev}",
        ]
    )


def _ingest_one(
    settings: Settings,
    feed: Feed,
    up_to: str,
    ledger: LedgerRows,
    ready: list[tuple[Path, Sighting]],
    *,
    run_id: str,
    now: datetime,
    suppress: Suppressor | None,
    writes: _BronzeWrites,
    validations: _Validations,
) -> tuple[FeedReport, list[dict[str, Any]], list[tuple[pl.DataFrame, str]]]:
    report = FeedReport(feed, up_to)
    say = writes.say
    bronze_path = settings.table_path("bronze", feed.affiliate, feed.name)
    rows: LedgerRows = {}
    quarantine: list[tuple[pl.DataFrame, str]] = []
    for folder, (raw, fp) in ready:
        bdate = folder.name
        rev = _loose_revision(raw)
        prev = rows.get((bdate, rev)) or ledger.get((bdate, rev))
        if prev is not None and (prev["manifest_sha256"], prev["manifest_mtime_ns"]) == fp:
            continue  # this exact sighting was handled by an earlier run
        current = {**ledger, **rows}
        loaded_revs = [
            r
            for (d, r), row in current.items()
            if d == bdate and row["status"] in (LOADED, SKIPPED)
        ]
        loaded_rev = max(loaded_revs) if loaded_revs else None
        base = dict(affiliate=feed.affiliate, feed=feed.name, business_date=bdate, revision=rev)

        if prev is not None and prev["status"] in (LOADED, SKIPPED, REPLACED):
            # Same key and revision delivered again: a no-op, logged.
            status = REPLACED if prev["status"] == REPLACED else SKIPPED
            updated = {
                **prev,
                "status": status,
                "manifest_sha256": fp[0],
                "manifest_mtime_ns": fp[1],
                "updated_at": now,
                "run_id": run_id,
            }
            rows[(bdate, rev)] = updated
            report.outcomes.append(
                BatchOutcome(
                    **base,
                    status=status,
                    rows_read=prev["rows_read"],
                    rows_loaded=prev["rows_loaded"] or 0,
                    rows_quarantined=prev["rows_quarantined"] or 0,
                )
            )
            say(f"{feed.id} {bdate} r{rev}: re-delivered, {status.lower()}")
            continue
        if loaded_rev is not None and rev < loaded_rev:
            o = BatchOutcome(
                **base,
                status=REPLACED,
                detail=f"revision {rev} arrived after revision {loaded_rev} was loaded",
            )
            rows[(bdate, rev)] = _ledger_row(o, fp=fp, run_id=run_id, now=now, extra={})
            report.outcomes.append(o)
            say(f"{feed.id} {bdate} r{rev}: superseded by r{loaded_rev}")
            continue

        writes.check()  # a failed write of an earlier batch stops the run here
        try:
            vb = validations.result(feed, folder)
        except BatchRejected as rej:
            o = BatchOutcome(
                **base,
                status=REJECTED,
                reason=rej.reason,
                detail=rej.detail,
                rows_read=getattr(rej, "rows_read", None),
            )
            first = prev["first_seen_at"] if prev else now
            rows[(bdate, rev)] = _ledger_row(
                o, fp=fp, run_id=run_id, now=now, extra={"first_seen_at": first}
            )
            report.outcomes.append(o)
            say(f"{feed.id} {bdate} r{rev}: REJECTED {rej.reason}: {rej.detail}")
            continue

        loaded = vb.loaded
        suppressed = 0
        if suppress is not None:
            kept = suppress(feed, bdate, loaded)
            suppressed = loaded.height - kept.height
            loaded = kept
        writes.submit(
            report,
            loaded.height,
            partial(
                delta.replace_where,
                bronze_path,
                loaded,
                f"business_date = {delta.sql_literal(bdate)}",
                partition_by=["business_date"],
                configuration=delta.table_config(
                    stats_columns(feed), **{"delta.checkpointInterval": "20"}
                ),
                metadata={"dam.batch_id": f"{feed.id}/{bdate}/r{rev}", "dam.run_id": run_id},
                writer_properties=delta.bulk_writer(plain_columns(feed), page_statistics=False),
            ),
        )
        q = vb.quarantine.with_columns(
            pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("quarantined_at")
        )
        q = q.select(
            [
                pl.col(c).cast(t) if c in q.columns else pl.lit(None, t).alias(c)
                for c, t in quarantine_schema().items()
            ]
        )
        if suppress is not None:
            q = suppress(feed, bdate, q)
        quarantine.append((q, _batch_predicate(feed, bdate, rev)))
        o = BatchOutcome(
            **base,
            status=LOADED,
            rows_read=vb.rows_read,
            rows_loaded=loaded.height,
            rows_quarantined=vb.bad_rows,
            rows_suppressed=suppressed,
        )
        rows[(bdate, rev)] = _ledger_row(
            o,
            fp=fp,
            run_id=run_id,
            now=now,
            extra={
                "format": vb.manifest.format,
                "encoding": vb.manifest.encoding,
                "dropped_columns": ",".join(vb.dropped_columns) or None,
                "event_date_min": vb.event_date_min,
                "event_date_max": vb.event_date_max,
                "first_seen_at": prev["first_seen_at"] if prev else now,
            },
        )
        if loaded_rev is not None and loaded_rev != rev:
            old = current[(bdate, loaded_rev)]
            rows[(bdate, loaded_rev)] = {
                **old,
                "status": REPLACED,
                "updated_at": now,
                "run_id": run_id,
                "detail": f"replaced by revision {rev}",
            }
        report.outcomes.append(o)
        say(f"{feed.id} {bdate} r{rev}: loaded {loaded.height}, quarantined {vb.bad_rows} rows")

    return report, list(rows.values()), quarantine
