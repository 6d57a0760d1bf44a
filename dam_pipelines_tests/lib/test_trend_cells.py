"""gold/card_category_trends carried forward: closed months move by their changed persons and
merchants only, and every night equals a recompute of every month."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dam_pipelines.lib import delta
from dam_pipelines.lib.gold import PROFILE, TRENDS, build_gold
from dam_pipelines.lib.governance.erasure import apply_erasures
from dam_pipelines.lib.silver import ROLLUP, build_silver, read_state
from dam_pipelines.lib.trend_cells import (
    PEOPLE,
    STATE,
    changed_customers,
    changed_merchants,
    load_cache,
    whole_persons,
)
from dam_pipelines.lib.trends import CELL, TRENDS_SCHEMA, add_cells, category_trends
from dam_pipelines.settings import Settings
from dam_pipelines_tests.bronzekit import BronzeKit

D0 = date(2026, 1, 28)


def s(day: date) -> str:
    return day.isoformat()


@pytest.fixture
def kit(settings: Settings) -> BronzeKit:
    return BronzeKit(settings.warehouse_dir)


def _customer(no: str, person: str, birth: str = "1980-05-10") -> dict[str, Any]:
    return {"customer_no": no, "person": person, "birth_date": birth}


def _batch(kit: BronzeKit, day: date, customers: list[str]) -> None:
    """A night's card purchases and cancels: every listed customer at several merchants (M9
    unknown at first), some dated one or two days late."""
    rows = [
        {
            "approval_no": f"T{s(day)}-{c}-{j}",
            "customer_no": c,
            "approved_at": f"{s(day - timedelta(days=j % 3))}T12:00:00+09:00",
            "amount": 100 + 10 * j + day.day,
            "merchant_id": ("M1", "M2", "M3", "M9")[(j + i + day.day) % 4],
            "txn_type": "CANCEL" if j == 2 else "PURCHASE",
            "original_approval_no": "X" if j == 2 else None,
        }
        for i, c in enumerate(customers)
        for j in range(3)
    ]
    kit.load("card", "transactions", s(day), rows)


def _published(warehouse: Path) -> pl.DataFrame:
    df = delta.read(warehouse / TRENDS)
    assert df is not None and df.schema == TRENDS_SCHEMA
    return df


def _recomputed(warehouse: Path) -> pl.DataFrame:
    """Every month's cells at k = 1, straight from the rollup and the tables as of D."""
    rollup, cards, shops = (
        delta.scan(warehouse / t)
        for t in (ROLLUP, "silver/card/customers", "silver/card/merchants")
    )
    profile = delta.scan(warehouse / PROFILE)
    assert rollup is not None and cards is not None and shops is not None and profile is not None
    return category_trends(rollup, cards, profile, shops, k=1).collect()


def _night(kit: BronzeKit, night: dict[str, Any]) -> dict[str, Any]:
    build_silver(kit.warehouse, night["day"])
    build_gold(kit.warehouse, night["day"], k=1, refresh_silver=False)
    assert_frame_equal(_published(kit.warehouse), _recomputed(kit.warehouse))
    state = read_state(kit.warehouse, STATE)
    assert state is not None
    return state


def test_closed_months_move_by_their_changed_persons_as_a_recompute_would(
    kit: BronzeKit, settings: Settings
) -> None:
    people = [
        _customer("C1", "p1", "1996-02-01"),  # 30 on 1 Feb: 20-29 -> 30-39
        _customer("C2", "p2"),
        _customer("C3", "p3", "1986-02-05"),  # 40 on 5 Feb
        _customer("C4", "p4"),
        _customer("C5", "p5"),
    ]
    kit.load("card", "customers", s(D0), people)
    kit.load(
        "card",
        "merchants",
        s(D0),
        [
            {"merchant_id": "M1", "category": "CAFE", "sido_code": "11"},
            {"merchant_id": "M2", "category": "CAFE", "sido_code": "11"},
            {"merchant_id": "M3", "category": "FUEL", "sido_code": "26"},
        ],
    )
    # C6 (the same person as C5) and C7 buy before the card company delivers their records.
    buyers = ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]
    states = {}
    for day in [D0 + timedelta(days=i) for i in range(7)]:  # 28 Jan .. 3 Feb
        _batch(kit, day, buyers)
        if day == date(2026, 1, 30):  # M2 moves to Busan as FUEL, M9 becomes known
            kit.load(
                "card",
                "merchants",
                s(day),
                [
                    {"merchant_id": "M2", "category": "FUEL", "sido_code": "26"},
                    {"merchant_id": "M9", "category": "TRAVEL", "sido_code": "42"},  # -> 51
                ],
            )
        if day == date(2026, 2, 1):  # late master data: C7's January events start counting
            kit.load("card", "customers", s(day), [_customer("C7", "p7")])
        if day == date(2026, 2, 3):  # C4 asks to be erased: January's rollup is rewritten
            kit.load(
                "card", "erasure_requests", s(day), [{"request_id": "R1", "customer_no": "C4"}]
            )
            assert apply_erasures(settings, day).verified
        states[day] = _night(kit, {"day": day})
    assert states[date(2026, 2, 3)]["recomputed"] == ["2026-01", "2026-02"]  # erasure, appends

    # 10 Feb: January is closed; C3 turned 40 and C6 (C5's person) arrives: January is
    # carried forward, re-filing those persons only (C5 too, since C6 shares its gcid).
    day = date(2026, 2, 10)
    kit.load("card", "customers", s(day), [_customer("C6", "p5")])
    _batch(kit, day, ["C1", "C2", "C3"])
    state = _night(kit, {"day": day})
    assert state["carried"] == ["2026-01"] and state["recomputed"] == ["2026-02"]
    assert state["refiled_customers"] == 3  # C3, C5, C6

    # 2 Mar: M1 becomes a RESTAURANT and C8 arrives: January is re-filed by merchant.
    day = date(2026, 3, 2)
    kit.load("card", "merchants", s(day), [{"merchant_id": "M1", "category": "RESTAURANT"}])
    kit.load("card", "customers", s(day), [_customer("C8", "p8")])
    _batch(kit, day, ["C2", "C8"])
    state = _night(kit, {"day": day})
    assert state["carried"] == ["2026-01"], state
    assert state["recomputed"] == ["2026-02", "2026-03"]
    published = _published(kit.warehouse)
    jan = published.filter(pl.col("month") == "2026-01")
    assert "RESTAURANT" in jan["category"].to_list() and "CAFE" not in jan["category"].to_list()
    assert "C4" not in delta.read(kit.warehouse / PEOPLE)["customer_no"].to_list()

    # An unchanged night carries every closed month without reading it.
    state = _night(kit, {"day": day})
    assert state["carried"] == ["2026-01", "2026-02", "2026-03"] and state["refiled_customers"] == 0


def test_the_erasure_deletes_its_subjects_from_the_people_and_proves_it(
    kit: BronzeKit, settings: Settings
) -> None:
    kit.load("card", "customers", s(D0), [_customer(f"C{i}", f"p{i}") for i in range(1, 4)])
    kit.load("card", "merchants", s(D0), [{"merchant_id": m} for m in ("M1", "M2", "M3")])
    _batch(kit, D0, ["C1", "C2", "C3"])
    _night(kit, {"day": D0})
    day = D0 + timedelta(days=1)
    kit.load("card", "erasure_requests", s(day), [{"request_id": "R1", "customer_no": "C2"}])
    report = apply_erasures(settings, day)
    assert report.verified
    assert report.changes[PEOPLE].rows_deleted == 1
    assert "C2" not in delta.read(kit.warehouse / PEOPLE)["customer_no"].to_list()
    assert load_cache(kit.warehouse) is not None  # the rows left still carry the build's token
    _batch(kit, day, ["C1", "C3"])
    _night(kit, {"day": day})


def test_a_cache_that_does_not_match_is_never_used(kit: BronzeKit) -> None:
    kit.load("card", "customers", s(D0), [_customer(f"C{i}", f"p{i}") for i in range(1, 4)])
    kit.load("card", "merchants", s(D0), [{"merchant_id": m} for m in ("M1", "M2", "M3")])
    _batch(kit, D0, ["C1", "C2", "C3"])
    _night(kit, {"day": D0})
    feb = date(2026, 2, 5)
    _batch(kit, feb, ["C1"])
    assert _night(kit, {"day": feb})["carried"] == ["2026-01"]

    # The people table rewritten without its state (a crash between the two writes).
    people = delta.read(kit.warehouse / PEOPLE)
    delta.replace_where(
        kit.warehouse / PEOPLE, people.with_columns(pl.lit("other").alias("build")), "true"
    )
    assert load_cache(kit.warehouse) is None
    assert _night(kit, {"day": feb})["recomputed"] == ["2026-01", "2026-02"]

    # Cached cells that do not add up (here: a January cell lost) are recomputed, not trusted.
    state = read_state(kit.warehouse, STATE)
    cells_file = next((kit.warehouse / "_state/gold").glob(f"*.{state['token']}.cells.parquet"))
    pl.read_parquet(cells_file).filter(pl.col("month") != "2026-01").write_parquet(cells_file)
    kit.load("card", "customers", s(feb), [_customer("C1", "p1", "2010-01-01")])  # 0-19 now
    build_silver(kit.warehouse, feb)
    state = _night(kit, {"day": feb})
    assert state["recomputed"] == ["2026-01"] and state["carried"] == ["2026-02"]


def test_a_month_with_too_many_changed_persons_is_recomputed(
    kit: BronzeKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dam_pipelines.lib.trend_cells as trend_cells

    kit.load("card", "customers", s(D0), [_customer(f"C{i}", f"p{i}") for i in range(1, 4)])
    kit.load("card", "merchants", s(D0), [{"merchant_id": m} for m in ("M1", "M2", "M3")])
    _batch(kit, D0, ["C1", "C2", "C3"])
    _night(kit, {"day": D0})
    monkeypatch.setattr(trend_cells, "REFILE_MIN", 1)
    feb = date(2026, 2, 5)
    kit.load("card", "customers", s(feb), [_customer("C4", "p4")])  # one of four: carried
    _batch(kit, feb, ["C1"])
    assert _night(kit, {"day": feb})["carried"] == ["2026-01"]
    kit.load(  # two of four (50% > 10%, and > 1): recomputed
        "card", "customers", s(feb), [_customer(f"C{i}", f"p{i}", "2010-01-01") for i in (1, 2)]
    )
    build_silver(kit.warehouse, feb)
    assert _night(kit, {"day": feb})["recomputed"] == ["2026-01", "2026-02"]


# --- pure functions ------------------------------------------------------------------------


def _people(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["customer_no", "gcid", "age_band"], orient="row")


def test_changed_customers_and_whole_persons() -> None:
    old = _people([("C1", "g1", "30-39"), ("C2", "g2", "40-49"), ("C3", "g3", "40-49")])
    new = _people([("C1", "g1", "30-39"), ("C2", "g2", "50-59"), ("C4", "g3", "40-49")])
    changed = changed_customers(old, new)
    assert sorted(changed["customer_no"]) == ["C2", "C3", "C4"]
    assert sorted(whole_persons(pl.DataFrame({"customer_no": ["C4"]}), old, new)) == ["C3", "C4"]
    shops_old = pl.DataFrame(
        {"merchant_id": ["M1", "M2"], "sido_code": ["11", "11"], "category": ["CAFE", "FUEL"]}
    )
    shops_new = pl.DataFrame(
        {"merchant_id": ["M1", "M3"], "sido_code": ["11", "26"], "category": ["CAFE", "FUEL"]}
    )
    assert sorted(changed_merchants(shops_old, shops_new)) == ["M2", "M3"]


def test_add_cells_adds_subtracts_and_refuses_to_go_negative() -> None:
    def cells(rows: list[tuple[str, int, int, int]]) -> pl.DataFrame:
        return pl.DataFrame(
            [("2026-01", "11", cat, "30-39", *v) for cat, *v in rows],
            schema=TRENDS_SCHEMA,
            orient="row",
        )

    base = cells([("CAFE", 3, 5, 500), ("FUEL", 1, 1, 10)])
    got = add_cells(base, cells([("CAFE", 1, 2, 20)]), cells([("FUEL", 1, 1, 10)]))
    assert_frame_equal(got.sort(CELL), cells([("CAFE", 4, 7, 520)]))
    with pytest.raises(ValueError, match="negative"):
        add_cells(base, cells([]), cells([("FUEL", 2, 1, 10)]))


def test_the_purge_leaves_the_cache_exact(kit: BronzeKit, settings: Settings) -> None:
    """The weekly purge vacuums every table (the people table too) and deletes what the
    retention rules expire: the next night still equals a recompute, and months whose rollup
    files the purge did not rewrite are still carried forward."""
    from dam_pipelines.lib.governance.retention import run_purge

    kit.load("card", "customers", s(D0), [_customer(f"C{i}", f"p{i}") for i in range(1, 4)])
    kit.load("card", "merchants", s(D0), [{"merchant_id": m} for m in ("M1", "M2", "M3")])
    _batch(kit, D0, ["C1", "C2", "C3"])
    _night(kit, {"day": D0})
    feb = date(2026, 2, 5)
    _batch(kit, feb, ["C1", "C2"])
    _night(kit, {"day": feb})
    people_version = delta.version(kit.warehouse / PEOPLE)
    assert run_purge(settings, feb).verified
    assert delta.version(kit.warehouse / PEOPLE) != people_version  # vacuumed
    assert load_cache(kit.warehouse) is not None
    night = feb + timedelta(days=1)
    _batch(kit, night, ["C3"])
    assert _night(kit, {"day": night})["carried"] == ["2026-01"]


def test_a_late_erasure_takes_its_subject_out_of_the_carried_months(
    kit: BronzeKit, settings: Settings
) -> None:
    # C2's record and the erasure request both date from 27 Jan; the request arrives on 10 Feb,
    # after C2's January events. Their batches are later than the request, so the events stay,
    # but C2 has no record left: the events count nowhere, in a January that is carried.
    r = D0 - timedelta(days=1)
    kit.load("card", "customers", s(r), [_customer(f"C{i}", f"p{i}") for i in range(1, 4)])
    kit.load("card", "merchants", s(r), [{"merchant_id": m} for m in ("M1", "M2", "M3")])
    for day in [D0 + timedelta(days=i) for i in range(3)]:  # 28 .. 30 Jan
        _batch(kit, day, ["C1", "C2", "C3"])
        _night(kit, {"day": day})
    feb = date(2026, 2, 10)
    kit.load("card", "erasure_requests", s(r), [{"request_id": "R1", "customer_no": "C2"}])
    report = apply_erasures(settings, feb)
    assert report.verified
    assert report.changes[PEOPLE].rows_deleted == 1
    assert report.changes[ROLLUP].rows_deleted == 0  # January's files are the cached ones
    assert "C2" not in delta.read(kit.warehouse / PEOPLE)["customer_no"].to_list()
    _batch(kit, feb, ["C1", "C3"])
    state = _night(kit, {"day": feb})  # published == recomputed: C2 counted nowhere
    assert state["carried"] == ["2026-01"] and state["recomputed"] == ["2026-02"]
    # Erasing again finds nothing left to take out.
    assert apply_erasures(settings, feb).subjects == 0
