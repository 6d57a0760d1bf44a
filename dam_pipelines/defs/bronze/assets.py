"""Bronze: one partitioned asset per registry feed, declared by one factory.

The assets share one step (a subsettable multi-asset) so that a night reads the batch ledger
once and commits the audit tables once, whatever the number of feeds.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from dam_pipelines.defs.metadata import preview, table_metadata, table_schema
from dam_pipelines.defs.partitions import daily
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib.governance import make_suppressor
from dam_pipelines.lib.ingest import (
    LOADED,
    REJECTED,
    REPLACED,
    SKIPPED,
    FeedReport,
    ingest_feeds,
    stats_columns,
)
from dam_pipelines.lib.lock import warehouse_lock
from dam_pipelines.lib.registry import FEEDS, Feed
from dam_pipelines.lib.validate import bronze_schema
from dam_pipelines.settings import Settings


def bronze_key(feed: Feed) -> dg.AssetKey:
    return dg.AssetKey(["bronze", feed.affiliate, feed.name])


def bronze_spec(feed: Feed) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=bronze_key(feed),
        group_name="bronze",
        tags={"affiliate": feed.affiliate, "feed_kind": feed.kind.value},
        kinds={"delta", "polars"},
        description=(
            f"{feed.description}. Validated and pseudonymized {feed.kind.value} feed "
            f"`{feed.id}`: one business-date partition per loaded batch (its current revision). "
            "Partition D ingests every ready batch dated on or before D."
        ),
        metadata={
            "dam/key": ", ".join(feed.key),
            "dagster/column_schema": table_schema(bronze_schema(feed)),
        },
    )


def _result(settings: Settings, feed: Feed, report: FeedReport) -> dg.MaterializeResult:
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
            "\n".join(
                f"- {o.business_date} r{o.revision}: **{o.reason}** {o.detail}" for o in rejected
            )
        )
    pv = preview(path, stats_columns(feed))
    if pv is not None:
        meta["preview"] = pv
    return dg.MaterializeResult(asset_key=bronze_key(feed), metadata=meta)


@dg.multi_asset(
    name="bronze_ingest",
    specs=[bronze_spec(f) for f in FEEDS],
    partitions_def=daily,
    can_subset=True,
)
def bronze_ingest(
    context: dg.AssetExecutionContext, dam: DamResource
) -> Iterator[dg.MaterializeResult]:
    """Ingest the ready batches of the selected feeds for the night of the partition date."""
    settings = dam.settings()
    selected = [f for f in FEEDS if bronze_key(f) in context.selected_asset_keys]
    with warehouse_lock(settings.warehouse_dir):
        reports = ingest_feeds(
            settings,
            selected,
            context.partition_key,
            run_id=context.run_id,
            now=datetime.now(UTC),
            log=context.log.info,
            suppress=make_suppressor(settings),
        )
    for feed in selected:
        yield _result(settings, feed, reports[feed.id])


bronze_assets = [bronze_ingest]
bronze_keys = [bronze_key(f) for f in FEEDS]
