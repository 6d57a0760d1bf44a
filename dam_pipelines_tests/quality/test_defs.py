"""The Dagster wiring: blocking silver checks stop gold; the gate refuses gold on its own."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from dam_pipelines.defs.partitions import daily
from dam_pipelines.defs.quality import publish_gold, quality_checks
from dam_pipelines.defs.quality.checks import asset_key
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib import delta
from dam_pipelines.lib.quality import SILVER_SPECS, TABLE_SPECS, Severity, planned_checks
from dam_pipelines_tests.quality import kit
from dam_pipelines_tests.quality.test_checks import PLANTED, TXNS

PROFILE = "gold/customer_profile"
ROLLUP = "silver/card/transactions_monthly"


UPSTREAM = [*SILVER_SPECS, "audit/batches", "gold/card_category_trends"]


@dg.multi_asset(
    specs=[dg.AssetSpec(asset_key(t), group_name=t.split("/")[0]) for t in UPSTREAM],
    partitions_def=daily,
)
def upstream():
    """Stand-ins for silver, audit and trends: the kit wrote their tables already."""
    for t in UPSTREAM:
        yield dg.MaterializeResult(asset_key=asset_key(t))


@dg.asset(
    key=asset_key(PROFILE),
    group_name="gold",
    partitions_def=daily,
    deps=[asset_key(t) for t in SILVER_SPECS],
)
def profile_asset(context: dg.AssetExecutionContext, dam: DamResource) -> dg.MaterializeResult:
    """Stand-in for the real gold asset: rebuild the profile, publish through the gate."""
    from dam_pipelines.lib.gold import profile_inputs
    from dam_pipelines.lib.profile import customer_profile

    settings = dam.settings()
    as_of = date.fromisoformat(context.partition_key)
    df = customer_profile(profile_inputs(settings.warehouse_dir, as_of), as_of).collect()
    version, _ = publish_gold(
        context,
        settings,
        PROFILE,
        df,
        as_of,
        lambda f: delta.overwrite(settings.warehouse_dir / PROFILE, f),
    )
    return dg.MaterializeResult(metadata={"delta_version": version})


ASSETS = [upstream, profile_asset]


def _run(warehouse: Path, selection: list[dg.AssetKey] | None = None):
    return dg.materialize(
        [*ASSETS, *quality_checks],
        partition_key=kit.D.isoformat(),
        raise_on_error=False,
        resources={"dam": DamResource(warehouse_dir=str(warehouse))},
        selection=selection,
    )


def test_specs_are_the_planned_checks_with_blocking_errors():
    defs = dg.Definitions(
        assets=ASSETS, asset_checks=quality_checks, resources={"dam": DamResource()}
    )
    dg.Definitions.validate_loadable(defs)
    specs = {(s.asset_key, s.name): s for c in quality_checks for s in c.check_specs}
    planned = {(asset_key(t), pc.name): pc for t in TABLE_SPECS for pc in planned_checks(t)}
    assert specs.keys() == planned.keys()
    assert all(specs[k].blocking == (pc.severity is Severity.ERROR) for k, pc in planned.items())


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    return tmp_path / "dagster_home"


def test_clean_night_publishes_gold(warehouse: Path, dagster_home: Path):
    before = delta.version(warehouse / PROFILE)
    result = _run(warehouse)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations)
    assert delta.version(warehouse / PROFILE) == before + 1  # type: ignore[operator]


def test_blocking_silver_failure_keeps_the_previous_gold(warehouse: Path, dagster_home: Path):
    PLANTED["enum"][0](warehouse)
    before = delta.version(warehouse / PROFILE)

    result = _run(warehouse)  # the whole night: silver checks, then gold
    assert not result.success
    failed = {
        (e.asset_key, e.check_name): e
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    }
    # the REFUND is no longer a PURCHASE, so the monthly rollup and the card window sums no
    # longer reconcile either
    assert failed.keys() == {
        (asset_key(TXNS), "enums"),
        (asset_key(ROLLUP), "rollup_reconciliation"),
        (asset_key("silver/card/window_spend"), "window_spend_reconciliation"),
    }
    bad = failed[(asset_key(TXNS), "enums")]
    meta = {k: v.value for k, v in bad.metadata.items()}
    assert meta["offending_rows"] == 1
    assert meta["expectation"].startswith("expect_column_values_to_be_in_set(txn_type)")
    assert "REFUND" in meta["sample"] and meta["data_docs"].startswith("file://")
    assert not [v for v in kit.identifier_values(warehouse) if v in str(meta)]
    assert asset_key(PROFILE) not in {
        m.asset_key for m in result.get_asset_materialization_events() if m.asset_key
    }  # gold skipped
    assert delta.version(warehouse / PROFILE) == before

    result = _run(warehouse, selection=[asset_key(PROFILE)])  # gold alone: the gate refuses
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert "gold/customer_profile not published for 2026-11-24" in message
    assert "silver/card/transactions · enums FAILED (ERROR)" in message
    assert "1 offending" in message
    assert delta.version(warehouse / PROFILE) == before
    gold_rows = kit.read(warehouse, PROFILE)
    assert gold_rows.height == kit.read(warehouse, PROFILE).height and gold_rows.height > 0
    assert pl.Series(gold_rows["as_of_date"]).unique().to_list() == [kit.D]
