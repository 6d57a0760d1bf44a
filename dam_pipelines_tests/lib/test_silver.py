"""Silver as of D: pure as-of logic, each kind of feed over bronze, and incrementality."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from dam_pipelines.lib import delta
from dam_pipelines.lib.asof import (
    changed_dates,
    choose_snapshot,
    events_in_range,
    latest_per_key,
    months_of,
    recompute_ranges,
)
from dam_pipelines.lib.conform import bronze_schema, silver_schema
from dam_pipelines.lib.gold import PROFILE, TRENDS, build_gold
from dam_pipelines.lib.registry import FEEDS, get_feed
from dam_pipelines.lib.silver import (
    ROLLUP,
    build_silver,
    inputs_digest,
    read_state,
    silver_keys,
    write_state,
)
from dam_pipelines_tests.bronzekit import BronzeKit, gcid

D = date(2026, 3, 10)


def d(offset: int) -> date:
    return D + timedelta(days=offset)


def s(offset: int) -> str:
    return d(offset).isoformat()


@pytest.fixture
def kit(tmp_path: Path) -> BronzeKit:
    return BronzeKit(tmp_path / "warehouse")


def read(kit: BronzeKit, key: str) -> pl.DataFrame:
    df = delta.read(kit.warehouse / key)
    assert df is not None, key
    return df


# --- pure functions ------------------------------------------------------------------------


def test_latest_per_key_later_business_date_then_higher_revision() -> None:
    rows = pl.LazyFrame(
        {
            "k": ["a", "a", "a", "b", "b"],
            "v": [1, 2, 3, 4, 5],
            "business_date": [d(0), d(1), d(1), d(0), d(-1)],
            "_revision": [9, 1, 2, 1, 5],
        }
    )
    got = latest_per_key(rows, ["k"]).collect()
    assert got.select("k", "v").rows() == [("a", 3), ("b", 4)]


def test_events_in_range_reads_only_the_batches_that_can_carry_them() -> None:
    rows = pl.LazyFrame(
        {
            "k": ["in", "late", "moved", "moved", "too_late", "after"],
            "event_date": [d(0), d(0), d(0), d(3), d(0), d(1)],
            "business_date": [d(0), d(7), d(1), d(5), d(8), d(1)],
            "_revision": [1] * 6,
        }
    )
    got = events_in_range(rows, ["k"], d(0), d(0), as_of=d(20)).collect()
    # "moved" was re-delivered dated d(3): its d(0) copy is stale; "too_late" cannot exist
    # (a batch of d(8) cannot carry an event of d(0)) and is not read.
    assert got["k"].to_list() == ["in", "late"]
    # as of d(6) the batch of d(7) is not known yet
    assert events_in_range(rows, ["k"], d(0), d(0), as_of=d(6)).collect()["k"].to_list() == ["in"]


def test_changed_dates_sees_new_changed_and_removed_partitions_up_to_as_of() -> None:
    before = {s(0): "x", s(1): "y", s(2): "z"}
    after = {s(0): "x", s(1): "Y", s(3): "n", s(9): "later"}
    assert changed_dates(before, after, d(5)) == [d(1), d(2), d(3)]
    assert changed_dates(before, before, d(5)) == []


def test_recompute_ranges_cover_seven_days_back_merged_and_cut() -> None:
    assert recompute_ranges([d(0)]) == [(d(-7), d(0))]
    assert recompute_ranges([d(0), d(1), d(30)], max_days=31) == [(d(-7), d(1)), (d(23), d(30))]
    assert recompute_ranges([d(0), d(8)], max_days=31) == [(d(-7), d(8))]  # adjacent: merged
    assert recompute_ranges([d(0), d(9)], max_days=31) == [(d(-7), d(0)), (d(2), d(9))]
    # by default a piece is one night's reach (8 event dates)
    assert recompute_ranges([d(0), d(1)]) == [(d(-7), d(0)), (d(1), d(1))]
    pieces = recompute_ranges([d(i) for i in range(0, 60)], max_days=31)
    assert pieces == [(d(-7), d(23)), (d(24), d(54)), (d(55), d(59))]
    assert months_of([(date(2026, 1, 30), date(2026, 3, 1))]) == ["2026-01", "2026-02", "2026-03"]


def test_choose_snapshot_takes_the_latest_loaded_on_or_before_d() -> None:
    loaded = [d(-3), d(-1), d(2)]
    assert choose_snapshot(loaded, d(0)) == d(-1)
    assert choose_snapshot(loaded, d(-1)) == d(-1)
    assert choose_snapshot(loaded, d(-4)) is None


def test_bronze_schema_follows_the_design() -> None:
    cust = bronze_schema(get_feed("card", "customers"))
    assert cust.names()[:2] == ["customer_no", "gcid"]
    assert not {"rrn", "name", "phone"} & set(cust.names())
    assert cust.names()[-6:] == [
        "_batch_id",
        "_revision",
        "_source_file",
        "_row_number",
        "_ingested_at",
        "business_date",
    ]
    txn = bronze_schema(get_feed("card", "transactions"))
    assert txn["event_date"] == pl.Date and txn["approved_at"] == pl.Datetime("us", "UTC")
    assert txn["is_overseas"] == pl.Boolean and txn["business_date"] == pl.Utf8


def test_bronze_schema_matches_ingestion() -> None:
    validate = pytest.importorskip("dam_pipelines.lib.validate")
    for feed in FEEDS:
        theirs = validate.bronze_schema(feed)
        assert list(bronze_schema(feed).items()) == list(theirs.items()), feed.id


def test_every_silver_table_keeps_customer_no_and_no_direct_identifier() -> None:
    for feed in FEEDS:
        cols = silver_schema(feed).names()
        assert not {"rrn", "name", "phone"} & set(cols), feed.id
        if feed.has_customer:
            assert "customer_no" in cols, feed.id


# --- each kind of feed over bronze -----------------------------------------------------------


def test_customers_latest_version_by_business_date_then_revision(kit: BronzeKit) -> None:
    kit.load(
        "card",
        "customers",
        s(-2),
        [
            {"customer_no": "C1", "person": "alice", "sido_code": "11"},
            {"customer_no": "C2", "person": "bob", "sido_code": "11"},
        ],
    )
    # a later batch wins even when its updated_at is older
    kit.load(
        "card",
        "customers",
        s(-1),
        [
            {
                "customer_no": "C1",
                "person": "alice",
                "sido_code": "42",
                "updated_at": "2020-01-01T00:00:00+09:00",
            },
            {"customer_no": "C2", "person": "bob", "sido_code": "45"},
        ],
    )
    build_silver(kit.warehouse, D)
    got = read(kit, "silver/card/customers").sort("customer_no")
    assert got.schema == silver_schema(get_feed("card", "customers"))
    assert got.select("customer_no", "gcid", "sido_code", "business_date").rows() == [
        ("C1", gcid("alice"), "51", d(-1)),
        ("C2", gcid("bob"), "52", d(-1)),
    ]
    # a correction of D-1 that drops C2 brings back C2's version of D-2
    kit.load(
        "card",
        "customers",
        s(-1),
        [{"customer_no": "C1", "person": "alice", "sido_code": "45"}],
        revision=2,
    )
    res = build_silver(kit.warehouse, D)["silver/card/customers"]
    assert res.metadata["mode"] == "incremental"
    got = read(kit, "silver/card/customers").sort("customer_no")
    assert got.select("customer_no", "sido_code", "business_date", "_revision").rows() == [
        ("C1", "52", d(-1), 2),
        ("C2", "11", d(-2), 1),
    ]
    # as of D-2 only the first batch counts (a full rebuild: D is earlier than before)
    res = build_silver(kit.warehouse, d(-2))["silver/card/customers"]
    assert res.metadata["mode"] == "full"
    assert read(kit, "silver/card/customers").sort("customer_no")["sido_code"].to_list() == [
        "11",
        "11",
    ]


def test_merchants_latest_record_with_normalized_sido(kit: BronzeKit) -> None:
    kit.load(
        "card", "merchants", s(-1), [{"merchant_id": "M1", "category": "CAFE", "sido_code": "45"}]
    )
    kit.load(
        "card", "merchants", s(0), [{"merchant_id": "M1", "category": "FUEL", "sido_code": "42"}]
    )
    build_silver(kit.warehouse, d(-1))
    assert read(kit, "silver/card/merchants").select("category", "sido_code").rows() == [
        ("CAFE", "52")
    ]
    build_silver(kit.warehouse, D)
    assert read(kit, "silver/card/merchants").select("category", "sido_code").rows() == [
        ("FUEL", "51")
    ]


def _accounts(kit: BronzeKit, bd: str, *balances: int, revision: int | None = None) -> None:
    kit.load(
        "bank",
        "deposit_accounts",
        bd,
        [
            {"account_no": f"A{i}", "customer_no": "B1", "balance": b}
            for i, b in enumerate(balances)
        ],
        revision=revision,
    )


def test_snapshot_is_the_latest_loaded_one_taken_whole(kit: BronzeKit) -> None:
    _accounts(kit, s(-2), 1, 2, 3)
    _accounts(kit, s(-1), 10)
    kit.reject("bank", "deposit_accounts", s(0))
    res = build_silver(kit.warehouse, D)["silver/bank/deposit_accounts"]
    got = read(kit, "silver/bank/deposit_accounts")
    assert got.select("account_no", "balance", "snapshot_date").rows() == [("A0", 10, d(-1))]
    assert res.metadata["snapshot_date"] == s(-1) and res.rows == 1
    # a late older snapshot changes nothing, and re-running is a no-op
    _accounts(kit, s(-3), 99)
    again = build_silver(kit.warehouse, D)["silver/bank/deposit_accounts"]
    assert (again.version, again.metadata["mode"]) == (res.version, "unchanged")
    # an empty loaded snapshot: everything is gone
    kit.load("bank", "deposit_accounts", s(0), [], revision=2)
    build_silver(kit.warehouse, D)
    assert read(kit, "silver/bank/deposit_accounts").height == 0
    # as of D-3 the late snapshot is the one
    build_silver(kit.warehouse, d(-3))
    assert read(kit, "silver/bank/deposit_accounts")["balance"].to_list() == [99]


def _txn(no: str, offset: int, amount: int = 1000, **kw: Any) -> dict[str, Any]:
    return {
        "approval_no": no,
        "customer_no": "C1",
        "approved_at": f"{s(offset)}T12:00:00+09:00",
        "amount": amount,
        **kw,
    }


def test_events_latest_delivery_per_key_partitioned_by_event_date(kit: BronzeKit) -> None:
    kit.load("card", "transactions", s(-2), [_txn("A1", -3, 1), _txn("A2", -2, 2)])
    kit.load("card", "transactions", s(-1), [_txn("A1", -3, 10), _txn("A3", -1, 3)])
    build_silver(kit.warehouse, D)
    got = read(kit, "silver/card/transactions").sort("approval_no")
    assert got.select("approval_no", "amount", "event_date", "business_date").rows() == [
        ("A1", 10, d(-3), d(-1)),
        ("A2", 2, d(-2), d(-2)),
        ("A3", 3, d(-1), d(-1)),
    ]
    assert DeltaTable(
        str(kit.warehouse / "silver/card/transactions")
    ).metadata().partition_columns == ["event_date"]
    # revision 2 of D-1 drops A1 and A3: A1 falls back to D-2's delivery, A3 is gone
    kit.load("card", "transactions", s(-1), [], revision=2)
    res = build_silver(kit.warehouse, D)["silver/card/transactions"]
    assert res.metadata["recomputed_event_dates"] == [[s(-8), s(-1)]]
    got = read(kit, "silver/card/transactions").sort("approval_no")
    assert got.select("approval_no", "amount").rows() == [("A1", 1), ("A2", 2)]


def test_an_event_re_sent_months_later_leaves_one_copy(kit: BronzeKit) -> None:
    """The contract bounds how early an event may be dated against its batch (7 days), not how
    late a key may be re-sent: the older copy is found however far back it lies."""
    from dam_pipelines.lib.quality.checks import Derived, RunContext, key_beyond_scope
    from dam_pipelines.lib.quality.model import QualityConfig

    txns = "silver/card/transactions"
    kit.load("card", "transactions", s(-80), [_txn("A1", -80, 1), _txn("A2", -80, 2)])
    kit.load("card", "transactions", s(-70), [_txn("A3", -70, 3)])
    build_silver(kit.warehouse, d(-70))
    # 68 days later A1 comes again, dated two days before its batch: the usual night appends.
    kit.load("card", "transactions", s(-2), [_txn("A1", -4, 10), _txn("A4", -2, 4)])
    res = build_silver(kit.warehouse, d(-2))[txns]
    assert res.metadata["stale_copies_removed"] == 1
    got = read(kit, txns).sort("approval_no").select("approval_no", "amount", "event_date")
    assert got.rows() == [("A1", 10, d(-4)), ("A2", 2, d(-80)), ("A3", 3, d(-70)), ("A4", 4, d(-2))]
    # A revision of that batch re-sends A2 instead: the recompute finds A2's first copy too,
    # and A1's copy of the revised batch is gone with it (A1 falls back to its first delivery).
    kit.load("card", "transactions", s(-2), [_txn("A2", -3, 20), _txn("A4", -2, 4)], revision=2)
    res = build_silver(kit.warehouse, D)[txns]
    assert res.metadata["recomputed_event_dates"] and res.metadata["stale_copies_removed"] == 1
    got = read(kit, txns).sort("approval_no").select("approval_no", "amount", "event_date")
    assert got.rows() == [("A1", 1, d(-80)), ("A2", 20, d(-3)), ("A3", 3, d(-70)), ("A4", 4, d(-2))]
    # Quality's key check looks as far back: a copy 77 days away is flagged.
    frame = read(kit, txns).filter(pl.col("event_date") >= d(-3))
    checked = Derived(
        frame.vstack(
            frame.filter(pl.col("approval_no") == "A2").with_columns(
                pl.lit("X").alias("approval_no")
            )
        ),
        scope=[s(-3), s(-2)],
    )
    write_copy = (
        read(kit, txns)
        .filter(pl.col("approval_no") == "A3")
        .with_columns(pl.lit("X").alias("approval_no"))
    )
    delta.append(kit.warehouse / txns, write_copy)
    ctx = RunContext(kit.warehouse, D, QualityConfig())
    flags = key_beyond_scope(get_feed("card", "transactions"))(checked, ctx).df
    assert dict(zip(flags["approval_no"], flags["_dq_key_unique_beyond"], strict=True)) == {
        "A2": True,
        "A4": True,
        "X": False,
    }


def test_the_night_records_which_partitions_it_rewrote(kit: BronzeKit) -> None:
    from dam_pipelines.lib.silver import rewritten_partitions

    txns = "silver/card/transactions"
    kit.load("card", "transactions", s(-2), [_txn("A1", -3, 1), _txn("A2", -2, 2)])
    build_silver(kit.warehouse, d(-2))
    assert rewritten_partitions(kit.warehouse, txns, d(-2)) is None  # first build: full
    # a new, later batch is appended: only its event dates change (A2's copy moves from D-2)
    kit.load("card", "transactions", s(-1), [_txn("A3", -1, 3), _txn("A2", -4, 4)])
    res = build_silver(kit.warehouse, d(-1))[txns]
    assert res.metadata["appended_event_dates"] == [s(-4), s(-2), s(-1)]
    assert res.metadata["stale_copies_removed"] == 1
    assert rewritten_partitions(kit.warehouse, txns, d(-1)) == [s(-4), s(-2), s(-1)]
    assert rewritten_partitions(kit.warehouse, ROLLUP, d(-1)) == ["2026-03"]
    got = read(kit, txns).sort("approval_no").select("approval_no", "amount", "event_date")
    assert got.rows() == [("A1", 1, d(-3)), ("A2", 4, d(-4)), ("A3", 3, d(-1))]
    build_silver(kit.warehouse, d(-1))  # a re-run adds nothing, forgets nothing
    assert rewritten_partitions(kit.warehouse, txns, d(-1)) == [s(-4), s(-2), s(-1)]
    assert rewritten_partitions(kit.warehouse, txns, D) is None  # not built for D yet
    # a correction of an earlier batch is recomputed: the week it can touch
    kit.load("card", "transactions", s(-2), [_txn("A1", -3, 1)], revision=2)
    res = build_silver(kit.warehouse, D)[txns]
    assert res.metadata["recomputed_event_dates"] == [[s(-9), s(-2)]]
    assert read(kit, txns).sort("approval_no")["approval_no"].to_list() == ["A1", "A2", "A3"]


def test_an_append_cut_short_is_repaired_by_the_rerun(
    kit: BronzeKit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events are appended before the state is written: a crash in between leaves the
    new rows without a record of them; the re-run removes and re-adds them (no duplicate)."""
    import dam_pipelines.lib.silver as silver

    txns = "silver/card/transactions"
    kit.load("card", "transactions", s(-2), [_txn("A1", -3, 1), _txn("A2", -2, 2)])
    build_silver(kit.warehouse, d(-2))
    kit.load("card", "transactions", s(-1), [_txn("A3", -1, 3), _txn("A1", -2, 5)])
    real = silver.write_state

    def crash(warehouse: Path, key: str, state: dict) -> None:
        if key == txns:
            raise RuntimeError("power cut")
        real(warehouse, key, state)

    monkeypatch.setattr(silver, "write_state", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        build_silver(kit.warehouse, d(-1))
    monkeypatch.setattr(silver, "write_state", real)
    # the rows are in (A1's older copy gone), but the state still says "not built for D-1"
    assert read(kit, txns).height == 3
    assert silver.rewritten_partitions(kit.warehouse, txns, d(-1)) is None
    res = build_silver(kit.warehouse, d(-1))[txns]
    assert "appended_event_dates" in res.metadata
    got = read(kit, txns).sort("approval_no").select("approval_no", "amount", "event_date")
    assert got.rows() == [("A1", 5, d(-2)), ("A2", 2, d(-2)), ("A3", 3, d(-1))]
    full = tmp_path / "full"
    shutil.copytree(kit.warehouse, full)
    build_silver(full, d(-1), full=True)
    assert_frame_equal(
        read(kit, txns).sort("approval_no"),
        delta.read(full / txns).sort("approval_no"),  # type: ignore[union-attr]
    )


def test_silver_tables_keep_person_keys_out_of_the_delta_log(kit: BronzeKit) -> None:
    kit.load("card", "customers", s(0), [{"customer_no": "C1", "person": "alice"}])
    kit.load("card", "transactions", s(0), [_txn("A1", 0)])
    build_silver(kit.warehouse, D)
    for key in ("silver/card/customers", "silver/card/transactions", ROLLUP):
        stats = (
            DeltaTable(str(kit.warehouse / key))
            .metadata()
            .configuration.get("delta.dataSkippingStatsColumns", "")
        )
        assert stats and not {"customer_no", "gcid", "approval_no", "card_no"} & set(
            stats.split(",")
        )


def test_rollup_is_per_month_customer_merchant_and_batch(kit: BronzeKit) -> None:
    kit.load(
        "card",
        "transactions",
        "2026-03-02",
        [
            _txn("A1", -12, 100, merchant_id="M1"),  # 2026-02-26
            _txn("A2", -8, 10, merchant_id="M1"),  # 2026-03-02
            _txn("A3", -8, 1, merchant_id="M1", txn_type="CANCEL", original_approval_no="A2"),
            _txn("A4", -8, 5000, merchant_id="M1", txn_type="CASH_ADVANCE"),
        ],
    )
    # a later batch with a late event of the same month, customer and merchant: its own row
    kit.load("card", "transactions", "2026-03-04", [_txn("A5", -7, 20, merchant_id="M1")])
    build_silver(kit.warehouse, D)
    got = read(kit, ROLLUP).sort("month", "business_date")
    first, later = date(2026, 3, 2), date(2026, 3, 4)
    assert got.rows() == [
        ("2026-02", "C1", "M1", first, 1, 100, 0, 0),
        ("2026-03", "C1", "M1", first, 1, 10, 1, 1),
        ("2026-03", "C1", "M1", later, 1, 20, 0, 0),
    ]


# --- incrementality ------------------------------------------------------------------------


def _rollup_of_silver(kit: BronzeKit) -> pl.DataFrame:
    """The rollup recomputed from scratch from the silver transactions as they are."""
    from dam_pipelines.lib.trends import monthly_rollup

    txns = read(kit, "silver/card/transactions").lazy()
    return (
        monthly_rollup(txns).collect().sort("month", "customer_no", "merchant_id", "business_date")
    )


def test_rollup_adds_the_new_batches_and_recomputes_when_anything_else_wrote(
    kit: BronzeKit,
) -> None:
    """The usual night appends the new batch's rows to their months (rows of a new batch:
    no existing row changes); when the transactions table was written by anything else
    between its append and the rollup's build, the months are recomputed instead."""
    from dam_pipelines.lib.silver import build_silver_table, build_transactions_monthly

    kit.load(
        "card",
        "transactions",
        s(-2),
        [_txn("A1", -9, 100, merchant_id="M3"), _txn("A2", -2, 10, merchant_id="M1")],
    )
    build_silver(kit.warehouse, d(-2))
    kit.load(
        "card",
        "transactions",
        s(-1),
        [
            _txn("A3", -1, 7, merchant_id="M1"),  # A2's month and merchant: a row of its own
            _txn("A4", -1, 3, merchant_id="M2"),
            _txn("A5", -1, 2, merchant_id="M1", txn_type="CANCEL", original_approval_no="A2"),
        ],
    )
    files_before = set(delta.live_files(kit.warehouse / ROLLUP))
    state_before = read_state(kit.warehouse, ROLLUP)
    roll = build_silver(kit.warehouse, d(-1))[ROLLUP].metadata
    assert roll["added_months"] == ["2026-03"] and roll["recomputed_months"] == []
    assert files_before <= set(delta.live_files(kit.warehouse / ROLLUP))  # nothing rewritten
    got = read(kit, ROLLUP).sort("month", "customer_no", "merchant_id", "business_date")
    assert got.rows() == [
        ("2026-03", "C1", "M1", d(-2), 1, 10, 0, 0),
        ("2026-03", "C1", "M1", d(-1), 1, 7, 1, 2),
        ("2026-03", "C1", "M2", d(-1), 1, 3, 0, 0),
        ("2026-03", "C1", "M3", d(-2), 1, 100, 0, 0),
    ]
    assert_frame_equal(got, _rollup_of_silver(kit))
    # a run that died after the rollup's write and before its state: the re-run appends the
    # batch again, replacing its rows, and adds nothing twice
    write_state(kit.warehouse, ROLLUP, state_before)
    assert build_transactions_monthly(kit.warehouse, d(-1)).metadata["added_months"]
    assert_frame_equal(
        read(kit, ROLLUP).sort("month", "customer_no", "merchant_id", "business_date"), got
    )

    # The next batch is appended, then something else deletes a row before the rollup
    # follows: adding the batch would miss the deletion, so the month is recomputed.
    kit.load("card", "transactions", s(0), [_txn("A6", 0, 1, merchant_id="M2")])
    build_silver_table(kit.warehouse, get_feed("card", "transactions"), D)
    DeltaTable(str(kit.warehouse / "silver" / "card" / "transactions")).delete("amount = 7")
    roll = build_transactions_monthly(kit.warehouse, D).metadata
    assert roll["added_months"] == [] and roll["recomputed_months"] == ["2026-03"]
    assert_frame_equal(
        read(kit, ROLLUP).sort("month", "customer_no", "merchant_id", "business_date"),
        _rollup_of_silver(kit),
    )


def test_a_rollup_built_before_the_batch_lineage_is_rebuilt_whole(kit: BronzeKit) -> None:
    """A warehouse whose rollup has no ``business_date`` (built by an earlier version) gets it
    on the next night: a full rebuild, with the log's statistics following the new schema."""
    from dam_pipelines.lib.silver import ROLLUP_STATS, build_transactions_monthly

    kit.load("card", "transactions", s(-1), [_txn("A1", -1, 10, merchant_id="M1")])
    build_silver(kit.warehouse, d(-1))
    old = read(kit, ROLLUP).drop("business_date")
    delta.overwrite(kit.warehouse / ROLLUP, old, partition_by=["month"])
    earlier_stats = delta.table_config(["month", "purchase_count", "cancel_count"])
    delta.set_properties(kit.warehouse / ROLLUP, earlier_stats)
    # nothing new in bronze: without the check of the schema the night would change nothing
    assert build_transactions_monthly(kit.warehouse, d(-1)).metadata["mode"] == "full"
    got = read(kit, ROLLUP).sort("business_date")
    assert_frame_equal(got, _rollup_of_silver(kit).sort("business_date"))
    config = DeltaTable(str(kit.warehouse / ROLLUP)).metadata().configuration
    assert config["delta.dataSkippingStatsColumns"] == ",".join(ROLLUP_STATS)


def _people(
    kit: BronzeKit,
    bd: str,
    rows: list[tuple[str, str]],
    aff: str = "card",
    revision: int | None = None,
) -> None:
    kit.load(
        aff,
        "customers",
        bd,
        [
            {
                "customer_no": no,
                "person": who,
                "birth_date": f"19{60 + i * 7 % 40:02d}-0{1 + i % 9}-15",
                "sido_code": ("11", "42", "26")[i % 3],
            }
            for i, (no, who) in enumerate(rows)
        ],
        revision=revision,
    )


def _night(kit: BronzeKit, i: int) -> None:
    """Batches that arrive on night i of the scenario (with late and corrected ones)."""
    bd = s(i)
    t = [
        _txn(
            f"T{i}-{j}",
            i - (j % 8),
            100 * (i + 1) + j,
            customer_no=f"C{1 + j % 7}",
            merchant_id=("M1", "M2", "M9")[j % 3],
            txn_type=("PURCHASE", "PURCHASE", "CANCEL", "CASH_ADVANCE")[j % 4],
            original_approval_no="X" if j % 4 == 2 else None,
        )
        for j in range(9)
    ]
    if i == 0:
        _people(kit, bd, [(f"C{n}", f"p{n}") for n in range(1, 7)])
        _people(kit, bd, [("B1", "p1"), ("B2", "p2")], aff="bank")
        kit.load(
            "card",
            "merchants",
            bd,
            [
                {"merchant_id": "M1", "category": "CAFE", "sido_code": "42"},
                {"merchant_id": "M2", "category": "EDUCATION", "sido_code": "11"},
            ],
        )
    if i != 4:  # the batch of night 4 arrives on night 5
        kit.load("card", "transactions", bd, t)
    if i == 5:
        kit.load("card", "transactions", s(4), [_txn("L4", 2, 444, customer_no="C2")])
    if i == 3:  # correction of night 1: drops two events, changes an amount
        kit.load("card", "transactions", s(1), [_txn("T1-0", 1, 7777)], revision=2)
    if i == 6:
        _people(kit, bd, [("C7", "p7")])  # late master data for events since night 0
        kit.load(
            "card",
            "merchants",
            bd,
            [{"merchant_id": "M1", "category": "TRAVEL", "sido_code": "45"}],
        )
    if i == 8:
        _people(kit, s(6), [("C7", "p7b")], revision=2)  # corrected customer record
        kit.load(
            "card", "transactions", bd, [*t, _txn("T5-1", 5, 1, customer_no="C2")], revision=2
        )  # a re-sent event with a new amount
    if i % 3 != 2:
        _accounts_for(kit, bd, i)
    if i == 9:
        kit.reject("bank", "deposit_accounts", bd, revision=2)
        _accounts_for(kit, s(5), 77)  # a late older snapshot
    if i == 10:
        kit.load("bank", "deposit_accounts", bd, [], revision=2)


def _accounts_for(kit: BronzeKit, bd: str, i: int) -> None:
    kit.load(
        "bank",
        "deposit_accounts",
        bd,
        [
            {"account_no": "A1", "customer_no": "B1", "balance": 1000 + i},
            {"account_no": "A2", "customer_no": "B2", "balance": 2000 + i, "status": "DORMANT"},
        ],
    )


def _tables(warehouse: Path) -> dict[str, pl.DataFrame]:
    out = {}
    for key in [*silver_keys(), PROFILE, TRENDS]:
        df = delta.read(warehouse / key)
        assert df is not None, key
        out[key] = df.sort(df.columns)
    return out


def _assert_same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        try:
            assert_frame_equal(a[key], b[key])
        except AssertionError as exc:
            raise AssertionError(f"{key}: {exc}") from None


def test_night_by_night_equals_a_full_rebuild_and_reruns_change_nothing(
    kit: BronzeKit, tmp_path: Path
) -> None:
    modes: set[str] = set()
    event_paths: set[str] = set()  # both ways of bringing an event table up must be exercised
    rollup_paths: set[str] = set()  # and both ways of bringing the rollup up
    for i in range(12):
        _night(kit, i)
        res = build_silver(kit.warehouse, d(i))
        modes |= {r.metadata["mode"] for r in res.values()}
        event_paths |= {
            "append" if "appended_event_dates" in r.metadata else "recompute"
            for r in res.values()
            if r.metadata.get("recomputed_event_dates") or r.metadata.get("appended_event_dates")
        }
        roll = res[ROLLUP].metadata
        rollup_paths |= {"added"} if roll["added_months"] else set()
        rollup_paths |= {"recomputed"} if roll["recomputed_months"] else set()
        build_gold(kit.warehouse, d(i), k=1, refresh_silver=False)
        night = _tables(kit.warehouse)
        other = tmp_path / f"full-{i}"
        shutil.copytree(kit.warehouse, other)
        build_silver(other, d(i), full=True)
        build_gold(other, d(i), k=1, refresh_silver=False)
        _assert_same(night, _tables(other))
    assert modes == {"full", "incremental", "unchanged"}
    assert event_paths == {"append", "recompute"}
    assert rollup_paths == {"added", "recomputed"}
    assert read(kit, "silver/card/transactions").height > 50
    assert read(kit, TRENDS).height > 0

    # re-running the last night: every silver table untouched, gold identical
    last = d(11)
    versions = {k: delta.version(kit.warehouse / k) for k in silver_keys()}
    before = _tables(kit.warehouse)
    res = build_silver(kit.warehouse, last)
    assert {r.metadata["mode"] for r in res.values()} == {"unchanged"}
    build_gold(kit.warehouse, last, k=1)
    assert versions == {k: delta.version(kit.warehouse / k) for k in silver_keys()}
    _assert_same(before, _tables(kit.warehouse))

    # re-running an old night rebuilds fully as of then; coming back gives the same tables
    res = build_silver(kit.warehouse, d(5))
    assert {r.metadata["mode"] for r in res.values()} == {"full"}
    build_silver(kit.warehouse, last)
    build_gold(kit.warehouse, last, k=1)
    _assert_same(before, _tables(kit.warehouse))


def test_a_state_digest_never_reads_as_a_card_number():
    # sha256 of these inputs starts with sixteen decimal digits: a 16-character digest was a
    # 16-digit number in the state file, which a scan for card numbers (ours, or a bank's DLP)
    # flags. The digests are 32 hex characters, so no 16-digit run stands alone.
    digest = inputs_digest({"2026-10-03": "x1150"})
    assert len(digest) == 32
    assert re.search(r"(?<![0-9a-fA-F.])\d{16}(?![0-9a-fA-F.])", digest) is None
