"""Each kind of check: a clean day passes, a planted bad day fails exactly that check.

Verdicts come from polars on the full data (docs=False keeps these fast); the GE side is
covered in test_gx.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from dam_pipelines.lib import delta
from dam_pipelines.lib.quality import (
    TABLE_SPECS,
    QualityConfig,
    Severity,
    planned_checks,
    run_quality,
)
from dam_pipelines_tests.quality import kit

TXNS = "silver/card/transactions"
PROFILE = "gold/customer_profile"
TRENDS = "gold/card_category_trends"
WINDOW = "silver/card/window_spend"


def failed(outcomes) -> set[tuple[str, str]]:
    return {(o.table, o.check) for o in outcomes if not o.passed}


def check(warehouse: Path, tables: list[str] | None = None, **cfg):
    return run_quality(
        warehouse, kit.D, tables, config=QualityConfig(**cfg), docs=False, record=False
    )


def test_clean_day_passes_every_check_of_every_table(warehouse: Path):
    outcomes = check(warehouse)
    assert failed(outcomes) == set()
    reported = sorted((o.table, o.check) for o in outcomes)
    planned = sorted((t, pc.name) for t in TABLE_SPECS for pc in planned_checks(t))
    assert reported == planned  # every planned check reported exactly once


def _edit(key: str, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    def plant(warehouse: Path) -> None:
        kit.replace_table(warehouse, key, fn(kit.read(warehouse, key)))

    return plant


def _row(df: pl.DataFrame, n: int, **values) -> pl.DataFrame:
    """Set columns of the n-th row (in table order)."""
    idx = pl.int_range(pl.len()) == n
    return df.with_columns(
        [
            pl.when(idx).then(pl.lit(v, dtype=df.schema[c])).otherwise(pl.col(c)).alias(c)
            for c, v in values.items()
        ]
    )


def _first_purchase(df: pl.DataFrame) -> int:
    return df["txn_type"].to_list().index("PURCHASE")


def _recent(df: pl.DataFrame) -> list[int]:
    return [i for i, d in enumerate(df["event_date"].to_list()) if d >= kit.D - timedelta(days=6)]


def _unknown_customers(df: pl.DataFrame) -> pl.DataFrame:
    for n in _recent(df)[:4]:  # 4 of 42 recent events: 9.5% > 5%
        df = _row(df, n, customer_no="C9999")
    return df


def _ledger(feed: str, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    def edit(df: pl.DataFrame) -> pl.DataFrame:
        mine = (
            (pl.col("affiliate") == "card")
            & (pl.col("feed") == feed)
            & (pl.col("business_date") == kit.D.isoformat())
        )
        return pl.concat([df.filter(~mine), fn(df.filter(mine))]).sort(
            "affiliate", "feed", "business_date"
        )

    return _edit("audit/batches", edit)


def _spend(df: pl.DataFrame) -> pl.DataFrame:
    n = df["card_status"].is_not_null().arg_true()[0]
    return _row(df, n, card_spend_90d=df["card_spend_90d"][n] + 1000)


def _small_cell(df: pl.DataFrame) -> pl.DataFrame:
    cell = {
        "month": "2026-11",
        "sido_code": "11",
        "category": "CAFE",
        "age_band": "30-39",
        "customer_count": 3,
        "purchase_count": 4,
        "net_amount": 12_000,
    }
    return pl.concat([df, pl.DataFrame([cell], schema=df.schema)])


PLANTED = {
    "uniqueness": (_edit(TXNS, lambda df: pl.concat([df, df.head(1)])), [TXNS], {(TXNS, "keys")}),
    "enum": (
        _edit(TXNS, lambda df: _row(df, _first_purchase(df), txn_type="REFUND")),
        [TXNS],
        {(TXNS, "enums")},
    ),
    "range": (_edit(TXNS, lambda df: _row(df, 0, amount=-5)), [TXNS], {(TXNS, "ranges")}),
    "referential_share": (
        _edit(TXNS, _unknown_customers),
        [TXNS],
        {(TXNS, "referential_customer")},
    ),
    "unknown_merchant": (
        _edit(
            TXNS,
            lambda df: _row(df, _recent(df)[0], merchant_id="M99").pipe(
                lambda d: _row(d, _recent(d)[1], merchant_id="M98").pipe(
                    lambda e: _row(e, _recent(e)[2], merchant_id="M97")
                )
            ),
        ),
        [TXNS],
        {(TXNS, "referential_merchant")},
    ),
    "unmasked_pan": (
        _edit(TXNS, lambda df: _row(df, 3, card_no="1234567812345678")),
        [TXNS],
        {(TXNS, "pseudonymization")},
    ),
    "spend_reconciliation": (
        _edit(PROFILE, _spend),
        [PROFILE],
        {(PROFILE, "card_spend_reconciliation")},
    ),
    # the carried-forward window sums drift from the transactions (one per column checked)
    **{
        f"window_{col}": (
            _edit(WINDOW, lambda df, col=col: _row(df, 0, **{col: df[col][0] + 7})),
            [WINDOW],
            {(WINDOW, "window_spend_reconciliation")},
        )
        for col in ("spend_30d", "overseas_purchase_90d", "net_events_90d", "events_90d")
    },
    "batch_reconciliation": (
        _ledger("transactions", lambda b: b.with_columns(pl.col("rows_read") + 3)),
        [TXNS],
        {(TXNS, "batch_row_reconciliation")},
    ),
    "volume_anomaly": (
        _ledger(
            "transactions",
            lambda b: b.with_columns(pl.col("rows_read") * 10 - 18, pl.col("rows_loaded") * 10),
        ),
        [TXNS],
        {(TXNS, "volume_anomaly")},
    ),
    "freshness": (_ledger("transactions", lambda b: b.head(0)), [TXNS], {(TXNS, "freshness")}),
    "k_anonymity": (_edit(TRENDS, _small_cell), [TRENDS], {(TRENDS, "k_anonymity")}),
}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_planted_bad_day_fails_exactly_that_check(warehouse: Path, kind: str):
    plant, tables, expected = PLANTED[kind]
    assert failed(check(warehouse, tables)) == set()  # the same tables pass on the clean day
    plant(warehouse)
    outcomes = check(warehouse, tables)
    assert failed(outcomes) == expected
    for o in outcomes:
        if not o.passed:
            assert o.offending_rows > 0 and o.expectation


def test_blocking_failure_names_table_expectation_count_and_a_sample_without_identifiers(
    warehouse: Path,
):
    plant, tables, _ = PLANTED["enum"]
    plant(warehouse)
    bad = [o for o in check(warehouse, tables) if not o.passed]
    assert len(bad) == 1
    o = bad[0]
    assert (o.table, o.check, o.severity, o.blocking_failure) == (
        TXNS,
        "enums",
        Severity.ERROR,
        True,
    )
    assert o.expectation.startswith("expect_column_values_to_be_in_set(txn_type)")
    assert o.offending_rows == 1
    assert o.sample == [
        {"row": o.sample[0]["row"], "event_date": o.sample[0]["event_date"], "txn_type": "REFUND"}
    ]
    text = o.message() + o.sample_json()
    assert TXNS in text and "expect_column_values_to_be_in_set(txn_type)" in text
    assert not [v for v in kit.identifier_values(warehouse) if v in text]


def test_samples_of_key_failures_show_positions_not_keys(warehouse: Path):
    PLANTED["uniqueness"][0](warehouse)
    (o,) = [o for o in check(warehouse, [TXNS]) if not o.passed]
    assert o.offending_rows == 2  # both copies
    assert all(set(row) <= {"row", "event_date", "approval_no"} for row in o.sample)
    assert all(row.get("approval_no", "<identifier>") == "<identifier>" for row in o.sample)


def test_referential_share_threshold_is_configurable(warehouse: Path):
    PLANTED["referential_share"][0](warehouse)
    (o,) = [o for o in check(warehouse, [TXNS]) if o.check == "referential_customer"]
    assert (o.passed, o.severity, o.offending_rows) == (False, Severity.WARN, 4)
    assert failed(check(warehouse, [TXNS], max_unknown_customer_share=0.10)) == set()


def test_volume_needs_a_minimum_history(warehouse: Path):
    PLANTED["volume_anomaly"][0](warehouse)
    assert failed(check(warehouse, [TXNS], volume_min_history=15)) == set()
    assert failed(check(warehouse, [TXNS], volume_min_history=14)) == {(TXNS, "volume_anomaly")}


def test_freshness_names_the_missing_feed_and_the_fate_of_its_batch(warehouse: Path):
    _ledger(
        "merchants",
        lambda b: b.with_columns(status=pl.lit("REJECTED"), reason=pl.lit("CHECKSUM_MISMATCH")),
    )(warehouse)
    stale = [o for o in check(warehouse) if o.check == "freshness" and not o.passed]
    assert [o.table for o in stale] == ["silver/card/merchants"]
    (row,) = stale[0].sample
    assert row["latest_loaded_date"] == (kit.D - timedelta(days=1)).isoformat()
    assert row["d_status"] == "r1 REJECTED CHECKSUM_MISMATCH"


def test_missing_silver_table_warns_and_does_not_block(warehouse: Path):
    import shutil

    shutil.rmtree(warehouse / "silver/life/policies")
    outcomes = [o for o in check(warehouse, ["silver/life/policies"])]
    assert failed(outcomes) == {("silver/life/policies", "schema")}
    assert not [o for o in outcomes if o.blocking_failure]


def test_gold_frame_checks_cover_schema_keys_and_consistency(warehouse: Path):
    from dam_pipelines.lib.quality import validate_frame

    profile = kit.read(warehouse, PROFILE)
    assert failed(validate_frame(PROFILE, profile, as_of=kit.D, warehouse=warehouse)) == set()
    bad = pl.concat([profile, profile.head(1)]).select(
        pl.col("as_of_date"), pl.exclude("as_of_date")
    )  # duplicate gcid, columns reordered
    bad = _row(bad, 2, age_band="70+")
    outcomes = validate_frame(PROFILE, bad, as_of=kit.D, warehouse=warehouse)
    assert {c for _, c in failed(outcomes)} >= {"schema", "keys", "consistency"}
    assert not (warehouse / "docs").exists()  # validate_frame has no side effects


# ---- a night checks what silver rewrote, not the whole history --------------------------------


def _night_of(warehouse: Path, rewritten: list[str], full: bool = False) -> None:
    """Silver's record of the night kit.D: transactions partitioned by event date (as silver
    writes them), with ``rewritten`` event dates."""
    from dam_pipelines.lib.silver import write_state

    txns = kit.read(warehouse, TXNS)
    delta.overwrite(warehouse / TXNS, txns, partition_by=["event_date"])
    changes = {"as_of": kit.D.isoformat(), "full": full, "partitions": rewritten}
    write_state(warehouse, TXNS, {"as_of": kit.D.isoformat(), "inputs": {}, "changes": changes})


def test_event_tables_are_checked_over_the_dates_silver_rewrote(warehouse: Path):
    from dam_pipelines.lib.quality.runner import check_scope

    dates = sorted({d.isoformat() for d in kit.read(warehouse, TXNS)["event_date"]})
    old = next(d for d in dates if d < (kit.D - timedelta(days=10)).isoformat())
    # the amount of an older event is broken: outside tonight's scope ...
    bad_old = _edit(
        TXNS,
        lambda df: _row(df, df["event_date"].cast(pl.Utf8).to_list().index(old), amount=-5),
    )
    bad_old(warehouse)
    _night_of(warehouse, [kit.D.isoformat()])
    cfg = QualityConfig()
    recent = sorted((kit.D - timedelta(days=i)).isoformat() for i in range(8))
    assert check_scope(warehouse, TXNS, kit.D, cfg) == recent
    assert check_scope(warehouse, "silver/card/customers", kit.D, cfg) is None  # masters whole
    (ranges,) = [o for o in check(warehouse, [TXNS]) if o.check == "ranges"]
    assert ranges.passed and ranges.checked_rows < kit.read(warehouse, TXNS).height
    # ... and inside it when silver says it rewrote that date (a late correction)
    _night_of(warehouse, [kit.D.isoformat(), old])
    assert old in check_scope(warehouse, TXNS, kit.D, cfg)
    assert (TXNS, "ranges") in failed(check(warehouse, [TXNS]))
    # a full rebuild (or no record of the night) checks the whole table
    _night_of(warehouse, [], full=True)
    assert check_scope(warehouse, TXNS, kit.D, cfg) is None
    assert (TXNS, "ranges") in failed(check(warehouse, [TXNS]))


def test_the_rollup_is_checked_over_the_batches_silver_appended(warehouse: Path):
    """On an append night the rollup's new rows are those of tonight's batch: the checks read
    the rows of the last batches (in whichever month), not whole months; a broken row of an
    older batch is not read again, one of a recent batch fails, and the reconciliation
    compares the same batches' transactions."""
    from dam_pipelines.lib.quality.runner import check_scope
    from dam_pipelines.lib.silver import write_state

    rollup_key = "silver/card/transactions_monthly"
    rollup = kit.read(warehouse, rollup_key)
    delta.overwrite(warehouse / rollup_key, rollup, partition_by=["month"])
    changes = {"as_of": kit.D.isoformat(), "full": False, "partitions": [kit.D.isoformat()]}
    write_state(warehouse, rollup_key, {"as_of": kit.D.isoformat(), "changes": changes})
    cfg = QualityConfig()
    recent = sorted((kit.D - timedelta(days=i)).isoformat() for i in range(8))
    assert check_scope(warehouse, rollup_key, kit.D, cfg) == recent
    old = rollup["business_date"].min()
    assert old is not None and old.isoformat() < recent[0]
    outcomes = check(warehouse, [rollup_key])
    assert failed(outcomes) == set()
    (keys,) = [o for o in outcomes if o.check == "keys"]
    in_scope = rollup.filter(pl.col("business_date") >= date.fromisoformat(recent[0])).height
    assert keys.checked_rows == in_scope < rollup.height
    # a recomputed month and the recent batches: each row read once
    month = kit.D.isoformat()[:7]
    changes["partitions"] = [month, kit.D.isoformat()]
    write_state(warehouse, rollup_key, {"as_of": kit.D.isoformat(), "changes": changes})
    outcomes = check(warehouse, [rollup_key])
    assert failed(outcomes) == set()
    (keys,) = [o for o in outcomes if o.check == "keys"]
    recent_rows = pl.col("business_date") >= date.fromisoformat(recent[0])
    assert keys.checked_rows == rollup.filter((pl.col("month") == month) | recent_rows).height

    def broken(batch: date) -> pl.DataFrame:
        n = rollup["business_date"].to_list().index(batch)
        return _row(rollup, n, purchase_amount=-5)

    delta.overwrite(warehouse / rollup_key, broken(old), partition_by=["month"])
    assert failed(check(warehouse, [rollup_key])) == set()  # checked on its own night
    delta.overwrite(warehouse / rollup_key, broken(kit.D), partition_by=["month"])
    assert failed(check(warehouse, [rollup_key])) == {
        (rollup_key, "ranges"),
        (rollup_key, "rollup_reconciliation"),
    }


def test_a_key_repeated_outside_the_checked_dates_still_fails(warehouse: Path):
    txns = kit.read(warehouse, TXNS)
    today = txns.filter(pl.col("event_date") == kit.D).head(1)
    # a copy however far back (a key may be re-sent months after it first came)
    moved = today.with_columns(pl.lit(kit.D - timedelta(days=60)).alias("event_date"))
    kit.replace_table(warehouse, TXNS, pl.concat([txns, moved]))
    _night_of(warehouse, [kit.D.isoformat()])
    (keys,) = [o for o in check(warehouse, [TXNS]) if o.check == "keys"]
    assert not keys.passed and keys.offending_rows == 1
    assert "no other event date up to D" in keys.detail


@pytest.mark.parametrize("which", ["min", "max"])
def test_the_smallest_and_largest_checked_keys_repeated_in_the_look_back_still_fail(
    warehouse: Path, which: str
):
    """The look-back is read only within the checked keys' range: its bounds are inside."""
    txns = kit.read(warehouse, TXNS)
    _night_of(warehouse, [kit.D.isoformat()])
    from dam_pipelines.lib.quality.runner import check_scope

    scope = check_scope(warehouse, TXNS, kit.D, QualityConfig())
    assert scope is not None
    checked = txns.filter(pl.col("event_date").cast(pl.Utf8).is_in(scope))
    edge = getattr(checked["approval_no"], which)()
    copy = checked.filter(pl.col("approval_no") == edge).with_columns(
        pl.lit(kit.D - timedelta(days=20)).alias("event_date")
    )
    kit.replace_table(warehouse, TXNS, pl.concat([txns, copy]))
    _night_of(warehouse, [kit.D.isoformat()])
    (keys,) = [o for o in check(warehouse, [TXNS]) if o.check == "keys"]
    assert not keys.passed and keys.offending_rows == 1


def test_the_window_sums_in_sql_equal_the_window_sums_in_polars(warehouse: Path):
    """The reconciliations' DuckDB sums are an independent formulation of the window sums."""
    from dam_pipelines.lib.profile import WINDOW_SUMS, card_window_sums
    from dam_pipelines.lib.quality.checks import RunContext, card_window_query

    ctx = RunContext(warehouse, kit.D, QualityConfig())
    txns = delta.scan(warehouse / TXNS)
    shops = delta.scan(warehouse / "silver" / "card" / "merchants")
    assert txns is not None and shops is not None
    expected = card_window_sums(txns, shops, kit.D).collect()
    per_customer = card_window_query(ctx, WINDOW_SUMS.names(), per_customer=True)
    totals = card_window_query(ctx, WINDOW_SUMS.names())
    assert per_customer is not None and totals is not None and totals.height == 1
    mine = expected.group_by("customer_no").agg(pl.col(WINDOW_SUMS.names()).sum())
    assert mine.sort("customer_no").equals(per_customer.sort("customer_no"))
    for col in WINDOW_SUMS.names():
        assert totals[col][0] == expected[col].sum() != 0, col


def test_a_key_of_several_columns_flags_every_copy_and_nothing_else():
    """Multi-column keys are screened by hash and confirmed exactly: the copies of a repeated
    key and a row with a null key part are violations; rows sharing only part of a key are
    not."""
    from dam_pipelines.lib.quality.rules import Op, Rule, evaluate_all

    df = pl.DataFrame(
        {
            "month": ["2026-01", "2026-01", "2026-01", "2026-02", "2026-01", None],
            "customer_no": ["C1", "C1", "C1", "C1", "C2", "C3"],
            "merchant_id": ["M1", "M1", "M2", "M1", "M1", "M1"],
        }
    )
    rule = Rule("keys", Op.KEY, "month", columns=("month", "customer_no", "merchant_id"))
    masks: dict[str, pl.Series] = {}
    (result,) = evaluate_all([rule], df, masks)
    assert masks[rule.label].to_list() == [True, True, False, False, False, True]
    assert not result.passed and result.offending == 3
