"""Great Expectations 1.x: suites compiled from the rules, pseudonymized frames, Data Docs.

The context is ephemeral (nothing is read from or written to the working directory, no
``gx/`` folder, no usage statistics): suites, validation definitions and checkpoints live in
memory; validation results go to a filesystem store and the Data Docs site to
``<warehouse>/docs/quality/`` so that the index lists the recent nights.

What GE sees never contains an identifier: every identifier column is replaced by the row
position (nullness kept, for not-null expectations), a key is checked through ``_dq_key`` (the
position of the key's first occurrence, so its unexpected values are row positions too), and
the result format shows at most a few unexpected values of the remaining columns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from dam_pipelines.lib.quality.rules import Op, Rule, Severity, violation

if TYPE_CHECKING:
    import pandas as pd

    from dam_pipelines.lib.quality.suites import TableSpec

log = logging.getLogger("dam_pipelines")

SITE = "dam_quality"
RESULTS_DIR = "_results"  # GE validation results store, inside the docs folder
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
DOCS_KEEP_DAYS = 31  # nights of results and pages kept in the docs folder (bounded growth)
INDEX_LIMIT = 200  # validation results listed on the index page (about a week of nights)
ROW = "_dq_row"
KEY = "_dq_key"


def docs_dir(warehouse: Path) -> Path:
    return warehouse / "docs" / "quality"


# --- frames -----------------------------------------------------------------------------------


def pseudonymized_frame(
    spec: TableSpec,
    df: pl.DataFrame,
    rules: list[Rule],
    max_rows: int,
    masks: dict[str, pl.Series] | None = None,
) -> tuple[pl.DataFrame, bool]:
    """The frame GE validates: identifiers replaced by row positions; sampled when large.

    Large tables: every row that breaks a row-level rule (up to half of ``max_rows``) plus a
    deterministic systematic sample of the rest. Share rules (``mostly``) are not enriched, so
    their GE share stays an unbiased estimate; polars has the exact numbers. ``masks`` (rule
    label -> violation mask, as :func:`~.rules.evaluate_all` leaves them) spares recomputing
    the violations.
    """
    df = df.with_row_index(ROW)
    keys = [r for r in rules if r.op is Op.KEY and set(r.columns) <= set(df.columns)]
    sampled = df.height > max_rows
    if sampled:
        hard = [
            r
            for r in rules
            if r.op not in (Op.EXISTS, Op.SUM_EQUALS)
            and r.mostly >= 1
            and set(r.inputs) <= set(df.columns)
        ]
        known = masks or {}
        bad = (
            pl.any_horizontal(
                [
                    pl.lit(known[r.label]) if r.label in known else violation(r, df.schema)
                    for r in hard
                ]
            ).fill_null(False)
            if hard
            else pl.lit(False)
        )
        step = -(-df.height // (max_rows // 2))
        flagged = df.select(bad.alias("_bad")).to_series()
        offenders = df.filter(flagged).head(max_rows // 2)
        df = pl.concat([offenders, df.filter(~flagged & (pl.col(ROW) % step == 0))]).sort(ROW)
    if keys:
        # After sampling: every copy of a duplicated key is an offender, so duplicates stay
        # together in the sample and point at the same (first) row position.
        cols = list(keys[0].columns)
        df = df.with_columns(
            pl.when(pl.any_horizontal([pl.col(c).is_null() for c in cols]))
            .then(None)
            .otherwise(pl.col(ROW).min().over(cols))
            .alias(KEY)
        )
    hidden = [c for c in spec.identifiers if c in df.columns]
    df = df.with_columns(
        [pl.when(pl.col(c).is_null()).then(None).otherwise(pl.col(ROW)).alias(c) for c in hidden]
    )
    return df, sampled


def to_pandas(df: pl.DataFrame) -> pd.DataFrame:
    # Dates and timestamps as nanosecond datetimes: GE compares those vectorized; a Date
    # arrives in pandas as datetime64[ms], which GE's between-check walks value by value
    # (seconds per table at 200k rows).
    temporal = [
        pl.col(c).cast(pl.Datetime("ns", getattr(t, "time_zone", None)))
        for c, t in df.schema.items()
        if t == pl.Date or isinstance(t, pl.Datetime)
    ]
    pdf = df.drop(ROW).with_columns(temporal).to_pandas()
    pdf.index = df[ROW].to_list()  # unexpected index lists then name table row positions
    return pdf


# --- expectations -------------------------------------------------------------------------------


def _value(v: Any) -> Any:
    if isinstance(v, date) and not isinstance(v, datetime):
        return datetime(v.year, v.month, v.day)
    return v


def expectations(rule: Rule, *, sampled: bool = False) -> list[Any]:
    """The GE expectations of one rule (tagged with the rule's label, check and severity)."""
    import great_expectations as gx

    e = gx.expectations
    common: dict[str, Any] = {
        "meta": {"dam_rule": rule.label, "dam_check": rule.check, "dam_severity": rule.severity},
        "severity": "critical" if rule.severity is Severity.ERROR else "warning",
        "notes": f"[{rule.severity}] {rule.check}: {rule.description}",
    }
    col = rule.column
    if rule.op is Op.EXISTS:
        return [e.ExpectColumnToExist(column=col, column_index=rule.index, **common)]
    if rule.op is Op.KEY:
        # _dq_key holds row positions, so even its unexpected values name no key.
        return [
            e.ExpectColumnValuesToNotBeNull(column=KEY, **common),
            e.ExpectColumnValuesToBeUnique(column=KEY, **common),
        ]
    if rule.op is Op.NOT_NULL:
        return [e.ExpectColumnValuesToNotBeNull(column=col, **common)]
    if rule.op is Op.IN_SET:
        return [e.ExpectColumnValuesToBeInSet(column=col, value_set=list(rule.values), **common)]
    if rule.op is Op.BETWEEN:
        return [
            e.ExpectColumnValuesToBeBetween(
                column=col,
                min_value=_value(rule.min),
                max_value=_value(rule.max),
                strict_min=rule.strict_min,
                strict_max=rule.strict_max,
                **common,
            )
        ]
    if rule.op is Op.REGEX:
        return [e.ExpectColumnValuesToMatchRegex(column=col, regex=rule.pattern, **common)]
    if rule.op is Op.TRUE:
        return [
            e.ExpectColumnValuesToBeInSet(
                column=col, value_set=[True], mostly=rule.mostly, **common
            )
        ]
    if rule.op is Op.SUM_EQUALS:
        # A sum over a sample proves nothing: only validated on the full table.
        return (
            []
            if sampled
            else [
                e.ExpectColumnSumToBeBetween(
                    column=col, min_value=rule.min, max_value=rule.min, **common
                )
            ]
        )
    raise ValueError(rule.op)


def columns_expectation(rules: list[Rule]) -> Any:
    """The schema rules as one expectation (GE frames carry extra ``_dq_*`` helper columns,
    so the column order is judged by polars only)."""
    import great_expectations as gx

    worst = Severity.ERROR if any(r.severity is Severity.ERROR for r in rules) else Severity.WARN
    return gx.expectations.ExpectTableColumnsToMatchSet(
        column_set=[r.column for r in rules],
        exact_match=False,
        meta={"dam_rule": [r.label for r in rules], "dam_check": rules[0].check},
        severity="critical" if worst is Severity.ERROR else "warning",
        notes=f"[{worst}] {rules[0].check}: every expected column is present",
    )


def build_suite(name: str, rules: Iterable[Rule], *, sampled: bool = False) -> Any:
    import great_expectations as gx

    rules = list(rules)
    suite = gx.ExpectationSuite(name=name)
    exists = [r for r in rules if r.op is Op.EXISTS]
    if exists:
        suite.add_expectation(columns_expectation(exists))
    for rule in rules:
        if rule.op is not Op.EXISTS:
            for exp in expectations(rule, sampled=sampled):
                suite.add_expectation(exp)
    return suite


# --- session ---------------------------------------------------------------------------------


@dataclass
class Validation:
    """GE's verdict per rule label, and where its Data Docs page is."""

    suite: str
    success_by_rule: dict[str, bool]
    result_id: Any
    url: str | None = None


@dataclass
class GxSession:
    """One ephemeral GE context for one quality run, writing Data Docs under ``root``."""

    root: Path
    context: Any = None
    validations: list[Validation] = field(default_factory=list)
    _suites: set[str] = field(default_factory=set)
    _seq: int = 0
    #: every GE call runs on this one worker thread (GE is pure Python and not thread-safe;
    #: the caller's polars work goes on meanwhile)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="dam-gx")
    )
    _futures: list[Future] = field(default_factory=list)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` on the GE worker (in submission order)."""
        future = self._pool.submit(fn, *args)
        self._futures.append(future)
        return future

    def wait(self) -> None:
        """Wait for every submitted job; re-raise the first failure."""
        futures, self._futures = self._futures, []
        for f in futures:
            f.result()

    def close(self) -> None:
        """Stop the worker (after :meth:`wait`)."""
        self._pool.shutdown(wait=True)

    def __post_init__(self) -> None:
        # GE's import and context (about 3 s of Python in a fresh run process) are the
        # worker's first job: the polars checks start meanwhile instead of waiting for them.
        self.submit(self._start)

    def _start(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self.root.mkdir(parents=True, exist_ok=True)
        stores = InMemoryStoreBackendDefaults(init_temp_docs_sites=False).stores
        stores["validation_results_store"] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(self.root / RESULTS_DIR),
            },
        }
        config = DataContextConfig(
            stores=stores,
            expectations_store_name="expectations_store",
            validation_results_store_name="validation_results_store",
            checkpoint_store_name="checkpoint_store",
            data_docs_sites={
                SITE: {
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(self.root),
                    },
                    "site_index_builder": {
                        "class_name": "DefaultSiteIndexBuilder",
                        "show_cta_footer": False,
                        "validation_results_limit": INDEX_LIMIT,
                    },
                }
            },
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.context.data_sources.add_pandas("dam")

    def register(self, name: str, rules: Iterable[Rule], *, sampled: bool = False) -> Any:
        """Add (or replace) the suite ``name`` so that the index lists it."""
        suite = build_suite(name, rules, sampled=sampled)
        if name in self._suites:
            self.context.suites.delete(name)
        self._suites.add(name)
        return self.context.suites.add(suite)

    def validate(
        self,
        name: str,
        rules: list[Rule],
        frame: pd.DataFrame,
        *,
        sampled: bool,
        as_of: date,
        run_time: datetime,
    ) -> Validation:
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier

        suite = self.register(name, rules, sampled=sampled)
        source = self.context.data_sources.get("dam")
        self._seq += 1  # unique names across the nights a reused session validates
        asset = source.add_dataframe_asset(name=f"{name}.{self._seq}")
        batch = asset.add_batch_definition_whole_dataframe("frame")
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}.{self._seq}", data=batch, suite=suite)
        )
        checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(
                name=f"{name}.{self._seq}",
                validation_definitions=[definition],
                actions=[],
                result_format=RESULT_FORMAT,
            )
        )
        result = checkpoint.run(
            batch_parameters={"dataframe": frame},
            run_id=RunIdentifier(run_name=as_of.isoformat(), run_time=run_time),
        )
        ((result_id, suite_result),) = result.run_results.items()
        success: dict[str, bool] = {}
        for r in suite_result.results:
            labels = (r.expectation_config.meta or {}).get("dam_rule") or []
            for label in [labels] if isinstance(labels, str) else labels:
                success[label] = success.get(label, True) and bool(r.success)
        v = Validation(name, success, result_id)
        self.validations.append(v)
        return v

    def prune(self, as_of: date, keep_days: int = DOCS_KEEP_DAYS) -> int:
        """Drop results and pages of nights older than ``keep_days`` before ``as_of``.

        Keeps the docs folder (and the index build, which reads every stored result) bounded
        instead of growing with the history. Returns the number of nights' folders removed.
        """
        import shutil

        cutoff = (as_of - timedelta(days=keep_days)).isoformat()
        removed = 0
        for top in (self.root / RESULTS_DIR, self.root / "validations"):
            if not top.is_dir():
                continue
            for night in top.glob("*/*/*"):
                if night.is_dir() and _is_date(night.name) and night.name < cutoff:
                    shutil.rmtree(night, ignore_errors=True)
                    removed += 1
        return removed

    def build_docs(self) -> Path:
        """Render tonight's pages and the index; fill in every validation's page URL."""
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
        )

        ids: list[Any] = [v.result_id for v in self.validations]
        ids += [ExpectationSuiteIdentifier(name=v.suite) for v in self.validations]
        self.context.build_data_docs(site_names=[SITE], resource_identifiers=ids)
        for v in self.validations:
            urls = self.context.get_docs_sites_urls(resource_identifier=v.result_id, site_name=SITE)
            v.url = urls[0]["site_url"] if urls else None
        return self.root / "index.html"


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
