"""Gold: the published tables of contract §6, rebuilt as of the night D."""

from collections.abc import Iterator
from datetime import date

import dagster as dg
import polars as pl

from dam_pipelines.defs.governance import catalog_metadata
from dam_pipelines.defs.metadata import markdown_table, preview, table_metadata
from dam_pipelines.defs.partitions import daily
from dam_pipelines.defs.quality import audit_gold_frames, require_quality_gate
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.defs.silver.assets import silver_keys
from dam_pipelines.lib import delta
from dam_pipelines.lib.gold import PROFILE, TRENDS, ensure_silver, gold_frames, write_gold
from dam_pipelines.lib.lock import warehouse_lock
from dam_pipelines.lib.trend_cells import PEOPLE

PROFILE_KEY = dg.AssetKey(PROFILE.split("/"))
TRENDS_KEY = dg.AssetKey(TRENDS.split("/"))
PEOPLE_KEY = dg.AssetKey(PEOPLE.split("/"))

#: Non-identifying profile columns shown in the asset preview.
PROFILE_PREVIEW = [
    "as_of_date",
    "age_band",
    "sido_code",
    "active_affiliate_count",
    "life_stage",
    "card_spend_90d",
    "total_assets",
    "net_assets",
]


def _combinations(path) -> dg.MetadataValue | None:
    lf = delta.scan(path)
    if lf is None:
        return None
    combos = (
        lf.select(
            pl.concat_str(
                [
                    pl.when(pl.col(f"{a}_status").is_not_null())
                    .then(pl.lit(a[0].upper()))
                    .otherwise(pl.lit("-"))
                    for a in ("bank", "card", "securities", "life")
                ]
            ).alias("affiliates (B C S L)")
        )
        .group_by("affiliates (B C S L)")
        .agg(pl.len().alias("customers"))
        .sort("customers", descending=True)
        .collect()
    )
    return markdown_table(combos)


@dg.multi_asset(
    name="gold_build",
    specs=[
        dg.AssetSpec(
            key=PROFILE_KEY,
            group_name="gold",
            deps=silver_keys,
            kinds={"delta", "polars"},
            description="One row per person (gcid) known from any affiliate's customers as of D: "
            "the unified profile of contract §6, with the documented life-stage estimate.",
            metadata=catalog_metadata(PROFILE),
        ),
        dg.AssetSpec(
            key=TRENDS_KEY,
            group_name="gold",
            deps=silver_keys,
            kinds={"delta", "polars"},
            description="Shareable card spending trends per month, province, category and age band; "
            "cells with fewer than k distinct customers are not published (contract §6).",
            metadata=catalog_metadata(TRENDS),
        ),
        dg.AssetSpec(
            key=PEOPLE_KEY,
            group_name="silver",
            deps=[dg.AssetKey(["silver", "card", "customers"])],
            tags={"affiliate": "card"},
            kinds={"delta", "polars"},
            description="Card customers with the gcid and age band the trend cells were last "
            "counted with: what lets the trends carry unchanged months forward (written with "
            "the trends; erased with the card affiliate's customers).",
            metadata=catalog_metadata(PEOPLE),
        ),
    ],
    partitions_def=daily,
)
def gold_build(
    context: dg.AssetExecutionContext, dam: DamResource
) -> Iterator[dg.MaterializeResult]:
    """Rebuild the gold tables as of the partition's business date from silver."""
    settings = dam.settings()
    as_of = date.fromisoformat(context.partition_key)
    # Write-audit-publish: the blocking silver checks of D, then the built gold frames, must
    # pass before anything is written; otherwise the previous gold version stays published.
    require_quality_gate(context, settings, as_of, "gold")
    with warehouse_lock(settings.warehouse_dir):
        ensure_silver(settings.warehouse_dir, as_of)
        profile, trends = gold_frames(settings.warehouse_dir, as_of, k=settings.k_anonymity)
        audit_gold_frames(context, settings, as_of, {PROFILE: profile, TRENDS: trends})
        results = write_gold(settings.warehouse_dir, as_of, profile, trends, k=settings.k_anonymity)
    profile_path = settings.table_path(*PROFILE_KEY.path)
    meta: dict[str, object] = {
        **table_metadata(profile_path),
        "dagster/row_count": results[PROFILE].rows,
        "as_of_date": as_of.isoformat(),
    }
    combos = _combinations(profile_path)
    if combos is not None:
        meta["customers_per_affiliate_combination"] = combos
    pv = preview(profile_path, PROFILE_PREVIEW)
    if pv is not None:
        meta["preview"] = pv
    yield dg.MaterializeResult(asset_key=PROFILE_KEY, metadata=meta)
    people_path = settings.table_path(*PEOPLE_KEY.path)
    yield dg.MaterializeResult(
        asset_key=PEOPLE_KEY,
        metadata={**table_metadata(people_path), "as_of_date": as_of.isoformat()},
    )
    trends_path = settings.table_path(*TRENDS_KEY.path)
    yield dg.MaterializeResult(
        asset_key=TRENDS_KEY,
        metadata={
            **table_metadata(trends_path),
            "dagster/row_count": results[TRENDS].rows,
            "as_of_date": as_of.isoformat(),
            "k": settings.k_anonymity,
            "preview": preview(
                trends_path,
                [
                    "month",
                    "sido_code",
                    "category",
                    "age_band",
                    "customer_count",
                    "purchase_count",
                    "net_amount",
                ],
            ),
        },
    )


gold_assets = [gold_build]
