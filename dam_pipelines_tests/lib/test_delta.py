"""lib/delta helpers that pick files by the log (partition values, statistics)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from dam_pipelines.lib import delta


def _batches(path: Path, stats: list[str] | None) -> None:
    for day, n in ((date(2026, 3, 1), 3), (date(2026, 3, 2), 4), (date(2026, 3, 3), 5)):
        delta.append(
            path,
            pl.DataFrame({"month": ["2026-03"] * n, "business_date": [day] * n, "v": range(n)}),
            partition_by=["month"],
            configuration=delta.table_config(stats),
        )


def test_scan_holding_reads_only_the_files_whose_statistics_can_hold_the_values(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t"
    _batches(path, ["month", "business_date"])
    lf = delta.scan_holding(path, "business_date", [date(2026, 3, 2)])
    assert lf is not None
    got = lf.collect()
    assert got.height == 4 and got["business_date"].unique().to_list() == [date(2026, 3, 2)]
    assert got.columns == ["month", "business_date", "v"]  # partition column from the folder
    both = delta.scan_holding(path, "business_date", [date(2026, 3, 1), date(2026, 3, 3)])
    assert both is not None and both.collect().height == 8
    none = delta.scan_holding(path, "business_date", [date(2026, 4, 1)])
    assert none is not None and none.collect().height == 0
    assert delta.scan_holding(tmp_path / "missing", "business_date", []) is None


def test_scan_holding_keeps_files_without_statistics_for_the_column(tmp_path: Path) -> None:
    path = tmp_path / "t"
    _batches(path, ["month"])  # no min/max of business_date in the log
    lf = delta.scan_holding(path, "business_date", [date(2026, 3, 2)])
    assert lf is not None and lf.collect().height == 12  # every file: the caller filters
