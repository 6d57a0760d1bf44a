"""Catalog classification and the consent-only marketing audience."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dam_pipelines.lib import delta
from dam_pipelines.lib.governance import build_marketing_audience, catalog, catalog_markdown
from dam_pipelines.lib.governance.catalog import CLASSES, DIRECT_IDENTIFIERS, asset_metadata
from dam_pipelines.lib.governance.marketing import AUDIENCE_SCHEMA, marketing_audience
from dam_pipelines.lib.registry import FEEDS
from dam_pipelines.settings import Settings


def test_every_table_and_column_is_classified(settings: Settings) -> None:
    entries = {e["table"]: e for e in catalog(settings)}
    for f in FEEDS:
        assert f"bronze/{f.affiliate}/{f.name}" in entries
        assert f"silver/{f.affiliate}/{f.name}" in entries
    for t in (
        "gold/customer_profile",
        "gold/card_category_trends",
        "gold/marketing_audience",
        "audit/batches",
        "audit/quarantine",
        "audit/erasures",
        "governance/suppressions",
    ):
        assert t in entries
    for e in entries.values():
        assert e["owner"] and e["retention"] and e["description"]
        assert e["direct_identifiers_stored"] == [], e["table"]
        assert not set(DIRECT_IDENTIFIERS) & {c["name"] for c in e["columns"]}
        for c in e["columns"]:
            assert c["classification"] in CLASSES
    cls = {c["name"]: c["classification"] for c in entries["bronze/card/transactions"]["columns"]}
    assert cls["customer_no"] == "pseudonymized_key"
    assert cls["card_no"] == "masked_card_number"
    assert cls["approval_no"] == "record_key"
    assert cls["amount"] == "financial"
    assert cls["_batch_id"] == "lineage"
    prof = {c["name"]: c["classification"] for c in entries["gold/customer_profile"]["columns"]}
    assert prof["gcid"] == "pseudonymized_key" and prof["age_band"] == "quasi_identifier"
    assert prof["card_spend_90d"] == "financial" and prof["card_status"] == "attribute"
    trends = {
        c["name"]: c["classification"] for c in entries["gold/card_category_trends"]["columns"]
    }
    assert trends["customer_count"] == "aggregate"
    assert entries["gold/card_category_trends"]["personal_data"] is False
    assert entries["bronze/bank/loans"]["owner"] == "bank"
    assert "90 days" in entries["bronze/bank/loans"]["retention"]


def test_undeclared_tables_are_found_and_classified_by_name(settings: Settings) -> None:
    delta.overwrite(
        settings.table_path("gold", "experiment"),
        pl.DataFrame({"gcid": ["g"], "total_balance": [1], "note": ["x"]}),
    )
    e = next(e for e in catalog(settings) if e["table"] == "gold/experiment")
    assert {c["name"]: c["classification"] for c in e["columns"]}["gcid"] == "pseudonymized_key"


def test_markdown_report_and_asset_metadata(settings: Settings) -> None:
    md = catalog_markdown(settings)
    assert (
        "## `bronze/card/transactions`" in md and "| card_no | String | masked_card_number |" in md
    )
    meta = asset_metadata("bronze/card/customers")
    assert meta["dam/owner"] == "card" and meta["dam/classification"]["gcid"] == "pseudonymized_key"
    assert asset_metadata("nope/nothing") == {}


PROFILE = pl.DataFrame(
    {
        "gcid": ["g2", "g1", "g3"],
        "as_of_date": [date(2026, 11, 24)] * 3,
        "age": [30, 40, 50],
        "age_band": ["30-39", "40-49", "50-59"],
        "gender": ["M", "F", "M"],
        "sido_code": ["11", "26", "11"],
        "marketing_consent": [True, False, None],
        "life_stage": ["ESTABLISHED"] * 3,
        "active_affiliate_count": [2, 1, 0],
        "deposit_balance": [5, 6, 7],
    }
)


def test_only_consenting_customers_with_minimal_columns() -> None:
    got = marketing_audience(PROFILE.lazy()).collect()
    expected = pl.DataFrame(
        {
            "gcid": ["g2"],
            "as_of_date": [date(2026, 11, 24)],
            "age_band": ["30-39"],
            "sido_code": ["11"],
            "life_stage": ["ESTABLISHED"],
            "active_affiliate_count": [2],
        },
        schema=AUDIENCE_SCHEMA,
    )
    assert_frame_equal(got, expected)


def test_build_marketing_audience_twice(settings: Settings) -> None:
    wh = settings.warehouse_dir
    delta.overwrite(wh / "gold" / "customer_profile", PROFILE)
    r1 = build_marketing_audience(wh, date(2026, 11, 24))
    r2 = build_marketing_audience(wh, date(2026, 11, 24))
    assert (r1.rows, r2.rows) == (1, 1) and r2.version == r1.version + 1
    assert delta.read(wh / "gold" / "marketing_audience")["gcid"].to_list() == ["g2"]
    with pytest.raises(RuntimeError, match="not as of"):
        build_marketing_audience(wh, date(2026, 11, 25))
