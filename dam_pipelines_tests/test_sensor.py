"""The landing-zone sensor asks for ingestion of new ready batches, and only of those."""

from datetime import UTC, datetime

import dagster as dg

from dam_pipelines.definitions import build_definitions
from dam_pipelines.defs.resources import DamResource
from dam_pipelines.lib.ingest import ingest_feeds
from dam_pipelines.lib.registry import get_feed
from dam_pipelines_tests.feedkit import deliver, transactions


def _evaluate(settings):
    dam = DamResource(
        landing_dir=str(settings.landing_dir),
        warehouse_dir=str(settings.warehouse_dir),
        pseudonym_key=settings.pseudonym_key,
    )
    defs = build_definitions(dam)
    sensor = defs.get_repository_def().get_sensor_def("landing_zone_sensor")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, definitions=defs, resources={"dam": dam})
        return sensor(ctx)


def _requests(result):
    if isinstance(result, dg.SkipReason):
        return []
    return list(result or [])


def test_sensor_requests_the_batch_partition_and_feed_then_goes_quiet(settings):
    assert _requests(_evaluate(settings)) == []
    deliver(
        settings.landing_dir,
        "card",
        "transactions",
        "2026-11-20",
        transactions(2, day="2026-11-20"),
    )
    deliver(
        settings.landing_dir,
        "card",
        "transactions",
        "2026-11-21",
        transactions(2, day="2026-11-21"),
        write_manifest=False,
    )  # not ready: ignored
    reqs = _requests(_evaluate(settings))
    assert [(r.partition_key, r.asset_selection) for r in reqs] == [
        ("2026-11-20", [dg.AssetKey(["bronze", "card", "transactions"])])
    ]
    ingest_feeds(
        settings,
        [get_feed("card", "transactions")],
        "2026-11-20",
        run_id="t",
        now=datetime(2026, 11, 21, tzinfo=UTC),
    )
    assert _requests(_evaluate(settings)) == []
