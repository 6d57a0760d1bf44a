"""silver/card/window_spend: carried forward night by night, it equals a recompute."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dam_pipelines.lib import delta
from dam_pipelines.lib.card_window import SCHEMA, build_window_spend
from dam_pipelines.lib.gold import PROFILE, build_gold
from dam_pipelines.lib.governance.retention import run_purge
from dam_pipelines.lib.profile import card_window_sums, category_columns
from dam_pipelines.lib.registry import MERCHANT_CATEGORIES
from dam_pipelines.lib.silver import WINDOW_SPEND, build_silver, read_state
from dam_pipelines.settings import Settings
from dam_pipelines_tests.bronzekit import BronzeKit

D0 = date(2026, 1, 5)


def s(day: date) -> str:
    return day.isoformat()


def _txn(no: str, day: date, amount: int, customer: str, merchant: str, **kw: Any) -> dict:
    return {
        "approval_no": no,
        "customer_no": customer,
        "approved_at": f"{s(day)}T12:00:00+09:00",
        "amount": amount,
        "merchant_id": merchant,
        **kw,
    }


@pytest.fixture
def kit(tmp_path: Path) -> BronzeKit:
    return BronzeKit(tmp_path / "warehouse")


def _customers_and_merchants(kit: BronzeKit, **categories: str) -> None:
    """Card customers C1..C4 and the merchants with their categories, on D0."""
    kit.load("card", "customers", s(D0), [{"customer_no": f"C{i}"} for i in range(1, 5)])
    rows = [{"merchant_id": m, "category": c} for m, c in categories.items()]
    kit.load("card", "merchants", s(D0), rows)


def _batch(kit: BronzeKit, day: date, n: int = 6, extra: tuple[dict, ...] = ()) -> None:
    """A night's card transactions: several customers, types and merchants (one unknown),
    some dated a day or two late."""
    types = ("PURCHASE", "PURCHASE", "CANCEL", "CASH_ADVANCE", "PURCHASE")
    rows = [
        _txn(
            f"T{s(day)}-{j}",
            day - timedelta(days=j % 3),
            100 + 37 * j + day.day,
            f"C{1 + (j + day.day) % 4}",
            ("M1", "M2", "M3", "M9")[(j + day.toordinal()) % 4],
            txn_type=types[j % 5],
            original_approval_no="X" if types[j % 5] == "CANCEL" else None,
            is_overseas="Y" if j == 4 else "N",
        )
        for j in range(n)
    ]
    kit.load("card", "transactions", s(day), [*rows, *extra])


def _window(warehouse: Path) -> pl.DataFrame:
    df = delta.read(warehouse / WINDOW_SPEND)
    assert df is not None
    return df.sort("customer_no")


def _same_as_a_recompute(kit: BronzeKit, tmp: Path, night: date) -> None:
    """The table equals a recompute from the transactions, but for ``first_business_date``,
    which a moving window may leave earlier than the earliest batch still counted (never
    later): it only bounds lineage for the erasure proof."""
    other = tmp / f"full-{s(night)}"
    shutil.copytree(kit.warehouse, other)
    build_window_spend(other, night, full=True)
    got, exp = _window(kit.warehouse), _window(other)
    assert_frame_equal(got.drop("first_business_date"), exp.drop("first_business_date"))
    assert (got["first_business_date"] <= exp["first_business_date"]).all()
    shutil.rmtree(other)


def test_the_window_moves_night_by_night_as_a_recompute_would(
    kit: BronzeKit, tmp_path: Path
) -> None:
    _customers_and_merchants(kit, M1="CAFE", M2="CAFE", M3="EDUCATION")
    nights = [D0 + timedelta(days=i) for i in range(6)]
    # after a gap: 31 days later (the 30d window moves past the first nights), then 60 more
    # (everything of the first nights leaves the 90d window)
    nights += [nights[-1] + timedelta(days=31), nights[-1] + timedelta(days=91)]
    modes: list[str] = []
    for i, night in enumerate(nights):
        # night 3 re-sends an event of night 1 with a new amount and date: the transactions
        # append removes its older copy, so the window is recomputed
        resent = _txn(f"T{s(nights[1])}-0", nights[2], 5555, "C2", "M1")
        _batch(kit, night, extra=(resent,) if i == 3 else ())
        if i == 2:  # M2 moves from CAFE to TRAVEL (CAFE keeps M1), M9 becomes known
            kit.load(
                "card",
                "merchants",
                s(night),
                [
                    {"merchant_id": "M2", "category": "TRAVEL"},
                    {"merchant_id": "M9", "category": "FUEL"},
                ],
            )
        if i == 4:  # a correction of night 1 (drops its events): the window is recomputed
            kit.load("card", "transactions", s(nights[1]), [], revision=2)
        modes.append(build_silver(kit.warehouse, night)[WINDOW_SPEND].metadata["mode"])
        _same_as_a_recompute(kit, tmp_path, night)
        again = build_silver(kit.warehouse, night)[WINDOW_SPEND].metadata["mode"]
        assert again == "unchanged"
    assert [i for i, m in enumerate(modes) if m == "full"] == [0, 3, 4], modes
    assert modes.count("incremental") == len(nights) - 3, modes
    table = _window(kit.warehouse)
    assert table.schema == SCHEMA
    with_events = {c for c in MERCHANT_CATEGORIES if table[category_columns(c)[1]].sum() > 0}
    txns = delta.scan(kit.warehouse / "silver/card/transactions")
    shops = delta.scan(kit.warehouse / "silver/card/merchants")
    assert txns is not None and shops is not None
    long = card_window_sums(txns, shops, nights[-1]).collect()
    expected = set(long.filter(pl.col("net_events_90d") > 0)["category"].drop_nulls())
    assert with_events == expected and {"TRAVEL", "EDUCATION", "FUEL"} <= expected


def test_the_profile_reads_the_window_and_equals_the_transactions_definition(
    kit: BronzeKit,
) -> None:
    _customers_and_merchants(kit, M1="CAFE")
    for i in range(3):
        _batch(kit, D0 + timedelta(days=i))
    night = D0 + timedelta(days=2)
    build_gold(kit.warehouse, night)
    txns = delta.scan(kit.warehouse / "silver/card/transactions")
    shops = delta.scan(kit.warehouse / "silver/card/merchants")
    assert txns is not None and shops is not None
    exp = card_window_sums(txns, shops, night).collect()
    profile = delta.read(kit.warehouse / PROFILE)
    assert profile is not None
    assert profile["card_spend_90d"].sum() == exp["spend_90d"].sum() != 0
    assert profile["card_purchase_count_90d"].sum() == exp["purchase_count_90d"].sum()
    assert profile["card_cash_advance_90d"].sum() == exp["cash_advance_90d"].sum()


def test_anything_but_an_append_since_the_window_makes_it_recompute(
    kit: BronzeKit, tmp_path: Path
) -> None:
    """A write to the transactions the window did not follow (here: the purge's vacuum, or any
    other writer) must not be carried forward; a table written after its state (a crash
    between the two writes) neither."""
    _customers_and_merchants(kit, M1="CAFE")
    _batch(kit, D0)
    build_silver(kit.warehouse, D0)
    txns = kit.warehouse / "silver/card/transactions"
    delta.vacuum_now(txns)  # a version the window's state does not know
    night = D0 + timedelta(days=1)
    _batch(kit, night)
    assert build_silver(kit.warehouse, night)[WINDOW_SPEND].metadata["mode"] == "full"
    _same_as_a_recompute(kit, tmp_path, night)

    night2 = night + timedelta(days=1)
    _batch(kit, night2)
    build_silver(kit.warehouse, night2)
    state = read_state(kit.warehouse, WINDOW_SPEND)
    assert state is not None
    delta.replace_where(  # the table moved on without its state
        kit.warehouse / WINDOW_SPEND, _window(kit.warehouse).head(1), "true"
    )
    night3 = night2 + timedelta(days=1)
    _batch(kit, night3)
    assert build_silver(kit.warehouse, night3)[WINDOW_SPEND].metadata["mode"] == "full"
    _same_as_a_recompute(kit, tmp_path, night3)


def test_the_purge_keeps_the_window_carried_forward(
    kit: BronzeKit, settings: Settings, tmp_path: Path
) -> None:
    """The weekly purge vacuums every table (new versions, no row changed) and deletes events
    years older than the window: the next night still carries the window forward."""
    assert settings.warehouse_dir == kit.warehouse
    _customers_and_merchants(kit, M1="CAFE")
    for i in range(2):
        _batch(kit, D0 + timedelta(days=i))
        build_silver(kit.warehouse, D0 + timedelta(days=i))
    txns = kit.warehouse / "silver/card/transactions"
    before = delta.version(txns)
    assert run_purge(settings, D0 + timedelta(days=1)).verified
    assert delta.version(txns) != before  # vacuumed
    night = D0 + timedelta(days=2)
    _batch(kit, night)
    assert build_silver(kit.warehouse, night)[WINDOW_SPEND].metadata["mode"] == "incremental"
    _same_as_a_recompute(kit, tmp_path, night)


def test_a_table_of_the_earlier_layout_is_rebuilt_one_row_per_customer(
    kit: BronzeKit, tmp_path: Path
) -> None:
    """A window table written one row per (customer, category), with a state that would let
    it be carried forward, is replaced whole by today's layout; its statistics columns change
    first, so no customer number enters the Delta log."""
    from deltalake import DeltaTable

    from dam_pipelines.lib.profile import WINDOW_SUMS

    _customers_and_merchants(kit, M1="CAFE", M2="FUEL")
    _batch(kit, D0)
    build_silver(kit.warehouse, D0)
    path = kit.warehouse / WINDOW_SPEND
    txns = delta.scan(kit.warehouse / "silver/card/transactions")
    shops = delta.scan(kit.warehouse / "silver/card/merchants")
    assert txns is not None and shops is not None
    old = card_window_sums(txns, shops, D0).collect()
    assert old.columns == ["customer_no", "category", *WINDOW_SUMS.names(), "first_business_date"]
    state = read_state(kit.warehouse, WINDOW_SPEND)
    assert state is not None
    delta.overwrite(path, old)
    delta.set_properties(path, delta.table_config(["category", "first_business_date"]))
    from dam_pipelines.lib.silver import write_state

    write_state(kit.warehouse, WINDOW_SPEND, {**state, "version": delta.version(path)})

    night = D0 + timedelta(days=1)
    _batch(kit, night)
    assert build_silver(kit.warehouse, night)[WINDOW_SPEND].metadata["mode"] == "full"
    table = _window(kit.warehouse)
    assert table.schema == SCHEMA and table["customer_no"].is_unique().all()
    _same_as_a_recompute(kit, tmp_path, night)
    dt = DeltaTable(str(path))
    assert dt.metadata().configuration["delta.dataSkippingStatsColumns"] == "first_business_date"
    stats = [c for c in dt.get_add_actions(flatten=True).schema.names if c.startswith("min.")]
    assert stats == ["min.first_business_date"]
    assert build_silver(kit.warehouse, night + timedelta(days=1))[WINDOW_SPEND].metadata[
        "mode"
    ] in ("incremental", "unchanged")


def test_after_a_long_pause_rows_leave_both_windows_once(kit: BronzeKit, tmp_path: Path) -> None:
    """Seventy days after the last night, rows the 30-day window held at P are also before
    D's 90-day window: they leave every sum once (not their 30-day sum twice)."""
    _customers_and_merchants(kit, M1="CAFE", M2="FUEL", M3="EDUCATION")
    _batch(kit, D0)
    build_silver(kit.warehouse, D0)
    p = D0 + timedelta(days=22)
    _batch(kit, p)
    assert build_silver(kit.warehouse, p)[WINDOW_SPEND].metadata["mode"] == "incremental"
    night = p + timedelta(days=70)  # D-90 = P-20: D0's rows (P-24..P-22) leave both windows
    _batch(kit, night)
    assert build_silver(kit.warehouse, night)[WINDOW_SPEND].metadata["mode"] == "incremental"
    _same_as_a_recompute(kit, tmp_path, night)
