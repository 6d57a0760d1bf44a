"""The dam's Dagster definitions: collect the layers, apply global policies."""

import dagster as dg

from dam_pipelines.defs.audit.assets import audit_assets
from dam_pipelines.defs.bronze.assets import bronze_assets
from dam_pipelines.defs.bronze.sensors import landing_zone_sensor
from dam_pipelines.defs.gold.assets import gold_assets
from dam_pipelines.defs.governance import (
    governance_assets,
    governance_jobs,
    governance_schedules,
)
from dam_pipelines.defs.jobs import ingest_job, nightly_job
from dam_pipelines.defs.quality import quality_checks
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.defs.schedules import nightly_schedule
from dam_pipelines.defs.silver.assets import silver_assets


def build_definitions(dam: DamResource | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[*bronze_assets, *audit_assets, *governance_assets, *silver_assets, *gold_assets],
        asset_checks=quality_checks,
        jobs=[nightly_job, ingest_job, *governance_jobs],
        schedules=[nightly_schedule, *governance_schedules],
        sensors=[landing_zone_sensor],
        resources={"dam": dam or DamResource()},
    )


defs = build_definitions()
