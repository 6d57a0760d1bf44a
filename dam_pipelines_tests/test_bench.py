"""The benchmark at a toy scale: the JSON has the documented structure (no timing asserted)."""

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dam_pipelines.lib import delta
from dam_pipelines.lib.bench import NIGHT_STAGES, floor_profile, pandas_profile, run_bench
from dam_pipelines.lib.gold import build_gold

STAGE_FIELDS = {"wall_s", "cpu_s", "rows_in", "rows_out", "peak_rss_bytes"}
TOP = {
    "night_s",
    "night_peak_rss_bytes",
    "growth_ratio",
    "floor_ratio",
    "pandas_ratio",
    "ingest_rows_per_s",
    "erasure_s",
}


@pytest.mark.slow
def test_bench_writes_the_documented_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    lines: list[str] = []
    result = run_bench(300, 12, seed=3, work_dir=tmp_path / "work", json_path=out, out=lines.append)
    data = json.loads(out.read_text())
    assert data["customers"] == 300 and data["days"] == 12
    assert set(data["stages"]) == {"generation", *NIGHT_STAGES, "erasure", "purge"}
    for stage in data["stages"].values():
        assert set(stage) == STAGE_FIELDS
        assert stage["wall_s"] >= 0 and stage["peak_rss_bytes"] > 0
    assert set(data) >= TOP
    assert all(isinstance(data[k], int | float) and data[k] >= 0 for k in TOP), data
    assert data["night_s"] == pytest.approx(sum(data["stages"][s]["wall_s"] for s in NIGHT_STAGES))
    assert len(data["nights"]) == 12
    assert data["erasure_customers"] > 0 and data["erasure_verified"] and data["purge_verified"]
    assert data["stages"]["ingestion"]["rows_out"] > 0
    assert lines[-1].startswith("bench 300 customers x 12 days: night ")
    assert result["stages"] == data["stages"]
    # The engine floor and the pandas peer compute the published profile (before the bench's
    # erasure and purge changed silver, gold was as of the last night; rebuild it to compare).
    wh, as_of = tmp_path / "work" / "warehouse", date.fromisoformat(data["as_of"])
    build_gold(wh, as_of)
    gold = delta.read(wh / "gold" / "customer_profile")
    floor = floor_profile(wh, as_of)
    assert set(floor.columns) == set(gold.columns)
    assert_frame_equal(floor.select(gold.columns), gold, check_dtypes=False, abs_tol=1e-9)
    peer = pl.from_pandas(pandas_profile(wh, as_of)).select(gold.columns)
    assert peer["gcid"].to_list() == gold["gcid"].to_list()
    for col in ("age", "card_spend_90d", "deposit_balance", "net_assets", "life_stage", "age_band"):
        assert peer[col].cast(gold[col].dtype).to_list() == gold[col].to_list(), col


def test_bench_refuses_to_clear_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a bench work dir"):
        run_bench(10, 1, work_dir=tmp_path, out=lambda _m: None)
    assert (tmp_path / "precious.txt").exists()
