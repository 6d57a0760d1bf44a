"""Silver: conformed per-affiliate tables as of the night D, one asset per registry feed."""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from dam_pipelines.defs.bronze.assets import bronze_key
from dam_pipelines.defs.governance import ERASURES_KEY, catalog_metadata
from dam_pipelines.defs.metadata import table_metadata
from dam_pipelines.defs.partitions import daily
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib.card_window import build_window_spend
from dam_pipelines.lib.lock import warehouse_lock
from dam_pipelines.lib.registry import FEEDS, Feed, Kind
from dam_pipelines.lib.silver import (
    ROLLUP,
    WINDOW_SPEND,
    TableResult,
    build_silver_table,
    build_transactions_monthly,
    silver_key,
)

_KIND_TEXT = {
    Kind.CHANGE: "current state of each record as of D (latest delivered version)",
    Kind.SNAPSHOT: "the latest loaded snapshot dated on or before D, taken whole",
    Kind.EVENT: "each event's latest delivery among loaded batches dated on or before D, "
    "partitioned by event date",
}


def silver_asset_key(feed: Feed) -> dg.AssetKey:
    return dg.AssetKey(silver_key(feed).split("/"))


ROLLUP_KEY = dg.AssetKey(ROLLUP.split("/"))
WINDOW_SPEND_KEY = dg.AssetKey(WINDOW_SPEND.split("/"))


def silver_spec(feed: Feed) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=silver_asset_key(feed),
        group_name="silver",
        deps=[bronze_key(feed), ERASURES_KEY],
        tags={"affiliate": feed.affiliate, "feed_kind": feed.kind.value},
        kinds={"delta", "polars"},
        description=f"{feed.description}: {_KIND_TEXT[feed.kind]}. Customer numbers and gcids "
        "only, never direct identifiers.",
        metadata=catalog_metadata(silver_key(feed)),
    )


def materialization(key: dg.AssetKey, path, result: TableResult) -> dg.MaterializeResult:
    meta: dict[str, object] = {**table_metadata(path), "dagster/row_count": result.rows}
    for k, v in result.metadata.items():
        meta[k] = v if isinstance(v, int | float | str | bool) else str(v)
    return dg.MaterializeResult(asset_key=key, metadata=meta)


@dg.multi_asset(
    name="silver_build",
    specs=[silver_spec(f) for f in FEEDS],
    partitions_def=daily,
    can_subset=True,
)
def silver_build(
    context: dg.AssetExecutionContext, dam: DamResource
) -> Iterator[dg.MaterializeResult]:
    """Bring the selected silver tables to the partition's business date (incrementally)."""
    settings = dam.settings()
    as_of = date.fromisoformat(context.partition_key)
    with warehouse_lock(settings.warehouse_dir):
        for feed in FEEDS:
            key = silver_asset_key(feed)
            if key in context.selected_asset_keys:
                result = build_silver_table(settings.warehouse_dir, feed, as_of)
                context.log.info(
                    f"{result.key}: {result.rows} rows ({result.metadata.get('mode', '')})"
                )
                yield materialization(key, settings.table_path(*key.path), result)


@dg.asset(
    key=ROLLUP_KEY,
    group_name="silver",
    partitions_def=daily,
    deps=[dg.AssetKey(["silver", "card", "transactions"])],
    tags={"affiliate": "card"},
    kinds={"delta", "polars"},
    metadata=catalog_metadata(ROLLUP),
)
def card_transactions_monthly(
    context: dg.AssetExecutionContext, dam: DamResource
) -> dg.MaterializeResult:
    """Monthly rollup of card purchases and cancels per customer, merchant and delivering
    batch: what the shareable trends aggregate, so their cost stays bounded as history grows.
    A usual night appends its batches' rows."""
    settings = dam.settings()
    with warehouse_lock(settings.warehouse_dir):
        result = build_transactions_monthly(
            settings.warehouse_dir, date.fromisoformat(context.partition_key)
        )
    return materialization(ROLLUP_KEY, settings.table_path(*ROLLUP_KEY.path), result)


@dg.asset(
    key=WINDOW_SPEND_KEY,
    group_name="silver",
    partitions_def=daily,
    deps=[
        dg.AssetKey(["silver", "card", "transactions"]),
        dg.AssetKey(["silver", "card", "merchants"]),
    ],
    tags={"affiliate": "card"},
    kinds={"delta", "polars"},
    metadata=catalog_metadata(WINDOW_SPEND),
)
def card_window_spend(context: dg.AssetExecutionContext, dam: DamResource) -> dg.MaterializeResult:
    """Card sums of the profile's 30- and 90-day windows, one row per customer number (the
    merchant categories as of D in columns), carried forward night by night (recomputed when
    the transactions changed otherwise than by an append), so the profile does not re-read
    90 days of transactions."""
    settings = dam.settings()
    with warehouse_lock(settings.warehouse_dir):
        result = build_window_spend(
            settings.warehouse_dir, date.fromisoformat(context.partition_key)
        )
    context.log.info(f"{result.key}: {result.rows} rows ({result.metadata.get('mode', '')})")
    return materialization(WINDOW_SPEND_KEY, settings.table_path(*WINDOW_SPEND_KEY.path), result)


silver_assets = [silver_build, card_transactions_monthly, card_window_spend]
silver_keys = [silver_asset_key(f) for f in FEEDS] + [ROLLUP_KEY, WINDOW_SPEND_KEY]
