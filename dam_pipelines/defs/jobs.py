"""Jobs. Both run in-process: the multiprocess executor costs seconds per step here and
deltalake panics in a forked child."""

import dagster as dg

from dam_pipelines.defs.partitions import daily

nightly_job = dg.define_asset_job(
    name="nightly",
    selection=dg.AssetSelection.groups("bronze", "audit", "silver", "gold"),
    partitions_def=daily,
    executor_def=dg.in_process_executor,
    description="The night of business date D: ingest every ready batch dated on or before D, "
    "then build silver and gold as of D.",
)

ingest_job = dg.define_asset_job(
    name="ingest",
    selection=dg.AssetSelection.groups("bronze")
    | dg.AssetSelection.assets(["audit", "batches"], ["audit", "quarantine"]),
    partitions_def=daily,
    executor_def=dg.in_process_executor,
    description="Ingestion only (bronze + audit); requested by the landing-zone sensor.",
)
