"""Landing-zone sensor: request ingestion runs for ready batches not yet seen."""

import hashlib

import dagster as dg

from dam_pipelines.defs.bronze.assets import bronze_key
from dam_pipelines.defs.partitions import daily
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib.ingest import read_ledger, unseen_batches
from dam_pipelines.lib.registry import FEEDS


@dg.sensor(
    name="landing_zone_sensor",
    job_name="ingest",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Watches the landing zone for batches whose manifest is present and not yet "
    "handled, and requests an ingestion run of their feeds for the batch's business date.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, dam: DamResource):
    settings = dam.settings()
    ledger = read_ledger(settings)
    last = daily.get_last_partition_key()
    if last is None:
        return dg.SkipReason("no partition is open yet")
    by_date: dict[str, list[dg.AssetKey]] = {}
    fingerprints: list[str] = []
    for feed in FEEDS:
        for folder, fp in unseen_batches(settings.landing_dir, feed, last, ledger):
            by_date.setdefault(folder.name if folder.name <= last else last, []).append(
                bronze_key(feed)
            )
            fingerprints.append(f"{folder}:{fp}")
    if not by_date:
        return dg.SkipReason("no new ready batches")
    run_key = hashlib.sha256("\n".join(sorted(fingerprints)).encode()).hexdigest()[:32]
    for bdate, keys in sorted(by_date.items()):
        yield dg.RunRequest(
            run_key=f"{bdate}:{run_key}",
            partition_key=bdate,
            asset_selection=sorted(set(keys)),
            tags={"dam/trigger": "landing_zone_sensor"},
        )
