"""The code location loads: every asset, job, schedule and sensor."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from dam_pipelines.definitions import defs
from dam_pipelines.lib.registry import FEEDS


def test_definitions_load_every_asset_job_schedule_and_sensor():
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    for feed in FEEDS:
        assert f"bronze/{feed.affiliate}/{feed.name}" in keys
    assert {"audit/batches", "audit/quarantine"} <= keys
    for name in ("nightly", "ingest"):
        assert repo.get_job(name).executor_def.name == "in_process"
    assert repo.get_schedule_def("nightly_schedule")
    assert repo.get_sensor_def("landing_zone_sensor")


def test_asset_keys_mirror_table_paths_and_groups_are_layers():
    repo = defs.get_repository_def()
    for key in repo.asset_graph.get_all_asset_keys():
        node = repo.asset_graph.get(key)
        assert key.path[0] == node.group_name
        assert all(p == p.lower() for p in key.path)


def test_nightly_schedule_runs_the_previous_business_date():
    repo = defs.get_repository_def()
    schedule = repo.get_schedule_def("nightly_schedule")
    when = datetime(2026, 11, 25, 2, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=repo) as ctx:
        request = schedule.evaluate_tick(ctx).run_requests[0]
    assert request.partition_key == "2026-11-24"
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Seoul"
