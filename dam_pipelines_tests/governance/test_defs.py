"""The Dagster wrappers: definitions load, the schedule's request, the job and the assets run."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from dam_pipelines.defs.audit.assets import audit_assets
from dam_pipelines.defs.bronze.assets import bronze_assets
from dam_pipelines.defs.governance import governance_assets, governance_jobs, governance_schedules
from dam_pipelines.defs.governance.assets import audit_erasures, marketing_audience
from dam_pipelines.defs.governance.jobs import weekly_purge_schedule
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib import delta
from dam_pipelines.lib.governance.audit import read_records
from dam_pipelines.settings import Settings
from dam_pipelines_tests.conftest import TEST_KEY
from dam_pipelines_tests.governance.helpers import write_bronze


def _dam(settings: Settings) -> DamResource:
    return DamResource(
        landing_dir=str(settings.landing_dir),
        warehouse_dir=str(settings.warehouse_dir),
        pseudonym_key=TEST_KEY,
    )


def _defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[*bronze_assets, *audit_assets, *governance_assets],
        jobs=governance_jobs,
        schedules=governance_schedules,
        resources={"dam": _dam(settings)},
    )


def test_definitions_load(settings: Settings) -> None:
    defs = _defs(settings)
    assert defs.resolve_job_def("purge_job") is not None
    assert defs.resolve_schedule_def("weekly_purge_schedule") is not None
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"audit/erasures", "gold/marketing_audience"} <= keys


def test_weekly_schedule_purges_as_of_yesterday() -> None:
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 29, 4, tzinfo=ZoneInfo("Asia/Seoul"))
    )
    req = weekly_purge_schedule(ctx)
    assert req.run_config == {"ops": {"purge": {"config": {"as_of": "2026-11-28"}}}}


def test_purge_job_runs_and_is_audited(settings: Settings) -> None:
    write_bronze(
        settings,
        "card",
        "transactions",
        "2020-01-01",
        [{"approval_no": "OLD", "customer_no": "C1"}],
    )
    job = _defs(settings).resolve_job_def("purge_job")
    for run in range(2):
        result = job.execute_in_process(
            run_config={"ops": {"purge": {"config": {"as_of": "2026-11-28"}}}}
        )
        assert result.success
        out = next(e for e in result.all_node_events if e.is_successful_output)
        meta = out.step_output_data.metadata
        assert meta["rows_deleted"].value == (1 if run == 0 else 0)
        assert meta["verified"].value is True
    assert delta.read(settings.table_path("bronze", "card", "transactions")).height == 0
    assert read_records(settings.warehouse_dir)["verified"].all()


def test_erasure_and_audience_assets(settings: Settings) -> None:
    write_bronze(
        settings, "card", "customers", "2026-11-20", [{"customer_no": "C1", "gcid": "g" * 64}]
    )
    write_bronze(
        settings,
        "card",
        "erasure_requests",
        "2026-11-24",
        [{"request_id": "Q", "customer_no": "C1"}],
    )
    # an event older than five years (cut-off 2021-11-24): the night deletes it too
    write_bronze(settings, "card", "transactions", "2021-11-23", [{"approval_no": "OLD"}])
    delta.overwrite(
        settings.table_path("gold", "customer_profile"),
        pl.DataFrame(
            {
                "gcid": ["h" * 64],
                "as_of_date": [date(2026, 11, 24)],
                "age_band": ["30-39"],
                "sido_code": ["11"],
                "life_stage": ["ESTABLISHED"],
                "active_affiliate_count": [1],
                "marketing_consent": [True],
            }
        ),
    )
    res = dg.materialize(
        [audit_erasures, marketing_audience],
        partition_key="2026-11-24",
        resources={"dam": _dam(settings)},
    )
    assert res.success
    m = res.asset_materializations_for_node("audit__erasures")[0].metadata
    assert m["customers_erased"].value == 1 and m["verified"].value is True
    assert m["events_older_than_retention_deleted"].value == 1
    assert delta.read(settings.table_path("bronze", "card", "transactions")).height == 0
    a = res.asset_materializations_for_node("gold__marketing_audience")[0].metadata
    assert a["dagster/row_count"].value == 1 and a["gold_tables_vacuumed"].value == 2
    assert a["profiles_without_customers_record"].value == 1  # hand-made profile: no customer
    again = dg.materialize(
        [audit_erasures], partition_key="2026-11-24", resources={"dam": _dam(settings)}
    )
    assert (
        again.asset_materializations_for_node("audit__erasures")[0]
        .metadata["customers_erased"]
        .value
        == 0
    )
