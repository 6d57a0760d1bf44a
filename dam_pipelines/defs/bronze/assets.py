"""Bronze: one partitioned asset per registry feed, built by one factory."""


from datetime import UTC, datetime

import dagster as dg

from dam_pipelines.defs.metadata import preview, table_metadata, table_schema
from dam_pipelines.defs.partitions import daily
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib.ingest import LOADED, REJECTED, REPLACED, SKIPPED, ingest_feed, stats_columns
from dam_pipelines.lib.lock import warehouse_lock
from dam_pipelines.lib.registry import FEEDS, Feed
from dam_pipelines.lib.validate import bronze_schema


def bronze_key(feed: Feed) -> dg.AssetKey:
    return dg.AssetKey(["bronze", feed.affiliate, feed.name])


def build_bronze_asset(feed: Feed) -> dg.AssetsDefinition:
    @dg.asset(
        key=bronze_key(feed),
        group_name="bronze",
        partitions_def=daily,
        tags={"affiliate": feed.affiliate, "feed_kind": feed.kind.value},
        kinds={"delta", "polars"},
        description=(
            f"{feed.description}. Validated and pseudonymized {feed.kind.value} feed "
            f"`{feed.id}`, one business-date partition per loaded batch (current revision). "
            f"Partition D ingests every ready batch dated on or before D."
        ),
        metadata={
            "dam/key": ", ".join(feed.key),
            "dagster/column_schema": table_schema(bronze_schema(feed)),
        },
    )
    def _bronze(context: dg.AssetExecutionContext, dam: DamResource) -> dg.MaterializeResult:
        settings = dam.settings()
        with warehouse_lock(settings.warehouse_dir):
            report = ingest_feed(
                settings, feed, context.partition_key, run_id=context.run_id,
                now=datetime.now(UTC), log=context.log.info,
            )
        path = settings.table_path("bronze", feed.affiliate, feed.name)
        rejected = [o for o in report.outcomes if o.status == REJECTED]
        meta: dict[str, object] = {
            **table_metadata(path),
            "dagster/row_count": report.rows_loaded,
            "rows_loaded": report.rows_loaded,
            "rows_quarantined": report.rows_quarantined,
            "batches_loaded": report.count(LOADED),
            "batches_rejected": report.count(REJECTED),
            "batches_skipped": report.count(SKIPPED),
            "batches_replaced": report.count(REPLACED),
        }
        if rejected:
            meta["rejections"] = dg.MetadataValue.md(
                "\n".join(f"- {o.business_date} r{o.revision}: **{o.reason}** {o.detail}" for o in rejected)
            )
        pv = preview(path, stats_columns(feed))
        if pv is not None:
            meta["preview"] = pv
        return dg.MaterializeResult(metadata=meta)

    return _bronze


bronze_assets = [build_bronze_asset(f) for f in FEEDS]
bronze_keys = [bronze_key(f) for f in FEEDS]
