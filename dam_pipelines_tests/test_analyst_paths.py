"""The README's analyst paths: polars and DuckDB read the same live rows of a Delta table."""

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from dam_pipelines.lib import delta
from dam_pipelines.lib.sql import connect


def test_polars_and_duckdb_read_only_the_live_version(tmp_path):
    warehouse = tmp_path / "warehouse"
    path = warehouse / "gold" / "customer_profile"
    old = pl.DataFrame(
        {"gcid": ["a", "b", "c"], "as_of_date": [date(2026, 11, 23)] * 3, "net_assets": [1, 2, 3]}
    )
    new = pl.DataFrame(
        {"gcid": ["a", "b"], "as_of_date": [date(2026, 11, 24)] * 2, "net_assets": [10, 20]}
    )
    delta.overwrite(path, old)
    delta.overwrite(path, new)  # the old file stays on disk until vacuum

    assert len(list(path.glob("*.parquet"))) == 2
    via_polars = pl.read_delta(str(path)).sort("gcid")
    assert_frame_equal(via_polars, new)
    via_duckdb = connect(warehouse).sql("select * from gold.customer_profile order by gcid").pl()
    assert_frame_equal(via_duckdb, new)
    assert via_polars.to_pandas()["net_assets"].tolist() == [10, 20]


def test_duckdb_views_keep_partition_column_types(tmp_path):
    warehouse = tmp_path / "warehouse"
    path = warehouse / "bronze" / "card" / "transactions"
    df = pl.DataFrame({"amount": [5, 7], "business_date": ["2026-11-23", "2026-11-24"]})
    delta.replace_where(path, df, "true", partition_by=["business_date"])
    out = (
        connect(warehouse)
        .sql(
            "select business_date, sum(amount) as s from bronze.card_transactions group by 1 order by 1"
        )
        .pl()
    )
    assert out.schema["business_date"] == pl.Utf8
    assert out.rows() == [("2026-11-23", 5), ("2026-11-24", 7)]
