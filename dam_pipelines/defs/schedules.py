"""The nightly schedule: 02:00 Asia/Seoul runs the night of the previous business date."""

from datetime import timedelta

import dagster as dg

from dam_pipelines.defs.jobs import nightly_job
from dam_pipelines.defs.partitions import TIMEZONE


@dg.schedule(
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every night at 02:00 KST: the nightly job for yesterday's business date.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    business_date = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(
        run_key=f"nightly-{business_date}",
        partition_key=business_date,
        tags={"dam/trigger": "nightly_schedule"},
    )
