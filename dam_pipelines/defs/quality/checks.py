"""Quality asset checks on the silver and gold tables (thin wrappers over lib.quality).

One ``multi_asset_check`` per layer group: all silver tables share one op (one Great
Expectations session and one Data Docs build per night), each gold table has its own. Checks
of severity ERROR are blocking: a failure stops the downstream gold assets in the same run.
"""

from collections.abc import Iterator, Sequence
from datetime import date

import dagster as dg

from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib.quality import (
    GOLD_SPECS,
    SILVER_SPECS,
    CheckOutcome,
    QualityConfig,
    Severity,
    planned_checks,
    run_quality,
)
from dam_pipelines.lib.quality.checks import BATCHES
from dam_pipelines.settings import Settings

#: Other tables a check reads, so that it runs after them.
_READS: dict[str, tuple[str, ...]] = {
    "referential_customer": (),  # filled per table below
    "referential_merchant": ("silver/card/merchants",),
    "card_spend_reconciliation": ("silver/card/transactions", "silver/card/customers"),
    "rollup_reconciliation": ("silver/card/transactions",),
    "batch_row_reconciliation": (BATCHES,),
    "volume_anomaly": (BATCHES,),
    "freshness": (BATCHES,),
}


def asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("/"))


def _reads(table: str, check: str) -> list[dg.AssetKey]:
    reads = _READS.get(check, ())
    if check == "referential_customer":
        reads = (f"silver/{table.split('/')[1]}/customers",)
    return [asset_key(t) for t in reads if t != table]


def check_specs(tables: Sequence[str]) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            pc.name,
            asset=asset_key(table),
            description=pc.description,
            blocking=pc.severity is Severity.ERROR,
            additional_deps=_reads(table, pc.name),
            metadata={"dam/severity": pc.severity.value},
        )
        for table in tables
        for pc in planned_checks(table)
    ]


def _sample_md(o: CheckOutcome) -> dg.MetadataValue:
    cols = list(dict.fromkeys(k for row in o.sample for k in row))
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    body = "".join("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |\n" for r in o.sample)
    return dg.MetadataValue.md(head + body)


def check_result(o: CheckOutcome) -> dg.AssetCheckResult:
    """The Dagster result of one outcome: never an identifier (samples are pseudonymized)."""
    meta: dict[str, object] = {
        "expectation": o.expectation,
        "offending_rows": o.offending_rows,
        "checked_rows": o.checked_rows,
        "suite": o.suite,
    }
    if o.detail:
        meta["detail"] = o.detail
    if o.sample:
        meta["sample"] = _sample_md(o)
    if o.docs_url:
        meta["data_docs"] = dg.MetadataValue.url(o.docs_url)
    if o.sampled:
        meta["ge_sampled"] = True
    return dg.AssetCheckResult(
        asset_key=asset_key(o.table),
        check_name=o.check,
        passed=o.passed,
        severity=dg.AssetCheckSeverity.ERROR if o.blocking else dg.AssetCheckSeverity.WARN,
        description=o.message(),
        metadata=meta,
    )


def quality_config(settings: Settings) -> QualityConfig:
    return QualityConfig(k_anonymity=settings.k_anonymity)


def business_date(context: dg.AssetCheckExecutionContext) -> date:
    """D: the run's partition (the nightly job is partitioned by business date)."""
    if not context.has_partition_key:
        raise dg.Failure(
            "quality checks need the business date: run them in a partitioned "
            "run (the nightly job), e.g. with partition key 2026-11-24"
        )
    return date.fromisoformat(context.partition_key)


def build_quality_checks(
    name: str, tables: Sequence[str], *, docs: bool = True
) -> dg.AssetChecksDefinition:
    """One op running every check of ``tables`` (subsettable: only selected checks run).

    ``docs=False`` skips Great Expectations (no Data Docs; verdicts are the same): for
    end-to-end tests that run many nights.
    """

    @dg.multi_asset_check(
        name=name,
        specs=check_specs(tables),
        can_subset=True,
        compute_kind="great_expectations",
        description=f"Data quality of {', '.join(tables)} (docs/quality.md); Data Docs in "
        "<warehouse>/docs/quality/, results in audit/quality.",
    )
    def _checks(
        context: dg.AssetCheckExecutionContext, dam: DamResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {(k.asset_key, k.name) for k in context.selected_asset_check_keys}
        wanted = [t for t in tables if any(key == asset_key(t) for key, _ in selected)]
        settings = dam.settings()
        outcomes = run_quality(
            settings.warehouse_dir,
            business_date(context),
            wanted,
            config=quality_config(settings),
            run_id=context.run.run_id,
            docs=docs,
        )
        for o in outcomes:
            if (asset_key(o.table), o.check) in selected:
                yield check_result(o)

    return _checks


def build_all_quality_checks(*, docs: bool = True) -> list[dg.AssetChecksDefinition]:
    """The silver op and one op per gold table."""
    silver = build_quality_checks("silver_quality", list(SILVER_SPECS), docs=docs)
    gold = [
        build_quality_checks(f"{t.replace('/', '_')}_quality", [t], docs=docs) for t in GOLD_SPECS
    ]
    return [silver, *gold]


quality_checks: list[dg.AssetChecksDefinition] = build_all_quality_checks()
