"""Running the quality checks: verdicts, audit trail, Data Docs and the publication gate."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.quality import gx
from dam_pipelines.lib.quality.checks import (
    Derived,
    RunContext,
    months_and_batches,
    rollup_scope,
)
from dam_pipelines.lib.quality.model import CheckOutcome, GateResult, QualityConfig
from dam_pipelines.lib.quality.rules import (
    TABLE_LEVEL,
    Op,
    Rule,
    RuleResult,
    Severity,
    evaluate_all,
    sample_rows,
)
from dam_pipelines.lib.quality.suites import (
    AUDIT_SPECS,
    FEED_TABLES,
    SILVER_SPECS,
    TABLE_SPECS,
    TableSpec,
    planned_checks,
)
from dam_pipelines.lib.registry import FEEDS, Kind
from dam_pipelines.lib.silver import ROLLUP, rewritten_partitions, silver_key

log = logging.getLogger("dam_pipelines")

AUDIT_QUALITY = ("audit", "quality")
AUDIT_SCHEMA: dict[str, pl.DataType] = {
    "as_of_date": pl.Date(),
    "table": pl.Utf8(),
    "check": pl.Utf8(),
    "severity": pl.Utf8(),
    "passed": pl.Boolean(),
    "offending_rows": pl.Int64(),
    "checked_rows": pl.Int64(),
    "expectation": pl.Utf8(),
    "detail": pl.Utf8(),
    "sample": pl.Utf8(),
    "suite": pl.Utf8(),
    "docs_url": pl.Utf8(),
    "ge_success": pl.Boolean(),
    "sampled": pl.Boolean(),
    "input_versions": pl.Utf8(),
    "phase": pl.Utf8(),
    "run_id": pl.Utf8(),
    "evaluated_at": pl.Datetime("us", "UTC"),
}


# --- evaluation of one frame -------------------------------------------------------------------


def _versions(inputs: dict[str, int | None]) -> str:
    return ",".join(f"{k}@{'' if v is None else v}" for k, v in sorted(inputs.items()))


def _outcomes(
    spec: TableSpec,
    table: str,
    df: pl.DataFrame,
    results: list[RuleResult],
    masks: dict[str, pl.Series],
    sampled: bool,
    versions: str,
    cfg: QualityConfig,
) -> list[CheckOutcome]:
    """Group rule results into one outcome per check (GE's verdict and page come later:
    :func:`_resolve` and the Data Docs build)."""
    by_check: dict[str, list[RuleResult]] = {}
    for r in results:
        by_check.setdefault(r.rule.check, []).append(r)
    out = []
    for check, rs in by_check.items():
        failing = [r for r in rs if not r.passed]
        severity = (
            Severity.ERROR if any(r.rule.severity is Severity.ERROR for r in rs) else Severity.WARN
        )
        union = pl.Series("m", [False] * df.height, dtype=pl.Boolean)
        shown: list[str] = list(spec.context)
        table_level = 0
        for r in failing:
            if r.rule.op in TABLE_LEVEL:
                table_level += r.offending
            elif r.rule.label in masks:
                union = union | masks[r.rule.label]
                shown += [*r.rule.show, *r.rule.inputs]
        offending = int(union.sum() or 0) + table_level
        if failing:
            expectation = "; ".join(f"{r.rule.label}: {r.detail}".rstrip(": ") for r in failing)
        else:
            expectation = f"{len(rs)} expectation{'s' * (len(rs) != 1)} met"
        out.append(
            CheckOutcome(
                table=table,
                check=check,
                severity=severity,
                passed=not failing,
                offending_rows=offending,
                checked_rows=df.height,
                expectation=expectation,
                detail="; ".join(r.rule.description for r in failing),
                sample=sample_rows(df, union, shown, spec.identifiers, cfg.sample_size),
                suite=spec.suite_name,
                sampled=sampled,
                input_versions=versions,
            )
        )
    return out


def _ge_submit(
    spec: TableSpec,
    df: pl.DataFrame,
    rules: list[Rule],
    ctx: RunContext,
    session: gx.GxSession,
    run_time: datetime,
    masks: dict[str, pl.Series] | None = None,
) -> Future:
    """Validate the pseudonymized frame in GE (for the Data Docs) on the session's worker.

    The frame (at most ``ge_max_rows`` rows) is cut here, so the worker never holds the
    whole table: it is freed while GE runs (night 90: a 14 M-row rollup month had stayed
    resident next to the following tables' checks)."""
    frame, sampled = gx.pseudonymized_frame(spec, df, rules, ctx.config.ge_max_rows, masks)
    return session.submit(_ge_validate, spec, frame, sampled, rules, ctx, session, run_time)


def _ge_validate(
    spec: TableSpec,
    frame: pl.DataFrame,
    sampled: bool,
    rules: list[Rule],
    ctx: RunContext,
    session: gx.GxSession,
    run_time: datetime,
) -> tuple[gx.Validation, bool]:
    validation = session.validate(
        spec.suite_name,
        rules,
        gx.to_pandas(frame),
        sampled=sampled,
        as_of=ctx.as_of,
        run_time=run_time,
    )
    return validation, sampled


@dataclass
class _Deferred:
    """A GE validation running on the session's worker while polars goes on with the next
    table; its verdicts are filled into the outcomes once it is done."""

    future: Future
    table: str
    labels: dict[str, list[str]]  # check -> rule labels
    sampled: bool


def _judge(
    spec: TableSpec,
    table: str,
    df: pl.DataFrame,
    rules: list[Rule],
    ctx: RunContext,
    session: gx.GxSession | None,
    inputs: dict[str, int | None],
    run_time: datetime,
    deferred: list[_Deferred] | None = None,
) -> list[CheckOutcome]:
    masks: dict[str, pl.Series] = {}
    results = evaluate_all(rules, df, masks)
    versions = _versions(inputs)
    if session is None:
        return _outcomes(spec, table, df, results, masks, False, versions, ctx.config)
    if deferred is None:
        raise ValueError("a GE session needs a list for its deferred validations")
    # GE runs on the session's worker while polars goes on; verdicts come in with _resolve.
    future = _ge_submit(spec, df, rules, ctx, session, run_time, masks)
    labels: dict[str, list[str]] = {}
    for r in results:
        labels.setdefault(r.rule.check, []).append(r.rule.label)
    sampled = df.height > ctx.config.ge_max_rows
    deferred.append(_Deferred(future, table, labels, sampled))
    return _outcomes(spec, table, df, results, masks, sampled, versions, ctx.config)


def _warn_disagreements(outcomes: Sequence[CheckOutcome], sampled: bool) -> None:
    for o in outcomes:
        if o.ge_success is not None and o.ge_success != o.passed and not sampled:
            log.warning("quality: GE and polars disagree on %s %s", o.table, o.check)


def _resolve(outcomes: list[CheckOutcome], deferred: list[_Deferred]) -> list[CheckOutcome]:
    """Wait for the deferred GE validations and fill in their verdicts."""
    verdicts: dict[tuple[str, str], bool] = {}
    for item in deferred:
        validation, _ = item.future.result()
        for check, labels in item.labels.items():
            found = [
                validation.success_by_rule[x] for x in labels if x in validation.success_by_rule
            ]
            if found:
                verdicts[(item.table, check)] = all(found)
    out = [
        replace(o, ge_success=verdicts[(o.table, o.check)])
        if (o.table, o.check) in verdicts and o.ge_success is None
        else o
        for o in outcomes
    ]
    for item in deferred:
        _warn_disagreements([o for o in out if o.table == item.table], item.sampled)
    return out


def _derive(
    spec: TableSpec, df: pl.DataFrame, ctx: RunContext, scope: list[str] | None = None
) -> Derived:
    d = Derived(df, scope=scope)
    for fn in spec.derive:
        d = fn(d, ctx)
    return d


def _missing_table(table: str, inputs: dict[str, int | None]) -> list[CheckOutcome]:
    # A table that was never written (a feed never delivered) warns; nothing else to check.
    out = []
    for pc in planned_checks(table):
        if pc.name in ("batch_row_reconciliation", "volume_anomaly", "freshness"):
            continue
        missing = pc.name == "schema"
        out.append(
            CheckOutcome(
                table=table,
                check=pc.name,
                severity=Severity.WARN if missing else pc.severity,
                passed=not missing,
                offending_rows=0,
                checked_rows=0,
                expectation="table not found" if missing else "nothing to check",
                detail=f"{table} does not exist in the warehouse" if missing else "",
                suite=table.replace("/", "."),
                input_versions=_versions(inputs),
            )
        )
    return out


def validate_table(
    table: str,
    df: pl.DataFrame | None,
    ctx: RunContext,
    session: gx.GxSession | None = None,
    *,
    version: int | None = None,
    run_time: datetime | None = None,
    scope: list[str] | None = None,
    deferred: list[_Deferred] | None = None,
) -> list[CheckOutcome]:
    """All checks of ``table`` on ``df``: the whole table as of D, or, with ``scope``, the
    partitions listed (event dates or months, see :func:`check_scope`). With ``deferred``,
    GE validates in the background (verdicts filled in by :func:`_resolve`)."""
    spec = TABLE_SPECS[table]
    inputs: dict[str, int | None] = {table: version}
    if df is None:
        return _missing_table(table, inputs)
    d = _derive(spec, df, ctx, scope)
    inputs.update(d.inputs)
    rules = spec.rules(ctx.as_of, ctx.config) + d.rules
    return _judge(
        spec, table, d.df, rules, ctx, session, inputs, run_time or datetime.now(UTC), deferred
    )


def validate_frame(
    table_key: str,
    df: pl.DataFrame,
    *,
    as_of: date,
    warehouse: Path | None = None,
    config: QualityConfig | None = None,
) -> list[CheckOutcome]:
    """Validate a frame before it is published (write-audit-publish), without side effects.

    ``warehouse`` gives the cross-table checks (reconciliation with silver, referential
    shares) their inputs; without it those checks are not evaluated. Nothing is written:
    record the outcomes with :func:`write_audit` if wanted (:func:`~.wap.publish` does).
    """
    ctx = RunContext(warehouse, as_of, config or QualityConfig())
    return validate_table(table_key, df, ctx)


def _audit_outcomes(
    spec: TableSpec,
    tables: Sequence[str],
    ctx: RunContext,
    session: gx.GxSession | None,
    run_time: datetime,
) -> list[CheckOutcome]:
    """Ingestion checks over an audit frame, one outcome per check and silver table."""
    assert spec.source is not None
    frame, inputs = spec.source(ctx)
    rules = spec.rules(ctx.as_of, ctx.config)
    if frame is None:  # no ledger yet: nothing loaded, nothing to reconcile
        frame = pl.DataFrame(
            schema={
                "_dq_table": pl.Utf8,
                **{r.column: pl.Boolean if r.op is Op.TRUE else pl.Int64 for r in rules},
            }
        )
    assert isinstance(frame, pl.DataFrame)
    frame = frame.filter(pl.col("_dq_table").is_in(list(tables)))
    # GE validates the frame of all the tables' feeds once (for the Data Docs); its verdict is
    # not any one table's, so nothing waits for it.
    if session is not None:
        _ge_submit(spec, frame, rules, ctx, session, run_time)
    out = []
    for table in tables:
        part = frame.filter(pl.col("_dq_table") == table)
        masks: dict[str, pl.Series] = {}
        results = evaluate_all(rules, part, masks)
        for o in _outcomes(spec, table, part, results, masks, False, _versions(inputs), ctx.config):
            detail = spec.describe(o.check, part) if spec.describe and not o.passed else ""
            out.append(replace(o, detail=detail or o.detail))
    return out


# --- a night's run -------------------------------------------------------------------------

_EVENT_TABLES = {silver_key(f) for f in FEEDS if f.kind is Kind.EVENT}


def check_scope(warehouse: Path, table: str, as_of: date, cfg: QualityConfig) -> list[str] | None:
    """The partitions of ``table`` a night's checks read, or ``None`` for the whole table.

    Event tables (partitioned by event date) only change where silver rewrote them, so a
    night checks the event dates silver rewrote for D plus the last ``event_check_days``
    days; partitions checked on earlier nights are not read again. The monthly rollup
    changes by whole months (``YYYY-MM``, when silver recomputed them) or by the rows of the
    batches a night appended (``YYYY-MM-DD``, a business date, in whichever month): it is
    checked over what silver rewrote plus the rows of the last ``event_check_days`` batches.
    Unknown (no build state for D) or after a full rebuild: the whole table. Every other
    table is checked whole.
    """
    if table not in _EVENT_TABLES and table != ROLLUP:
        return None
    rewritten = rewritten_partitions(warehouse, table, as_of)
    if rewritten is None:
        return None
    recent = [(as_of - timedelta(days=i)).isoformat() for i in range(cfg.event_check_days)]
    return sorted({*rewritten, *recent})


def scope_frame(path: Path, table: str, scope: list[str]) -> pl.LazyFrame | None:
    """The rows of ``table`` a scope covers (see :func:`check_scope`)."""
    if table != ROLLUP:
        return delta.scan_partitions(path, "event_date", scope)
    return months_and_batches(path, "month", pl.col("month"), *rollup_scope(scope))


def _read(path: Path, table: str, scope: list[str] | None) -> pl.DataFrame | None:
    if scope is None:
        return delta.read(path)
    lf = scope_frame(path, table, scope)
    return None if lf is None else lf.collect()


def _targets(tables: Iterable[str] | None) -> list[str]:
    if tables is None:
        return list(TABLE_SPECS)
    unknown = [t for t in tables if t not in TABLE_SPECS]
    if unknown:
        raise KeyError(f"no quality suite for {unknown}; known: {sorted(TABLE_SPECS)}")
    return list(dict.fromkeys(tables))


def run_quality(
    warehouse: Path,
    as_of: date,
    tables: list[str] | None = None,
    *,
    config: QualityConfig | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
    docs: bool = True,
    record: bool = True,
) -> list[CheckOutcome]:
    """Run every check of ``tables`` (default: all silver and gold tables) as of ``as_of``.

    Builds the Great Expectations Data Docs into ``<warehouse>/docs/quality/`` and appends the
    outcomes to ``<warehouse>/audit/quality``. ``now`` stamps the audit rows (default: the
    clock; it is not used by any check).
    """
    ctx = RunContext(warehouse, as_of, config or QualityConfig())
    run_time = now or datetime.now(UTC)
    session = gx.GxSession(gx.docs_dir(warehouse)) if docs else None
    try:
        outcomes: list[CheckOutcome] = []
        deferred: list[_Deferred] = []
        targets = _targets(tables)
        for table in targets:
            path = warehouse / table
            scope = check_scope(warehouse, table, as_of, ctx.config)
            outcomes += validate_table(
                table,
                _read(path, table, scope),
                ctx,
                session,
                version=delta.version(path),
                run_time=run_time,
                scope=scope,
                deferred=deferred,
            )
        feed_tables = [t for t in targets if t in FEED_TABLES]
        if feed_tables:
            for spec in AUDIT_SPECS:
                outcomes += _audit_outcomes(spec, feed_tables, ctx, session, run_time)
        if session is not None:
            session.wait()
            outcomes = _resolve(outcomes, deferred)
        if session is not None and session.validations:
            session.prune(as_of)
            session.build_docs()
            urls = {v.suite: v.url for v in session.validations}
            outcomes = [replace(o, docs_url=urls.get(o.suite)) for o in outcomes]
    finally:
        if session is not None:
            session.close()
    if record:
        write_audit(warehouse, as_of, outcomes, run_id=run_id, now=run_time)
    for o in outcomes:
        if not o.passed:
            log.warning("quality: %s", o.message())
    return outcomes


# --- audit/quality ------------------------------------------------------------------------------


def audit_frame(
    as_of: date, outcomes: Sequence[CheckOutcome], *, run_id: str | None, now: datetime
) -> pl.DataFrame:
    rows = [
        {
            "as_of_date": as_of,
            "table": o.table,
            "check": o.check,
            "severity": o.severity.value,
            "passed": o.passed,
            "offending_rows": o.offending_rows,
            "checked_rows": o.checked_rows,
            "expectation": o.expectation,
            "detail": o.detail,
            "sample": o.sample_json(),
            "suite": o.suite,
            "docs_url": o.docs_url,
            "ge_success": o.ge_success,
            "sampled": o.sampled,
            "input_versions": o.input_versions,
            "phase": o.phase,
            "run_id": run_id,
            "evaluated_at": now,
        }
        for o in outcomes
    ]
    return pl.DataFrame(rows, schema=AUDIT_SCHEMA, orient="row")


def write_audit(
    warehouse: Path,
    as_of: date,
    outcomes: Sequence[CheckOutcome],
    *,
    run_id: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Append ``outcomes`` to ``audit/quality`` (one row per check, never an identifier)."""
    if not outcomes:
        return delta.version(warehouse.joinpath(*AUDIT_QUALITY))
    df = audit_frame(as_of, outcomes, run_id=run_id, now=now or datetime.now(UTC))
    return delta.append(warehouse.joinpath(*AUDIT_QUALITY), df)


def read_audit(warehouse: Path, as_of: date | None = None) -> pl.DataFrame:
    """``audit/quality`` (optionally one business date), empty with its schema if absent."""
    flt = pl.col("as_of_date") == as_of if as_of else None
    df = delta.read(warehouse.joinpath(*AUDIT_QUALITY), flt)
    return df if df is not None else pl.DataFrame(schema=AUDIT_SCHEMA)


# --- the gate -----------------------------------------------------------------------------------


def _current(warehouse: Path, versions: str) -> bool:
    for item in filter(None, versions.split(",")):
        key, _, v = item.rpartition("@")
        now = delta.version(warehouse / key)
        if ("" if now is None else str(now)) != v:
            return False
    return True


def _reusable(warehouse: Path, as_of: date, tables: list[str]) -> list[CheckOutcome] | None:
    """Tonight's recorded outcomes of ``tables`` if every input is unchanged since."""
    df = read_audit(warehouse, as_of).filter(
        pl.col("table").is_in(tables) & (pl.col("phase") == "published")
    )
    if df.is_empty():
        return None
    latest = df.sort("evaluated_at").group_by("table", "check").last()
    expected = {(t, pc.name) for t in tables for pc in planned_checks(t)}
    if not expected <= {(r["table"], r["check"]) for r in latest.iter_rows(named=True)}:
        return None
    rows = [r for r in latest.iter_rows(named=True) if (r["table"], r["check"]) in expected]
    if not all(_current(warehouse, r["input_versions"] or "") for r in rows):
        return None
    return [
        CheckOutcome(
            table=r["table"],
            check=r["check"],
            severity=Severity(r["severity"]),
            passed=r["passed"],
            offending_rows=r["offending_rows"],
            checked_rows=r["checked_rows"],
            expectation=r["expectation"],
            detail=r["detail"] or "",
            docs_url=r["docs_url"],
            sample=json.loads(r["sample"] or "[]"),
            suite=r["suite"],
            ge_success=r["ge_success"],
            sampled=r["sampled"],
            input_versions=r["input_versions"],
        )
        for r in rows
    ]


def quality_gate(
    warehouse: Path,
    as_of: date,
    *,
    config: QualityConfig | None = None,
    reuse: bool = True,
    run_id: str | None = None,
    docs: bool = True,
) -> GateResult:
    """May gold be published for ``as_of``? Only if no blocking (ERROR) silver check fails.

    Reuses tonight's recorded outcomes when no silver table (or audit/batches) changed since
    they were computed; otherwise runs the silver checks (recording them and the Data Docs).
    """
    tables = list(SILVER_SPECS)
    outcomes = _reusable(warehouse, as_of, tables) if reuse else None
    if outcomes is None:
        outcomes = run_quality(warehouse, as_of, tables, config=config, run_id=run_id, docs=docs)
    failures = [o.message() for o in outcomes if o.blocking_failure]
    return GateResult(passed=not failures, failures=failures, outcomes=outcomes)
