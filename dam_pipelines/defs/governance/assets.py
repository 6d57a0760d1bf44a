"""Governance assets of the night: erasures (before silver) and the marketing audience."""

from datetime import UTC, date, datetime

import dagster as dg

from dam_pipelines.defs.bronze.assets import bronze_keys
from dam_pipelines.defs.metadata import table_metadata
from dam_pipelines.defs.partitions import daily
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib.governance.audit import ERASURES
from dam_pipelines.lib.governance.catalog import asset_metadata
from dam_pipelines.lib.governance.erasure import scrub_gold, unbacked_profiles
from dam_pipelines.lib.governance.marketing import AUDIENCE, PROFILE, build_marketing_audience
from dam_pipelines.lib.governance.retention import apply_night_rules
from dam_pipelines.lib.ingest import QUARANTINE

ERASURES_KEY = dg.AssetKey(list(ERASURES))
AUDIENCE_KEY = dg.AssetKey(list(AUDIENCE))


def catalog_metadata(table: str) -> dict[str, object]:
    """Owner, retention and column classifications of a table, as Dagster metadata."""
    meta = asset_metadata(table)
    if not meta:
        return {}
    classes = meta.pop("dam/classification")
    meta["dam/classification"] = dg.MetadataValue.md(
        "| column | classification |\n|---|---|\n"
        + "".join(f"| {c} | {k} |\n" for c, k in classes.items())
    )
    return meta


@dg.asset(
    key=ERASURES_KEY,
    group_name="audit",
    partitions_def=daily,
    deps=[*bronze_keys, dg.AssetKey(list(QUARANTINE))],
    kinds={"delta", "polars"},
    tags={"dam/governance": "erasure"},
    metadata=catalog_metadata("audit/erasures"),
)
def audit_erasures(context: dg.AssetExecutionContext, dam: DamResource) -> dg.MaterializeResult:
    """Erasure requests and the 5-year rule, effective in the night D: the customer's rows of
    that affiliate from batches on or before the request leave bronze, silver and the
    quarantine, the files are vacuumed, a scan proves it, and a record without any
    identifier is appended here (contract §5); events dated before the same day five years
    earlier are deleted too. Silver and gold are built after this."""
    settings = dam.settings()
    d = date.fromisoformat(context.partition_key)
    report, expired = apply_night_rules(
        settings, d, run_id=context.run_id, now=datetime.now(UTC), log=context.log.info
    )
    verified = report.verified and (expired is None or expired.verified)
    # Counts only: never a customer number or gcid in Dagster's event log.
    meta: dict[str, object] = {
        **table_metadata(settings.table_path(*ERASURES)),
        "customers_erased": report.subjects,
        "requests_for_unknown_customers": report.no_customer,
        "rows_deleted": report.rows_deleted,
        "tables_touched": ", ".join(report.tables_touched) or "none",
        "events_older_than_retention_deleted": expired.rows_deleted if expired else 0,
        "verified": verified,
    }
    if not verified:
        raise dg.Failure("erasure verification found leftovers: see audit/erasures", metadata=meta)
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=AUDIENCE_KEY,
    group_name="gold",
    partitions_def=daily,
    deps=[dg.AssetKey(list(PROFILE))],
    kinds={"delta", "polars"},
    metadata=catalog_metadata("gold/marketing_audience"),
)
def marketing_audience(context: dg.AssetExecutionContext, dam: DamResource) -> dg.MaterializeResult:
    """Customers marketing may contact as of D: only those whose unified marketing_consent is
    true, with the few columns a campaign selects on. As the last gold step of a night that
    erased someone, it also vacuums gold so that no earlier profile version keeps them."""
    settings = dam.settings()
    d = date.fromisoformat(context.partition_key)
    result = build_marketing_audience(settings.warehouse_dir, d)
    scrubbed = scrub_gold(settings, d)
    return dg.MaterializeResult(
        metadata={
            **table_metadata(settings.table_path(*AUDIENCE)),
            "dagster/row_count": result.rows,
            "excluded_without_consent": result.metadata["excluded_without_consent"],
            "gold_tables_vacuumed": len(scrubbed),
            "profiles_without_customers_record": unbacked_profiles(settings.warehouse_dir, d),
        }
    )


governance_assets = [audit_erasures, marketing_audience]
