"""Running the nightly job through Dagster (recorded in the instance) from plain Python."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from dam_pipelines.lib.governance.audit import read_records
from dam_pipelines.settings import Settings

DAGSTER_YAML = """\
# Project-local Dagster instance for the dam (created by the `dam` command).
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 1
  tag_concurrency_limits:
    - key: "dam/warehouse"
      limit: 1
"""


def ensure_instance_home(dagster_home: Path) -> Path:
    dagster_home.mkdir(parents=True, exist_ok=True)
    cfg = dagster_home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    return dagster_home


@dataclass
class RunOutcome:
    business_date: str
    run_id: str
    success: bool
    failed_steps: list[str]
    seconds: float = 0.0


def _dam(settings: Settings):
    from dam_pipelines.defs.resources import DamResource

    return DamResource(
        landing_dir=str(settings.landing_dir),
        warehouse_dir=str(settings.warehouse_dir),
        pseudonym_key=settings.pseudonym_key,
        bad_row_threshold=settings.bad_row_threshold,
        k_anonymity=settings.k_anonymity,
    )


def _logging(level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def run_purge_job(settings: Settings, as_of: date) -> tuple[RunOutcome, list[tuple[str, str]]]:
    """Run the purge job in-process (recorded in the instance); returns the verifications."""
    import dagster as dg

    from dam_pipelines.definitions import build_definitions

    os.environ["DAGSTER_HOME"] = str(ensure_instance_home(settings.dagster_home))
    job = build_definitions(_dam(settings)).resolve_job_def("purge_job")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={"dam/trigger": "cli"},
            run_config={
                **_logging("INFO"),
                "ops": {"purge": {"config": {"as_of": as_of.isoformat()}}},
            },
        )
    failed = [e.step_key for e in result.all_events if e.is_step_failure and e.step_key]
    mine = read_records(settings.warehouse_dir).filter(pl.col("run_id") == result.run_id)
    records = [(r["kind"], r["verification"] or "") for r in mine.iter_rows(named=True)]
    return RunOutcome(as_of.isoformat(), result.run_id, result.success, failed), records


def run_night(
    settings: Settings, business_date: date, *, job_name: str = "nightly", log_level: str = "INFO"
) -> RunOutcome:
    """Execute ``job_name`` for partition ``business_date`` in-process, recorded in the instance."""
    import dagster as dg

    from dam_pipelines.definitions import build_definitions

    started = time.perf_counter()
    os.environ["DAGSTER_HOME"] = str(ensure_instance_home(settings.dagster_home))
    job = build_definitions(_dam(settings)).resolve_job_def(job_name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key=business_date.isoformat(),
            raise_on_error=False,
            tags={"dam/trigger": "cli"},
            run_config=_logging(log_level),
        )
    failed = [e.step_key for e in result.all_events if e.is_step_failure and e.step_key is not None]
    return RunOutcome(
        business_date.isoformat(),
        result.run_id,
        result.success,
        failed,
        time.perf_counter() - started,
    )


def date_range(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def backfill(
    settings: Settings,
    start: date,
    end: date,
    *,
    progress: Callable[[RunOutcome], None] | None = None,
    log_level: str = "WARNING",
) -> list[RunOutcome]:
    """Run the nights ``start``..``end`` in order; stops at the first failed night."""
    outcomes = []
    for d in date_range(start, end):
        o = run_night(settings, d, log_level=log_level)
        outcomes.append(o)
        if progress:
            progress(o)
        if not o.success:
            break
    return outcomes
