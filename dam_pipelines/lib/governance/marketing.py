"""``gold/marketing_audience``: who marketing may contact, and no more than it needs.

Only customers whose unified ``marketing_consent`` is true (contract §6: at least one open
relationship and every open one says Y); only the columns a campaign selects on.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from dam_pipelines.lib import delta

AUDIENCE = ("gold", "marketing_audience")
PROFILE = ("gold", "customer_profile")

AUDIENCE_SCHEMA: dict[str, pl.DataType] = {
    "gcid": pl.Utf8(),
    "as_of_date": pl.Date(),
    "age_band": pl.Utf8(),
    "sido_code": pl.Utf8(),
    "life_stage": pl.Utf8(),
    "active_affiliate_count": pl.Int64(),
}


def marketing_audience(profile: pl.LazyFrame) -> pl.LazyFrame:
    """Consenting customers only, minimal columns (pure)."""
    return (
        profile.filter(pl.col("marketing_consent").fill_null(False))
        .select([pl.col(c).cast(t) for c, t in AUDIENCE_SCHEMA.items()])
        .sort("gcid")
    )


def build_marketing_audience(warehouse: Path, as_of: date):  # -> silver.TableResult
    """Replace ``gold/marketing_audience`` from ``gold/customer_profile`` as of ``as_of``."""
    from dam_pipelines.lib.silver import TableResult

    lf = delta.scan(warehouse.joinpath(*PROFILE))
    if lf is None:
        raise RuntimeError("gold/customer_profile does not exist yet: build gold first")
    stale = lf.filter(pl.col("as_of_date") != as_of).select(pl.len()).collect().item()
    if stale:
        raise RuntimeError(f"gold/customer_profile is not as of {as_of}: build gold first")
    df = marketing_audience(lf).collect()
    key = "/".join(AUDIENCE)
    v = delta.overwrite(
        warehouse.joinpath(*AUDIENCE),
        df,
        configuration=delta.table_config(
            ["as_of_date", "age_band", "sido_code", "life_stage", "active_affiliate_count"]
        ),
        metadata={"dam.as_of": as_of.isoformat()},
    )
    return TableResult(
        key,
        df.height,
        v,
        {
            "as_of": as_of.isoformat(),
            "excluded_without_consent": lf.select(pl.len()).collect().item() - df.height,
        },
    )
