"""Audit tables, written by the bronze steps; these assets summarize them for the night."""

import dagster as dg
import polars as pl

from dam_pipelines.defs.bronze.assets import bronze_keys
from dam_pipelines.defs.metadata import markdown_table, table_metadata
from dam_pipelines.defs.partitions import daily
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib import delta
from dam_pipelines.lib.ingest import BATCHES, QUARANTINE


@dg.asset(
    key=list(BATCHES),
    group_name="audit",
    partitions_def=daily,
    deps=bronze_keys,
    kinds={"delta"},
    description="Every batch revision seen and its latest status (LOADED, REJECTED, SKIPPED, "
    "REPLACED) with row counts and the rejection reason (contract §4).",
)
def audit_batches(context: dg.AssetExecutionContext, dam: DamResource) -> dg.MaterializeResult:
    path = dam.settings().table_path(*BATCHES)
    lf = delta.scan(path)
    meta: dict[str, object] = table_metadata(path)
    if lf is not None:
        tonight = lf.filter(pl.col("run_id") == context.run_id).collect()
        meta["dagster/row_count"] = lf.select(pl.len()).collect().item()
        meta["batches_tonight"] = tonight.height
        if tonight.height:
            summary = (
                tonight.group_by("status", "reason")
                .agg(
                    pl.len().alias("batches"),
                    pl.col("rows_loaded").sum(),
                    pl.col("rows_quarantined").sum(),
                )
                .sort("status", "reason")
            )
            meta["tonight"] = markdown_table(summary)
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=list(QUARANTINE),
    group_name="audit",
    partitions_def=daily,
    deps=bronze_keys,
    kinds={"delta"},
    description="Rows that failed a row check: batch, row number, column and reason; direct "
    "identifiers masked or dropped (contract §4).",
)
def audit_quarantine(context: dg.AssetExecutionContext, dam: DamResource) -> dg.MaterializeResult:
    path = dam.settings().table_path(*QUARANTINE)
    lf = delta.scan(path)
    meta: dict[str, object] = table_metadata(path)
    if lf is not None:
        meta["dagster/row_count"] = lf.select(pl.len()).collect().item()
        by_reason = (
            lf.group_by("affiliate", "feed", "reason")
            .agg(pl.len().alias("rows"))
            .sort("affiliate", "feed", "reason")
            .collect()
        )
        meta["by_reason"] = markdown_table(by_reason)
    return dg.MaterializeResult(metadata=meta)


audit_assets = [audit_batches, audit_quarantine]
