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


def test_may_hold_before_reads_partition_values_then_statistics(tmp_path: Path) -> None:
    with_stats, without, by_day = tmp_path / "s", tmp_path / "n", tmp_path / "p"
    _batches(with_stats, ["month", "business_date"])
    _batches(without, ["month"])
    assert delta.may_hold_before(with_stats, "business_date", date(2026, 3, 2))  # 03-01
    assert not delta.may_hold_before(with_stats, "business_date", date(2026, 3, 1))
    assert delta.may_hold_before(without, "business_date", date(2000, 1, 1))  # unknown: may
    for day in ("2026-03-01", "2026-03-02"):  # a partition value, as text in the log
        delta.append(by_day, pl.DataFrame({"day": [day], "v": [1]}), partition_by=["day"])
    assert delta.may_hold_before(by_day, "day", date(2026, 3, 2))
    assert not delta.may_hold_before(by_day, "day", date(2026, 3, 1))
    assert not delta.may_hold_before(tmp_path / "missing", "day", date(2026, 3, 1))
