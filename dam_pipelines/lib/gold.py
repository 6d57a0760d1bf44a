"""Gold: the published tables of contract §6, rebuilt whole from silver as of D each night."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.conform import empty_silver
from dam_pipelines.lib.profile import AFFILIATES, ProfileInputs, customer_profile
from dam_pipelines.lib.registry import get_feed
from dam_pipelines.lib.silver import (
    WINDOW_SPEND,
    TableResult,
    build_silver,
    silver_as_of,
    silver_keys,
)
from dam_pipelines.lib.trends import people as card_people
from dam_pipelines.lib.trends import publish
from dam_pipelines.lib.trends import shops as card_shops

log = logging.getLogger("dam_pipelines")

PROFILE = "gold/customer_profile"
TRENDS = "gold/card_category_trends"


def _silver(warehouse: Path, affiliate: str, feed: str) -> pl.LazyFrame:
    lf = delta.scan(warehouse / "silver" / affiliate / feed)
    return lf if lf is not None else empty_silver(get_feed(affiliate, feed)).lazy()


def _window(lf: pl.LazyFrame, as_of: date, days: int = 90) -> pl.LazyFrame:
    # Prunes event-date partitions before anything is read.
    return lf.filter(pl.col("event_date").is_between(as_of - timedelta(days=days - 1), as_of))


def _card_window(warehouse: Path) -> pl.LazyFrame:
    from dam_pipelines.lib.card_window import SCHEMA

    lf = delta.scan(warehouse / WINDOW_SPEND)
    return lf if lf is not None else pl.DataFrame(schema=SCHEMA).lazy()


def profile_inputs(warehouse: Path, as_of: date) -> ProfileInputs:
    """Lazy scans of the silver tables the profile needs (events limited to the 90d window;
    card transactions through their window sums, ``silver/card/window_spend``)."""
    return ProfileInputs(
        customers={a: _silver(warehouse, a, "customers") for a in AFFILIATES},
        card_window=_card_window(warehouse),
        deposit_accounts=_silver(warehouse, "bank", "deposit_accounts"),
        loans=_silver(warehouse, "bank", "loans"),
        holdings=_silver(warehouse, "securities", "holdings"),
        trades=_window(_silver(warehouse, "securities", "trades"), as_of),
        policies=_silver(warehouse, "life", "policies"),
        premium_payments=_window(_silver(warehouse, "life", "premium_payments"), as_of),
    )


def card_category_trends(
    warehouse: Path, age_bands: pl.DataFrame, as_of: date, *, k: int
) -> pl.DataFrame:
    """The published trend cells as of ``as_of`` (``age_bands``: gcid -> age band as of D).

    Months of ``silver/card/transactions_monthly`` whose rows did not change are carried
    forward from the last build by the persons and merchants whose attributes changed; the
    others are recomputed, one month at a time (:mod:`~dam_pipelines.lib.trend_cells`).
    """
    from dam_pipelines.lib.trend_cells import build_cells

    people = card_people(
        _silver(warehouse, "card", "customers").select("customer_no", "gcid", "business_date"),
        age_bands.lazy(),
    ).collect()
    shops = card_shops(_silver(warehouse, "card", "merchants")).collect()
    cells = build_cells(warehouse, people, shops, as_of.isoformat()).cells
    return publish(cells.lazy(), k=k).collect().rechunk()


def ensure_silver(warehouse: Path, as_of: date, refresh: bool = False) -> None:
    """Bring silver to ``as_of`` (``refresh``) or insist that it already is."""
    if refresh:
        build_silver(warehouse, as_of)  # a no-op for tables already as of D and unchanged
        return
    stale = [k for k in silver_keys() if silver_as_of(warehouse, k) != as_of]
    if stale:
        raise RuntimeError(f"silver is not as of {as_of}: {', '.join(stale)}; run build_silver")


def gold_frames(warehouse: Path, as_of: date, *, k: int = 5) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Build (without writing) the profile and the trends as of ``as_of`` from silver."""
    profile = (
        customer_profile(profile_inputs(warehouse, as_of), as_of)
        .collect(engine="streaming")
        .rechunk()  # one chunk: written in this order
    )
    trends = card_category_trends(warehouse, profile.select("gcid", "age_band"), as_of, k=k)
    return profile, trends


def write_gold(
    warehouse: Path, as_of: date, profile: pl.DataFrame, trends: pl.DataFrame, *, k: int
) -> dict[str, TableResult]:
    """Publish both gold tables (one overwrite commit each) with as-of in the metadata."""
    meta = {"dam.as_of": as_of.isoformat()}
    v_profile = delta.overwrite(
        warehouse / PROFILE,
        profile,
        configuration=delta.table_config(["as_of_date"]),
        metadata=meta,
    )
    v_trends = delta.overwrite(warehouse / TRENDS, trends, metadata={**meta, "dam.k": k})
    log.info("gold as of %s: %d profiles, %d trend cells", as_of, profile.height, trends.height)
    return {
        PROFILE: TableResult(PROFILE, profile.height, v_profile, {"as_of": as_of.isoformat()}),
        TRENDS: TableResult(TRENDS, trends.height, v_trends, {"as_of": as_of.isoformat(), "k": k}),
    }


def build_gold(
    warehouse: Path, as_of: date, *, k: int = 5, refresh_silver: bool = True
) -> dict[str, TableResult]:
    """Replace ``gold/customer_profile`` and ``gold/card_category_trends`` as of ``as_of``.

    Silver is brought to ``as_of`` first unless ``refresh_silver`` is False, in which case
    every silver table must already be as of ``as_of``. ``k`` is the trends' k-anonymity.
    """
    ensure_silver(warehouse, as_of, refresh_silver)
    profile, trends = gold_frames(warehouse, as_of, k=k)
    return write_gold(warehouse, as_of, profile, trends, k=k)
