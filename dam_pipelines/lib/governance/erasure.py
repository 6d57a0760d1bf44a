"""Erasure on request and the closed-relationship rule (contract §5), applied in the night D.

For every subject (affiliate A, customer C, date R) the rows of C in every table of A from
batches dated on or before R are deleted through a MERGE against an in-memory purge list
(never a DELETE with the number as a literal), the touched tables are vacuumed and their logs
cleaned, a scan proves nothing is left, the subject's keyed hash goes to the suppression list
and an ``audit/erasures`` record is written. Gold is rebuilt by the caller afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from dam_pipelines.lib import card_window, delta, trend_cells
from dam_pipelines.lib.governance import audit as A
from dam_pipelines.lib.governance.proof import LINEAGE_COLUMNS, Proof, prove_erased, subject_tables
from dam_pipelines.lib.governance.rules import Subject, closed_relationship_expired, subject_hash
from dam_pipelines.lib.governance.suppression import record_suppressions
from dam_pipelines.lib.lock import warehouse_lock
from dam_pipelines.lib.registry import AFFILIATES
from dam_pipelines.lib.silver import WINDOW_SPEND
from dam_pipelines.settings import Settings

REQUEST, CLOSED = "request", "closed_relationship"
RULE_CLOSED = "retention:closed-relationship-5y"


@dataclass
class ErasureReport:
    as_of: date
    subjects: int = 0
    no_customer: int = 0
    records: list[A.AuditRecord] = field(default_factory=list)
    changes: dict[str, A.TableChange] = field(default_factory=dict)
    #: gcids whose profile must be rebuilt. In memory only: never log or store them.
    affected_gcids: set[str] = field(default_factory=set, repr=False)
    proof: Proof | None = None

    @property
    def verified(self) -> bool:
        return all(r.verified for r in self.records)

    @property
    def rows_deleted(self) -> int:
        return sum(c.rows_deleted for c in self.changes.values())

    @property
    def tables_touched(self) -> list[str]:
        return sorted(t for t, c in self.changes.items() if c.rows_deleted)


def affected_gcids(report: ErasureReport) -> set[str]:
    """The gcids whose unified profile changes with this night's erasures (rebuild gold)."""
    return set(report.affected_gcids)


def _bronze(warehouse: Path, affiliate: str, feed: str, as_of: date) -> pl.LazyFrame | None:
    lf = delta.scan(warehouse / "bronze" / affiliate / feed)
    if lf is None:
        return None
    return lf.filter(pl.col("business_date") <= as_of.isoformat())


def pending_requests(warehouse: Path, affiliate: str, as_of: date) -> pl.DataFrame:
    """Erasure request rows in bronze dated on or before D: request_id, customer_no, R."""
    lf = _bronze(warehouse, affiliate, "erasure_requests", as_of)
    schema = {"request_id": pl.Utf8, "customer_no": pl.Utf8, "business_date": pl.Utf8}
    if lf is None:
        return pl.DataFrame(schema=schema)
    return lf.select(list(schema)).filter(pl.col("customer_no").is_not_null()).collect()


def customer_state(warehouse: Path, affiliate: str, as_of: date) -> pl.DataFrame:
    """Each customer's latest customers record as of D (later business_date, then revision)."""
    lf = _bronze(warehouse, affiliate, "customers", as_of)
    if lf is None:
        return pl.DataFrame(
            schema={
                "customer_no": pl.Utf8,
                "gcid": pl.Utf8,
                "status": pl.Utf8,
                "closed_on": pl.Date,
                "business_date": pl.Utf8,
            }
        )
    return (
        lf.select("customer_no", "gcid", "status", "closed_on", "business_date", "_revision")
        .sort(["business_date", "_revision"], descending=True)
        .unique("customer_no", keep="first")
        .drop("_revision")
        .collect()
    )


def find_subjects(settings: Settings, as_of: date) -> tuple[list[Subject], list[A.AuditRecord]]:
    """Subjects to erase tonight, and audit records of requests for unknown customers."""
    wh, key = settings.warehouse_dir, settings.pseudonym_key
    years = settings.retention.closed_relationship_years
    subjects: list[Subject] = []
    unknown: list[A.AuditRecord] = []
    logged = A.read_records(wh).filter(pl.col("outcome") == A.NO_CUSTOMER)
    seen = set(zip(logged["affiliate"].to_list(), logged["request_id"].to_list(), strict=True))
    for aff in AFFILIATES:
        found: dict[str, dict] = {}
        requests = pending_requests(wh, aff, as_of)
        customers_lf = _bronze(wh, aff, "customers", as_of)
        known = (
            customers_lf.select("customer_no", "business_date").collect()
            if customers_lf is not None
            else pl.DataFrame(schema={"customer_no": pl.Utf8, "business_date": pl.Utf8})
        )
        first_seen = known.group_by("customer_no").agg(pl.col("business_date").min().alias("first"))
        first = dict(
            zip(first_seen["customer_no"].to_list(), first_seen["first"].to_list(), strict=True)
        )
        for r in requests.iter_rows(named=True):
            c, rdate = r["customer_no"], r["business_date"]
            if c not in first or first[c] > rdate:
                # Contract §5: no customers record dated on or before R -> logged, no change.
                rid = _safe_request_id(r["request_id"], c)
                if (aff, rid) not in seen:
                    seen.add((aff, rid))
                    unknown.append(
                        A.AuditRecord(
                            kind=REQUEST,
                            affiliate=aff,
                            as_of_date=as_of,
                            outcome=A.NO_CUSTOMER,
                            request_id=rid,
                            subject_hash=subject_hash(key, aff, c),
                            effective_date=date.fromisoformat(rdate),
                            verified=True,
                            verification="no customers record of this affiliate dated on or before "
                            "the request's business date: nothing erased",
                        )
                    )
                continue
            s = found.setdefault(c, {"until": rdate, "origin": REQUEST, "ids": []})
            s["until"] = max(s["until"], rdate)
            s["ids"].append(_safe_request_id(r["request_id"], c))
        state = customer_state(wh, aff, as_of)
        for row in state.filter(pl.col("status") == "CLOSED").iter_rows(named=True):
            if closed_relationship_expired(row["closed_on"], as_of, years):
                s = found.setdefault(
                    row["customer_no"], {"until": as_of.isoformat(), "origin": CLOSED, "ids": []}
                )
                s["until"] = as_of.isoformat()  # "as if requested on D": D >= any pending R
                if s["origin"] == REQUEST:
                    s["origin"] = f"{REQUEST}+{CLOSED}"
        for c, s in sorted(found.items()):
            subjects.append(
                Subject(
                    aff,
                    c,
                    date.fromisoformat(s["until"]),
                    subject_hash(key, aff, c),
                    s["origin"],
                    tuple(sorted(set(s["ids"]))),
                )
            )
    return subjects, unknown


def _safe_request_id(request_id: str | None, customer_no: str) -> str | None:
    """The request id, unless it spells out the customer number (then a placeholder)."""
    if request_id is None or customer_no not in request_id:
        return request_id
    return "<withheld: contains the customer number>"


def _purge_list(subjects: list[Subject], lineage_type: pl.DataType | None) -> pl.DataFrame:
    df = pl.DataFrame(
        {
            "affiliate": [s.affiliate for s in subjects],
            "customer_no": [s.customer_no for s in subjects],
            "_until": [s.until for s in subjects],
        },
        schema={"affiliate": pl.Utf8, "customer_no": pl.Utf8, "_until": pl.Date},
    )
    if lineage_type is not None and lineage_type != pl.Date:
        df = df.with_columns(pl.col("_until").cast(pl.Utf8))
    return df


#: The bronze feeds :func:`find_subjects` reads: erased last (see :func:`erase`).
SUBJECT_SOURCES = ("erasure_requests", "customers")


def delete_subject_rows(
    path: Path, table: str, subjects: list[Subject], *, by_affiliate: bool = False
) -> tuple[int, dict[str, int]]:
    """Delete the subjects' rows (from batches <= their date) from one table.

    Returns the rows deleted and the count per subject hash. No commit when nothing matches.
    """
    lf = delta.scan(path)
    if lf is None:
        return 0, {}
    schema = lf.collect_schema()
    if "customer_no" not in schema:
        return 0, {}
    lineage = next((c for c in LINEAGE_COLUMNS if c in schema), None)
    src = _purge_list(subjects, schema[lineage] if lineage else None)
    on = ["customer_no", "affiliate"] if by_affiliate else ["customer_no"]
    joined = lf.join(src.lazy(), on=on, how="inner")
    if lineage:
        joined = joined.filter(pl.col(lineage) <= pl.col("_until"))
    parts = [c for c in delta.partition_columns(path) if c in schema]
    # Streaming: the in-memory engine held the whole table's key column (6 GiB at 1 M
    # customers x 90 daily snapshots) to find a few rows.
    found = joined.select("customer_no", *parts).collect(engine="streaming")
    if found.height == 0:
        return 0, {}
    counts = found.group_by("customer_no").agg(pl.len().alias("n"))
    hashes = {s.customer_no: s.hash for s in subjects}
    per = {hashes[c]: n for c, n in counts.iter_rows()}
    cond = " AND ".join(f"t.{c} = s.{c}" for c in on)
    if lineage:
        cond += f" AND t.{lineage} <= s._until"
    for col in parts:
        # The partitions holding the rows, as literals (dates, never identifiers): the MERGE
        # then reads and rewrites those partitions only, not the whole table.
        values = sorted({str(v) for v in found[col].to_list() if v is not None})
        if len(values) == found[col].n_unique():
            cond += f" AND t.{col} IN ({', '.join(repr(v) for v in values)})"
    metrics = delta.merge_delete(path, src if by_affiliate else src.drop("affiliate"), cond)
    deleted = int(metrics.get("num_target_rows_deleted", 0))
    if deleted != sum(per.values()):
        raise RuntimeError(f"{table}: merge deleted {deleted} rows, expected {sum(per.values())}")
    return deleted, per


def _forget_in_trends(
    warehouse: Path, subjects: list[Subject]
) -> tuple[int, dict[str, int]] | None:
    """The subjects' rows of the trends' people table deleted by :func:`trend_cells.forget`,
    which takes them out of the cached trend cells first (a carried month would otherwise keep
    counting a customer the erasure made unknown). None without a cache: the table is then
    erased like any other."""
    kept = trend_cells.forget(warehouse, {s.customer_no: s.until for s in subjects})
    if kept is None:
        return None
    hashes = {s.customer_no: s.hash for s in subjects}
    return sum(kept.values()), {hashes[c]: n for c, n in kept.items()}


#: Tables whose subjects' rows are deleted by their own function, because something kept
#: beside them must change with them: it returns the rows deleted and the count per subject
#: hash, or None to leave the table to :func:`delete_subject_rows`.
OWN_DELETE: dict[str, Callable[[Path, list[Subject]], tuple[int, dict[str, int]] | None]] = {
    trend_cells.PEOPLE: _forget_in_trends,
}


#: Silver tables derived from the card transactions without batch lineage per row: an erasure
#: deletes every row of its subjects from them, after every other table, then re-derives the
#: subjects' rows from the erased transactions (their later batches only). The monthly rollup
#: is not one: it carries its batch lineage (``business_date``) and is erased by batch, as the
#: transactions are.
DERIVED: dict[str, Callable[[Path, list[str]], int]] = {
    WINDOW_SPEND: card_window.restore_subject_rows,
}


def scrub(path: Path, change: A.TableChange) -> A.TableChange:
    """Vacuum (0 h, for real) and clean the log of one table; record what went."""
    out = delta.vacuum_now(path)
    change.files_removed += len(out["files_removed"])
    change.log_files_removed += len(out["log_files_removed"])
    change.version_after = out["version_after"]
    return change


def erase(
    settings: Settings,
    subjects: list[Subject],
    *,
    as_of: date,
    report: ErasureReport,
    now: datetime,
    log: Callable[[str], None] = lambda _m: None,
) -> None:
    """Delete, vacuum, prove, suppress: the core of an erasure for a list of subjects."""
    wh = settings.warehouse_dir
    by_aff: dict[str, list[Subject]] = {}
    for s in subjects:
        by_aff.setdefault(s.affiliate, []).append(s)
    per_subject: dict[str, dict[str, int]] = {s.hash: {} for s in subjects}
    before: dict[str, set[str]] = {}

    def delete_from(aff: str, table: str, path: Path, subs: list[Subject]) -> None:
        before.setdefault(table, set(delta.live_files(path)))
        if table == "bronze/" + aff + "/customers":
            gc = delta.read(path, pl.col("customer_no").is_in([s.customer_no for s in subs]))
            if gc is not None and "gcid" in gc.columns:
                report.affected_gcids.update(v for v in gc["gcid"].to_list() if v)
        change = report.changes.setdefault(
            table, A.TableChange(table, version_before=delta.version(path))
        )
        own = OWN_DELETE[table](wh, subs) if table in OWN_DELETE else None
        n, per = (
            own
            if own is not None
            else delete_subject_rows(path, table, subs, by_affiliate=table == "audit/quarantine")
        )
        if n and table in DERIVED:
            DERIVED[table](wh, [s.customer_no for s in subs])
        change.rows_deleted += n
        for h, k in per.items():
            per_subject[h][table] = k
        if n:
            log(f"{table}: deleted {n} rows of {len({*per})} erased customers")

    # Crash safety: the tables that make a subject a subject (the requests and the customers
    # records find_subjects reads) go last, after the suppressions are recorded. A run that
    # dies before then finds the same subjects again and finishes the job (deleting is
    # idempotent); one that dies after has left nothing to find, and the suppressions keep a
    # replay from bringing anything back.
    sources = {f"bronze/{aff}/{feed}" for aff in by_aff for feed in SUBJECT_SOURCES}
    tables = {aff: subject_tables(wh, aff) for aff in by_aff}
    window_before = card_window.versions(wh)
    for aff, subs in sorted(by_aff.items()):
        for table, path in sorted(tables[aff].items(), key=lambda kv: (kv[0] in DERIVED, kv[0])):
            if table not in sources:
                delete_from(aff, table, path, subs)
    record_suppressions(wh, subjects, now=now)
    for aff, subs in sorted(by_aff.items()):
        for table, path in sorted(tables[aff].items()):
            if table in sources:
                delete_from(aff, table, path, subs)
    # Every table of the affiliate is vacuumed, not only those rows were deleted from now:
    # an earlier version of an untouched table (yesterday's snapshot) may still hold the subject.
    for table, change in sorted(report.changes.items()):
        scrub(wh.joinpath(*table.split("/")), change)
    card_window.follow(wh, window_before)
    # Targeted proof (the purge re-proves every erasure thoroughly, docs/governance.md): the
    # key column of every live file, every text column of the files this erasure wrote.
    written = {
        t: set(delta.live_files(wh.joinpath(*t.split("/")))) - files for t, files in before.items()
    }
    proof = prove_erased(wh, subjects, written=written)
    report.proof = proof
    # ``tables`` was walked once per affiliate, not per subject: the walk costs a directory scan
    # of the whole warehouse and dominated a 1,000-customer erasure (docs/performance.md).
    for s in subjects:
        mine = [sc for sc in proof.scans if sc.table in tables[s.affiliate]]
        sub_proof = Proof(mine)
        changes = [
            A.TableChange(
                t,
                n,
                report.changes[t].version_before,
                report.changes[t].version_after,
                report.changes[t].files_removed,
                report.changes[t].log_files_removed,
            )
            for t in sorted(tables[s.affiliate])
            if t in report.changes
            for n in [per_subject[s.hash].get(t, 0)]
        ]
        report.records.append(
            A.AuditRecord(
                kind=s.origin,
                affiliate=s.affiliate,
                as_of_date=as_of,
                outcome=A.ERASED if sub_proof.verified else A.FAILED,
                request_id=",".join(s.request_ids) or (RULE_CLOSED if CLOSED in s.origin else None),
                subject_hash=s.hash,
                effective_date=s.until,
                changes=changes,
                verified=sub_proof.verified,
                verification=sub_proof.detail(),
                tables_scanned=len(mine),
                files_scanned=sub_proof.files_scanned,
            )
        )


def apply_erasures(
    settings: Settings,
    as_of: date,
    *,
    run_id: str = "",
    lock: bool = True,
    now: datetime | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> ErasureReport:
    """Apply every erasure effective in the night ``as_of`` (requests and the 5-year rule).

    Idempotent: erased rows are gone, so a second call finds no subject. Takes the warehouse
    lock unless ``lock=False`` (the caller already holds it).
    """
    if lock:
        with warehouse_lock(settings.warehouse_dir):
            return apply_erasures(settings, as_of, run_id=run_id, lock=False, now=now, log=log)
    now = now or datetime.now(UTC)
    report = ErasureReport(as_of)
    subjects, unknown = find_subjects(settings, as_of)
    report.subjects, report.no_customer = len(subjects), len(unknown)
    report.records.extend(unknown)
    if subjects:
        erase(settings, subjects, as_of=as_of, report=report, now=now, log=log)
    A.append_records(settings.warehouse_dir, report.records, now=now, run_id=run_id)
    log(
        f"erasures as of {as_of}: {len(subjects)} customers erased, {report.rows_deleted} rows "
        f"deleted, {len(unknown)} requests for unknown customers; verified={report.verified}"
    )
    return report


def erased_on(warehouse: Path, as_of: date) -> int:
    """How many customers the night ``as_of`` erased (audit records, any verification)."""
    df = A.read_records(warehouse)
    return df.filter(
        (pl.col("as_of_date") == as_of) & pl.col("outcome").is_in([A.ERASED, A.FAILED])
    ).height


def unbacked_profiles(warehouse: Path, as_of: date) -> int:
    """gcids in ``gold/customer_profile`` with no customers record left in any affiliate's
    bronze dated on or before D: after an erasure and the gold rebuild this must be 0."""
    profile = delta.scan(warehouse / "gold" / "customer_profile")
    if profile is None:
        return 0
    known = [
        lf.filter(pl.col("business_date") <= as_of.isoformat()).select("gcid")
        for aff in AFFILIATES
        if (lf := delta.scan(warehouse / "bronze" / aff / "customers")) is not None
    ]
    if not known:
        return int(profile.select(pl.len()).collect().item())
    return int(
        profile.select("gcid")
        .join(pl.concat(known).unique(), on="gcid", how="anti")
        .select(pl.len())
        .collect()
        .item()
    )


def scrub_gold(settings: Settings, as_of: date, *, lock: bool = True) -> dict[str, dict]:
    """After gold was rebuilt without the night's erased customers, physically remove the
    earlier gold versions that still held them (vacuum 0 h + log cleanup). No-op on nights
    without an erasure. Returns the vacuum outcome per table."""
    if lock:
        with warehouse_lock(settings.warehouse_dir):
            return scrub_gold(settings, as_of, lock=False)
    if not erased_on(settings.warehouse_dir, as_of):
        return {}
    from dam_pipelines.lib.tables import find_tables

    return {
        k: delta.vacuum_now(p)
        for k, p in sorted(find_tables(settings.warehouse_dir, ("gold",)).items())
    }
