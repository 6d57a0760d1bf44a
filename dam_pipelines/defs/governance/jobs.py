"""The purge job (retention + physical removal) and its weekly schedule."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from dam_pipelines.defs.partitions import TIMEZONE
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib.governance.retention import run_purge


class PurgeConfig(dg.Config):
    as_of: str  # business date D, YYYY-MM-DD


@dg.op(tags={"dam/governance": "purge"})
def purge(context: dg.OpExecutionContext, config: PurgeConfig, dam: DamResource) -> dg.Output[None]:
    """Retention purge as of D: erasures, 5-year events, 90-day snapshot history, 30-day landing
    batches, then vacuum (0 h) and log cleanup of every table, verified and audited."""
    report = run_purge(
        dam.settings(),
        date.fromisoformat(config.as_of),
        run_id=context.run_id,
        now=datetime.now(UTC),
        log=context.log.info,
    )
    meta = {
        "rows_deleted": report.rows_deleted,
        "files_removed": report.files_removed,
        "landing_batches_removed": len(report.landing_removed),
        "verified": report.verified,
        "verification": dg.MetadataValue.md(
            "\n".join(f"- **{r.kind}**: {r.verification}" for r in report.records)
        ),
    }
    if not report.verified:
        raise dg.Failure("purge verification failed: see audit/erasures", metadata=meta)
    return dg.Output(None, metadata=meta)


@dg.job(
    tags={"dam/warehouse": "purge"},
    executor_def=dg.in_process_executor,
    description="Retention and physical removal (contract §5); weekly and `dam purge`.",
)
def purge_job() -> None:
    purge()


@dg.schedule(
    job=purge_job,
    cron_schedule="0 4 * * 0",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Sundays 04:00 KST (after the night's run): the purge as of yesterday.",
)
def weekly_purge_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    as_of = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(
        run_key=f"purge-{as_of}",
        run_config={"ops": {"purge": {"config": {"as_of": as_of}}}},
        tags={"dam/trigger": "weekly_purge_schedule"},
    )


governance_jobs = [purge_job]
governance_schedules = [weekly_purge_schedule]
