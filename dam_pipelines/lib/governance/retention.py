"""The retention purge (contract §5): old events, raw snapshot history, landing batches, then
physical removal (vacuum + log cleanup) of every table and a verification of it all.

Deletes here use literal predicates on dates only (never an identifier), so a plain DELETE is
safe for the log. Run weekly and by hand with ``dam purge --date D``.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from dam_pipelines.lib import card_window, delta
from dam_pipelines.lib.governance import audit as A
from dam_pipelines.lib.governance.erasure import ErasureReport, apply_erasures
from dam_pipelines.lib.governance.proof import Proof, prove_suppressions
from dam_pipelines.lib.governance.rules import event_cutoff, snapshot_cutoff
from dam_pipelines.lib.governance.suppression import read_suppressions
from dam_pipelines.lib.landing import MANIFEST
from dam_pipelines.lib.lock import warehouse_lock
from dam_pipelines.lib.registry import FEEDS, Feed, Kind
from dam_pipelines.lib.tables import find_tables
from dam_pipelines.settings import Settings

KST = ZoneInfo("Asia/Seoul")
ALL_LAYERS = ("bronze", "silver", "gold", "audit", "governance")
RULE_EVENTS = "retention:events-5y"
RULE_SNAPSHOTS = "retention:snapshot-history-90d"
RULE_LANDING = "retention:landing-30d"
RULE_VACUUM = "purge:vacuum"
RULE_VERIFY = "purge:verify-erasures"


@dataclass
class PurgeReport:
    as_of: date
    records: list[A.AuditRecord] = field(default_factory=list)
    changes: dict[str, A.TableChange] = field(default_factory=dict)
    landing_removed: list[str] = field(default_factory=list)  # affiliate/feed/date folders
    erasures: ErasureReport | None = None

    @property
    def verified(self) -> bool:
        return all(r.verified for r in self.records) and (
            self.erasures is None or self.erasures.verified
        )

    @property
    def rows_deleted(self) -> int:
        return sum(c.rows_deleted for c in self.changes.values())

    @property
    def files_removed(self) -> int:
        return sum(c.files_removed for c in self.changes.values())


def _change(report: PurgeReport, table: str, path: Path) -> A.TableChange:
    return report.changes.setdefault(
        table, A.TableChange(table, version_before=delta.version(path))
    )


def _delete(report: PurgeReport, table: str, path: Path, predicate: str) -> int:
    """DELETE rows matching a date-only predicate; no commit when nothing matches."""
    lf = delta.scan(path)
    if lf is None:
        return 0
    n = lf.filter(pl.sql_expr(predicate)).select(pl.len()).collect().item()
    if n:
        deleted = int(delta.delete_where(path, predicate).get("num_deleted_rows", n))
        _change(report, table, path).rows_deleted += deleted
        return deleted
    return 0


def _tables_of(warehouse: Path, layer: str, feed: Feed) -> tuple[str, Path]:
    return f"{layer}/{feed.affiliate}/{feed.name}", warehouse / layer / feed.affiliate / feed.name


def purge_events(settings: Settings, as_of: date, report: PurgeReport) -> A.AuditRecord:
    """Delete events dated before the same day ``event_years`` years before D, every layer."""
    wh = settings.warehouse_dir
    cutoff = event_cutoff(as_of, settings.retention.event_years)
    rec = A.AuditRecord(
        kind="events",
        affiliate=None,
        as_of_date=as_of,
        outcome=A.PURGED,
        request_id=RULE_EVENTS,
        effective_date=cutoff,
    )
    lit = delta.sql_literal(cutoff.isoformat())
    names = []
    for feed in (f for f in FEEDS if f.kind is Kind.EVENT):
        names.append(feed.name)
        for layer in ("bronze", "silver"):
            table, path = _tables_of(wh, layer, feed)
            if not delta.exists(path):
                continue
            n = 0  # the log rules most tables out: their dates all lie after the cut-off
            if delta.may_hold_before(path, "event_date", cutoff) and (
                "event_date" in delta.scan(path).collect_schema()
            ):
                n = _delete(report, table, path, f"event_date < CAST({lit} AS DATE)")
            rec.changes.append(A.TableChange(table, n))
    # Quarantined rows of event batches dated before the cut-off: all their events are older.
    q = wh / "audit" / "quarantine"
    feeds = ", ".join(delta.sql_literal(n) for n in sorted(set(names)))
    n = 0
    if delta.may_hold_before(q, "business_date", cutoff):
        n = _delete(report, "audit/quarantine", q, f"feed IN ({feeds}) AND business_date < {lit}")
    rec.changes.append(A.TableChange("audit/quarantine", n))
    return rec


def expire_events(
    settings: Settings, as_of: date, run_id: str, now: datetime, log: Callable[[str], None]
) -> A.AuditRecord | None:
    """The event half of the five-year rule (contract §5), applied in the night of D before
    silver and gold are built, so that no table published as of D counts an event dated
    before ``years_before(D, event_years)`` (the trends have no lower bound). The same rows
    :func:`purge_events` deletes; the weekly purge vacuums their files.

    Usually nothing is that old, and the log alone says so (no commit, no record). When rows
    go, the card window sums are kept in step (the events lie before any window) and a record
    is appended to ``audit/erasures``, verified by a scan that finds no live event older
    than the cut-off. Returns the record, or None when nothing was deleted. The caller holds
    the warehouse lock (:func:`apply_night_rules`).
    """
    wh, cutoff = settings.warehouse_dir, event_cutoff(as_of, settings.retention.event_years)
    window = card_window.versions(wh)
    report = PurgeReport(as_of)
    rec = purge_events(settings, as_of, report)
    if not report.rows_deleted:
        return None
    card_window.follow(wh, window, deleted_before=cutoff)
    leftovers = check_retention(settings, as_of)
    rec.verified = not leftovers
    rec.verification = (
        f"{rec.rows_deleted} rows deleted; "
        + ("; ".join(leftovers) if leftovers else "no live event dated before the cut-off")
        + "; their files are vacuumed by the weekly purge"
    )
    rec.tables_scanned = len(rec.changes)
    A.append_records(wh, [rec], now=now, run_id=run_id)
    log(f"events dated before {cutoff}: {rec.rows_deleted} rows deleted; verified={rec.verified}")
    return rec


def apply_night_rules(
    settings: Settings,
    as_of: date,
    *,
    run_id: str = "",
    now: datetime | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> tuple[ErasureReport, A.AuditRecord | None]:
    """What the night of D applies of contract §5 before silver, under one hold of the
    warehouse lock: the erasures effective on D (requests and closed relationships,
    :func:`apply_erasures`) and the events older than five years (:func:`expire_events`).
    The snapshot history and landing rules, which no published table sees, and the vacuum
    of everything are the weekly purge's."""
    now = now or datetime.now(UTC)
    with warehouse_lock(settings.warehouse_dir):
        erased = apply_erasures(settings, as_of, run_id=run_id, lock=False, now=now, log=log)
        expired = expire_events(settings, as_of, run_id, now, log)
    return erased, expired


def _latest_snapshot(path: Path, column: str, as_of: date) -> str | None:
    lf = delta.scan(path)
    if lf is None or column not in lf.collect_schema():
        return None
    v = (
        lf.select(pl.col(column).cast(pl.Utf8).str.slice(0, 10))
        .filter(pl.col(column) <= as_of.isoformat())
        .max()
        .collect()
        .item()
    )
    return v


def purge_snapshots(settings: Settings, as_of: date, report: PurgeReport) -> A.AuditRecord:
    """Delete snapshot partitions older than the history period, except the latest one <= D
    (still the state as of D when later snapshots are missing)."""
    wh = settings.warehouse_dir
    cutoff = snapshot_cutoff(as_of, settings.retention.snapshot_history_days)
    rec = A.AuditRecord(
        kind="snapshots",
        affiliate=None,
        as_of_date=as_of,
        outcome=A.PURGED,
        request_id=RULE_SNAPSHOTS,
        effective_date=cutoff,
    )
    lit = delta.sql_literal(cutoff.isoformat())
    for feed in (f for f in FEEDS if f.kind is Kind.SNAPSHOT):
        keep_bronze = None
        for layer, col in (("bronze", "business_date"), ("silver", "snapshot_date")):
            table, path = _tables_of(wh, layer, feed)
            latest = _latest_snapshot(path, col, as_of)
            if latest is None:
                continue
            if layer == "bronze":
                keep_bronze = latest
            cast = f"CAST({col} AS VARCHAR)" if layer == "silver" else col
            pred = f"{cast} < {lit} AND {cast} <> {delta.sql_literal(latest)}"
            rec.changes.append(A.TableChange(table, _delete(report, table, path, pred)))
        q = wh / "audit" / "quarantine"
        pred = f"feed = {delta.sql_literal(feed.name)} AND affiliate = {delta.sql_literal(feed.affiliate)} AND business_date < {lit}"
        if keep_bronze is not None:
            pred += f" AND business_date <> {delta.sql_literal(keep_bronze)}"
        rec.changes.append(
            A.TableChange("audit/quarantine", _delete(report, "audit/quarantine", q, pred))
        )
    return rec


def _ingested_day(ts: datetime | None) -> date | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(KST).date()


def purge_landing(settings: Settings, as_of: date, report: PurgeReport) -> A.AuditRecord:
    """Delete landing batch folders whose current manifest was processed (any ledger status)
    on a KST day more than ``landing_days`` before D. Unprocessed folders are never touched."""
    days = settings.retention.landing_days
    rec = A.AuditRecord(
        kind="landing",
        affiliate=None,
        as_of_date=as_of,
        outcome=A.PURGED,
        request_id=RULE_LANDING,
        effective_date=as_of - timedelta(days=days),
    )
    ledger = delta.read(settings.warehouse_dir / "audit" / "batches")
    ledger = (
        ledger
        if ledger is not None
        else pl.DataFrame(
            schema={
                "affiliate": pl.Utf8,
                "feed": pl.Utf8,
                "business_date": pl.Utf8,
                "manifest_sha256": pl.Utf8,
                "first_seen_at": pl.Datetime("us", "UTC"),
                "updated_at": pl.Datetime("us", "UTC"),
            }
        )
    )
    seen: dict[tuple[str, str, str, str], date | None] = {}
    for r in ledger.iter_rows(named=True):
        k = (r["affiliate"], r["feed"], r["business_date"], r["manifest_sha256"])
        day = _ingested_day(r["updated_at"] or r["first_seen_at"])
        if day is not None:
            seen[k] = max(day, seen.get(k) or day)
    removed_files, problems = 0, []
    root = settings.landing_dir
    for feed in FEEDS:
        base = root / feed.affiliate / feed.name
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            if not (folder / MANIFEST).is_file():
                continue  # not ready, so not processed
            sha = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
            day = seen.get((feed.affiliate, feed.name, folder.name, sha))
            if day is None or (as_of - day).days <= days:
                continue
            removed_files += sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder)
            if folder.exists():
                problems.append(f"{feed.id}/{folder.name}")
            report.landing_removed.append(f"{feed.id}/{folder.name}")
    rec.changes.append(A.TableChange("landing", rows_deleted=0, files_removed=removed_files))
    rec.verified = not problems
    rec.verification = (
        f"{len(report.landing_removed)} batch folders ({removed_files} files) removed; "
        + ("all gone from disk" if not problems else f"STILL PRESENT: {', '.join(problems)}")
    )
    return rec


def vacuum_all(settings: Settings, report: PurgeReport) -> A.AuditRecord:
    """Vacuum every table of the warehouse (0 h retention, for real) and clean its log."""
    wh = settings.warehouse_dir
    rec = A.AuditRecord(
        kind="vacuum",
        affiliate=None,
        as_of_date=report.as_of,
        outcome=A.PURGED,
        request_id=RULE_VACUUM,
    )
    for table, path in sorted(find_tables(wh, ALL_LAYERS).items()):
        change = _change(report, table, path)
        out = delta.vacuum_now(path)
        change.files_removed += len(out["files_removed"])
        change.log_files_removed += len(out["log_files_removed"])
        change.version_after = out["version_after"]
        rec.changes.append(
            A.TableChange(
                table,
                change.rows_deleted,
                change.version_before,
                change.version_after,
                len(out["files_removed"]),
                len(out["log_files_removed"]),
            )
        )
    return rec


def check_physical(settings: Settings) -> tuple[bool, str, int]:
    """Every table: no parquet file on disk that its current version does not reference, and no
    commit older than its last checkpoint (so no older version can be loaded)."""
    problems, n = [], 0
    for table, path in sorted(find_tables(settings.warehouse_dir, ALL_LAYERS).items()):
        n += 1
        orphans = set(delta.data_files_on_disk(path)) - set(delta.live_files(path))
        if orphans:
            problems.append(f"{table}: {len(orphans)} unreferenced files")
        logs = delta.log_files(path)
        cps = [int(p.name.split(".")[0]) for p in logs if ".checkpoint." in p.name]
        commits = [
            int(p.name.split(".")[0]) for p in logs if p.suffix == ".json" and p.name[0].isdigit()
        ]
        if cps and commits and min(commits) < min(cps):
            problems.append(f"{table}: commits older than the checkpoint remain")
        if not cps and len(commits) > 1:
            problems.append(f"{table}: log not checkpointed")
    return (
        not problems,
        "; ".join(problems) or f"{n} tables: only live files on disk, log starts at a checkpoint",
        n,
    )


def check_retention(settings: Settings, as_of: date) -> list[str]:
    """Leftovers of the time-based rules (should be none after the purge)."""
    wh, problems = settings.warehouse_dir, []
    cutoff = event_cutoff(as_of, settings.retention.event_years)
    for feed in FEEDS:
        for layer in ("bronze", "silver"):
            table, path = _tables_of(wh, layer, feed)
            lf = delta.scan(path)
            if lf is None:
                continue
            names = lf.collect_schema().names()
            if feed.kind is Kind.EVENT and "event_date" in names:
                n = lf.filter(pl.col("event_date") < cutoff).select(pl.len()).collect().item()
                if n:
                    problems.append(f"{table}: {n} events dated before {cutoff}")
    return problems


def run_purge(
    settings: Settings,
    as_of: date,
    *,
    run_id: str = "",
    lock: bool = True,
    now: datetime | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> PurgeReport:
    """The purge of D: erasures and rules as of D, old events, snapshot history, landing
    batches, then vacuum + log cleanup of every table, verification, ``audit/erasures``."""
    if lock:
        with warehouse_lock(settings.warehouse_dir):
            return run_purge(settings, as_of, run_id=run_id, lock=False, now=now, log=log)
    now = now or datetime.now(UTC)
    report = PurgeReport(as_of)
    report.erasures = apply_erasures(settings, as_of, run_id=run_id, lock=False, now=now, log=log)
    window = card_window.versions(settings.warehouse_dir)  # the erasures kept it in step
    ev = purge_events(settings, as_of, report)
    sn = purge_snapshots(settings, as_of, report)
    la = purge_landing(settings, as_of, report)
    va = vacuum_all(settings, report)
    # Vacuums change no row, and the events deleted are years older than the 90-day window:
    # the card window sums stay valid and the next night carries them forward.
    card_window.follow(
        settings.warehouse_dir,
        window,
        deleted_before=event_cutoff(as_of, settings.retention.event_years),
    )
    ok, detail, n_tables = check_physical(settings)
    leftovers = check_retention(settings, as_of)
    for rec in (ev, sn):
        rec.verified = ok and not leftovers
        rec.verification = (
            f"{rec.rows_deleted} rows deleted; "
            + ("; ".join(leftovers) if leftovers else "no row older than the cut-off")
            + f"; {detail}"
        )
        rec.tables_scanned = n_tables
    va.verified, va.verification, va.tables_scanned = ok, detail, n_tables
    proof = prove_erased_again(settings)
    vr = A.AuditRecord(
        kind="verify",
        affiliate=None,
        as_of_date=as_of,
        outcome=A.PURGED if proof.verified else A.FAILED,
        request_id=RULE_VERIFY,
        verified=proof.verified,
        verification="every suppressed customer re-checked by keyed hash: " + proof.detail(),
        tables_scanned=len(proof.scans),
        files_scanned=proof.files_scanned,
    )
    report.records = [ev, sn, la, va, vr]
    A.append_records(settings.warehouse_dir, report.records, now=now, run_id=run_id)
    # The audit table itself was just written: leave it vacuumed and checkpointed too.
    delta.vacuum_now(settings.warehouse_dir.joinpath(*A.ERASURES))
    log(
        f"purge as of {as_of}: {report.rows_deleted} rows deleted, {report.files_removed} files "
        f"vacuumed, {len(report.landing_removed)} landing batches removed; verified={report.verified}"
    )
    return report


def prove_erased_again(settings: Settings) -> Proof:
    return prove_suppressions(
        settings.warehouse_dir, read_suppressions(settings.warehouse_dir), settings.pseudonym_key
    )
