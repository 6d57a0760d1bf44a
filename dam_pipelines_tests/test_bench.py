"""The benchmark at a toy scale: the JSON has the documented structure (no timing asserted)."""

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dam_pipelines.lib import delta
from dam_pipelines.lib.bench import (
    ERASURE_STAGE,
    NIGHT_STAGES,
    floor_profile,
    measured_days,
    pandas_profile,
    run_bench,
)
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


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[str]]:
    """Every night of a 300-customer, 12-day history run and timed (warehouse kept)."""
    tmp = tmp_path_factory.mktemp("bench_full")
    lines: list[str] = []
    result = run_bench(
        300,
        12,
        seed=3,
        work_dir=tmp / "work",
        json_path=tmp / "bench.json",
        keep=True,
        erasures=30,  # of 300 customers: the profiles compared below keep most of them
        out=lines.append,
    )
    return tmp, result, lines


@pytest.mark.slow
def test_bench_writes_the_documented_json(full_run: tuple[Path, dict, list[str]]) -> None:
    tmp_path, result, lines = full_run
    out = tmp_path / "bench.json"
    data = json.loads(out.read_text())
    assert data["customers"] == 300 and data["days"] == 12
    assert set(data["stages"]) == {"generation", *NIGHT_STAGES, ERASURE_STAGE, "erasure", "purge"}
    for stage in data["stages"].values():
        assert set(stage) == STAGE_FIELDS
        assert stage["wall_s"] >= 0 and stage["peak_rss_bytes"] > 0
    assert set(data) >= TOP
    assert all(isinstance(data[k], int | float) and data[k] >= 0 for k in TOP), data
    assert data["night_s"] == pytest.approx(sum(data["stages"][s]["wall_s"] for s in NIGHT_STAGES))
    assert [n["day"] for n in data["nights"]] == list(range(1, 13))
    assert {n["kind"] for n in data["nights"]} == {"night"}
    # every timed night starts on settled disks (os.sync, untimed)
    assert all(n["settle_s"] >= 0 for n in data["nights"])
    assert data["night_with_erasures_s"] == pytest.approx(
        data["night_s"] + data["stages"][ERASURE_STAGE]["wall_s"]
    )
    assert data["growth_ratio"] == pytest.approx(
        data["nights"][11]["wall_s"] / data["nights"][9]["wall_s"]
    )
    assert data["erasure_customers"] > 0 and data["erasure_verified"] and data["purge_verified"]
    assert data["stages"]["ingestion"]["rows_out"] > 0
    assert lines[-1].startswith("bench 300 customers x 12 days: night ")
    assert result["stages"] == data["stages"]

    # The engine floor and the pandas peer compute the published profile (before the bench's
    # erasure and purge changed silver, gold was as of the last night; rebuild it to compare).
    wh, as_of = tmp_path / "work" / "warehouse", date.fromisoformat(data["as_of"])
    gold = _rebuilt_profile(wh, as_of)
    for card in ("window", "transactions"):  # the window sums, or 90 days of transactions
        floor = floor_profile(wh, as_of, card=card)
        assert set(floor.columns) == set(gold.columns)
        assert_frame_equal(floor.select(gold.columns), gold, check_dtypes=False, abs_tol=1e-9)
    peer = pl.from_pandas(pandas_profile(wh, as_of)).select(gold.columns)
    assert peer["gcid"].to_list() == gold["gcid"].to_list()
    for col in ("age", "card_spend_90d", "deposit_balance", "net_assets", "life_stage", "age_band"):
        assert peer[col].cast(gold[col].dtype).to_list() == gold[col].to_list(), col


def _rebuilt_profile(wh: Path, as_of: date) -> pl.DataFrame:
    build_gold(wh, as_of)
    gold = delta.read(wh / "gold" / "customer_profile")
    assert gold is not None
    return gold.sort("gcid")


def test_catch_up_times_only_day_10_and_the_last_night() -> None:
    assert measured_days(90, catch_up=True) == [10, 90]
    assert measured_days(12, catch_up=False) == list(range(1, 13))
    assert measured_days(5, catch_up=True) == [5]


@pytest.mark.slow
def test_catch_up_reaches_the_same_warehouse(
    full_run: tuple[Path, dict, list[str]], tmp_path: Path
) -> None:
    """Bringing the history up a week at a time gives the tables night-by-night runs give."""
    result = run_bench(
        300,
        12,
        seed=3,
        work_dir=tmp_path / "work",
        keep=True,
        catch_up=True,
        erasures=30,
        out=lambda _m: None,
    )
    kinds = [(n["kind"], n["day"]) for n in result["nights"]]
    assert kinds == [
        ("catch_up", 7),
        ("catch_up", 9),
        ("night", 10),
        ("catch_up", 11),
        ("night", 12),
    ]
    assert result["growth_ratio"] is not None and result["catch_up"] is True
    assert result["erasure_verified"] and result["purge_verified"]
    as_of = date.fromisoformat(result["as_of"])
    full_wh = full_run[0] / "work" / "warehouse"
    ours = _rebuilt_profile(tmp_path / "work" / "warehouse", as_of)
    theirs = _rebuilt_profile(full_wh, as_of)
    assert ours.height > 0
    assert_frame_equal(ours, theirs)


def test_a_prepared_warehouse_times_its_last_night_and_stays_as_it_was(
    full_run: tuple[Path, dict, list[str]], tmp_path: Path
) -> None:
    """--prepare keeps the history up to the day before the last; --night-on runs that night
    on a copy, twice with the same result, and the prepared warehouse is left untouched."""
    from dam_pipelines.lib.bench import prepare_warehouse, time_prepared_night

    work = tmp_path / "prep"
    meta = prepare_warehouse(300, 12, seed=3, work_dir=work, out=lambda _m: None)
    assert meta["prepared_as_of"] == "2026-01-11" and meta["night"] == "2026-01-12"

    def files() -> dict[str, int]:
        wh = work / "warehouse"
        return {str(f.relative_to(wh)): f.stat().st_size for f in wh.rglob("*") if f.is_file()}

    before = files()
    first = time_prepared_night(work, json_path=tmp_path / "night.json", out=lambda _m: None)
    second = time_prepared_night(work, out=lambda _m: None)
    assert files() == before  # the kept warehouse did not change
    assert not any((work / "runs").iterdir())  # the copies are gone
    on_disk = json.loads((tmp_path / "night.json").read_text())
    assert on_disk["night"] == "2026-01-12" and on_disk["night_s"] > 0
    for r in (first, second):
        assert set(r["stages"]) == {
            "ingestion",
            "night_erasures",
            "silver",
            "gold",
            "quality",
            "audience",
        }
        assert r["stages"]["ingestion"]["rows_out"] > 0
    # the same night on the same history: the same rows everywhere
    assert {k: v["rows_out"] for k, v in first["stages"].items()} == {
        k: v["rows_out"] for k, v in second["stages"].items()
    }
    # and the same profile as the night-by-night run of the same scenario reached
    assert first["stages"]["gold"]["rows_out"] == full_run[1]["stages"]["gold"]["rows_out"]


def test_bench_refuses_to_clear_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a bench work dir"):
        run_bench(10, 1, work_dir=tmp_path, out=lambda _m: None)
    assert (tmp_path / "precious.txt").exists()
