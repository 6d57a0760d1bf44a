"""Erasure on request, end to end on tiny tables (contract §5)."""

from __future__ import annotations

import shutil
from datetime import date

import polars as pl
import pytest
from deltalake import DeltaTable

from dam_pipelines.lib import delta
from dam_pipelines.lib.governance import apply_erasures, make_suppressor
from dam_pipelines.lib.governance.audit import ERASED, ERASURES, NO_CUSTOMER, read_records
from dam_pipelines.lib.governance.proof import prove_erased
from dam_pipelines.lib.governance.rules import Subject, subject_hash
from dam_pipelines.lib.governance.suppression import SUPPRESSIONS, read_suppressions
from dam_pipelines.lib.registry import get_feed
from dam_pipelines.settings import Settings
from dam_pipelines_tests.governance.helpers import (
    files_with_value,
    tree_mentions,
    write_bronze,
    write_quarantine,
    write_silver,
)

C = "C000017"  # the erased card customer
G = "a" * 63 + "1"  # their gcid
R = "2026-01-03"  # business date of the request batch
D = date(2026, 1, 4)  # the night


def build(settings: Settings) -> None:
    """Card: C has data before and after R; bank holds the same number for someone else."""
    write_bronze(
        settings,
        "card",
        "customers",
        "2026-01-01",
        [{"customer_no": C, "gcid": G}, {"customer_no": "C000018", "gcid": "b" * 64}],
    )
    write_bronze(
        settings,
        "card",
        "customers",
        "2026-01-05",
        [{"customer_no": C, "gcid": G, "status": "DORMANT"}],
    )
    for d, who in [("2026-01-02", [C, "C000018"]), ("2026-01-03", [C]), ("2026-01-04", [C])]:
        write_bronze(
            settings,
            "card",
            "transactions",
            d,
            [{"approval_no": f"A{d}{i}", "customer_no": c} for i, c in enumerate(who)],
        )
    write_bronze(
        settings,
        "card",
        "erasure_requests",
        R,
        [
            {"request_id": "REQ-1", "customer_no": C},
            {"request_id": "REQ-2", "customer_no": "C999999"},
        ],
    )  # unknown customer
    write_bronze(
        settings, "bank", "customers", "2026-01-01", [{"customer_no": C, "gcid": "c" * 64}]
    )
    write_bronze(settings, "bank", "loans", "2026-01-02", [{"loan_no": "L1", "customer_no": C}])
    write_quarantine(settings, "card", "transactions", "2026-01-02", [C, "C000018"])
    write_quarantine(settings, "card", "transactions", "2026-01-04", [C])
    write_quarantine(settings, "bank", "loans", "2026-01-02", [C])
    write_silver(
        settings,
        "card",
        "transactions",
        [
            {
                "approval_no": "S1",
                "customer_no": C,
                "amount": 10,
                "event_date": date(2026, 1, 2),
                "business_date": date(2026, 1, 2),
            },
            {
                "approval_no": "S2",
                "customer_no": C,
                "amount": 20,
                "event_date": date(2026, 1, 4),
                "business_date": date(2026, 1, 4),
            },
            {
                "approval_no": "S3",
                "customer_no": "C000018",
                "amount": 30,
                "event_date": date(2026, 1, 2),
                "business_date": date(2026, 1, 2),
            },
        ],
        partition_by=["event_date"],
    )
    write_silver(
        settings,
        "card",
        "customers",
        [
            {"customer_no": C, "gcid": G, "status": "ACTIVE", "business_date": date(2026, 1, 1)},
            {
                "customer_no": "C000018",
                "gcid": "b" * 64,
                "status": "ACTIVE",
                "business_date": date(2026, 1, 1),
            },
        ],
    )


def rows(settings: Settings, *key: str, **eq: object) -> pl.DataFrame:
    df = delta.read(settings.table_path(*key))
    assert df is not None
    for k, v in eq.items():
        df = df.filter(pl.col(k) == v)
    return df


@pytest.fixture
def erased(settings: Settings):
    build(settings)
    before = {
        "tx_files": files_with_value(
            settings.table_path("bronze", "card", "transactions"), "customer_no", C
        ),
        "tx_version": delta.version(settings.table_path("bronze", "card", "transactions")),
    }
    report = apply_erasures(settings, D, run_id="night-1")
    return settings, report, before


def test_rows_of_the_customer_from_batches_up_to_r_are_gone_everywhere(erased) -> None:
    settings, report, _ = erased
    tx = rows(settings, "bronze", "card", "transactions", customer_no=C)
    assert tx["business_date"].to_list() == ["2026-01-04"]  # later batch: new data, kept
    assert rows(settings, "bronze", "card", "customers", customer_no=C)[
        "business_date"
    ].to_list() == ["2026-01-05"]
    req = rows(settings, "bronze", "card", "erasure_requests")
    assert req["request_id"].to_list() == [
        "REQ-2"
    ]  # the request row itself went; unknown one stays
    q = rows(settings, "audit", "quarantine", customer_no=C)
    assert sorted(zip(q["affiliate"], q["business_date"], strict=True)) == [
        ("bank", "2026-01-02"),
        ("card", "2026-01-04"),
    ]
    s = rows(settings, "silver", "card", "transactions", customer_no=C)
    assert s["approval_no"].to_list() == ["S2"]
    assert rows(settings, "silver", "card", "customers", customer_no=C).height == 0
    assert report.affected_gcids == {G}
    assert (
        report.rows_deleted == 2 + 1 + 1 + 1 + 1 + 1
    )  # tx, customers, request, quarantine, silver x2


def test_other_customers_and_other_affiliates_are_untouched(erased) -> None:
    settings, _, _ = erased
    assert rows(settings, "bronze", "card", "transactions", customer_no="C000018").height == 1
    assert rows(settings, "bronze", "bank", "customers", customer_no=C).height == 1
    assert rows(settings, "bronze", "bank", "loans", customer_no=C).height == 1
    assert rows(settings, "silver", "card", "transactions", customer_no="C000018").height == 1


def test_audit_records_prove_the_erasure_without_identifiers(erased) -> None:
    settings, report, _ = erased
    audit = read_records(settings.warehouse_dir)
    done = audit.filter(pl.col("outcome") == ERASED).row(0, named=True)
    assert done["request_id"] == "REQ-1" and done["affiliate"] == "card"
    assert done["subject_hash"] == subject_hash(settings.pseudonym_key, "card", C)
    assert done["effective_date"] == date(2026, 1, 3)
    assert done["verified"] is True, done["verification"]
    assert done["rows_deleted"] == 7
    assert set(done["tables_touched"].split(",")) == {
        "bronze/card/customers",
        "bronze/card/transactions",
        "bronze/card/erasure_requests",
        "audit/quarantine",
        "silver/card/transactions",
        "silver/card/customers",
    }
    assert done["files_removed"] > 0
    unknown = audit.filter(pl.col("outcome") == NO_CUSTOMER)
    assert unknown["request_id"].to_list() == ["REQ-2"]
    assert report.verified
    # No customer number, no gcid: not in the audit table, not in the suppression list,
    # neither in their data files nor in their logs.
    for key in (ERASURES, SUPPRESSIONS):
        root = settings.table_path(*key)
        assert root.exists()
        assert tree_mentions(root, C, G, "C999999") == []


def test_files_holding_the_rows_are_gone_from_disk_and_time_travel_fails(erased) -> None:
    settings, _, before = erased
    table = settings.table_path("bronze", "card", "transactions")
    assert before["tx_files"]  # the fixture did see them
    old = {f for f in before["tx_files"] if f < "business_date=2026-01-04"}
    assert len(old) == 2
    for rel in old:
        assert not (table / rel).exists()
    # the only file still holding C is the new-data batch of 2026-01-04
    assert all(
        f.startswith("business_date=2026-01-04") for f in files_with_value(table, "customer_no", C)
    )
    with pytest.raises(Exception):  # noqa: B017 - the log before the checkpoint is gone
        DeltaTable(str(table), version=before["tx_version"])
    with pytest.raises(Exception):  # noqa: B017
        DeltaTable(str(table)).load_as_version(before["tx_version"])
    # the log holds no trace of the number (statistics exclude it, the merge keeps no literal)
    assert tree_mentions(table / "_delta_log", C) == []
    # silver kept min/max statistics of customer_no: only the live new-data file may say C
    silver_logs = tree_mentions(
        settings.table_path("silver", "card", "customers") / "_delta_log", C
    )
    assert silver_logs == []


def test_second_run_changes_nothing_and_logs_unknown_once(erased) -> None:
    settings, _, _ = erased
    versions = {
        t: delta.version(settings.table_path(*t.split("/")))
        for t in ("bronze/card/transactions", "audit/quarantine", "silver/card/transactions")
    }
    again = apply_erasures(settings, D, run_id="night-2")
    assert again.subjects == 0 and again.rows_deleted == 0 and again.no_customer == 0
    assert {t: delta.version(settings.table_path(*t.split("/"))) for t in versions} == versions
    assert read_records(settings.warehouse_dir).height == 2


def test_replay_of_old_batches_does_not_resurrect(erased) -> None:
    settings, _, _ = erased
    sup = read_suppressions(settings.warehouse_dir)
    assert sup["effective_date"].to_list() == [date(2026, 1, 3)]
    suppress = make_suppressor(settings)
    feed = get_feed("card", "transactions")
    batch = pl.DataFrame({"approval_no": ["X1", "X2"], "customer_no": [C, "C000018"]})
    assert suppress(feed, "2026-01-02", batch)["customer_no"].to_list() == ["C000018"]
    assert suppress(feed, R, batch)["customer_no"].to_list() == ["C000018"]
    assert suppress(feed, "2026-01-04", batch).height == 2  # after R: new data loads
    bank = get_feed("bank", "loans")
    assert suppress(bank, "2026-01-02", batch).height == 2  # another affiliate's C is someone else
    q = pl.DataFrame({"customer_no": [C, None], "reason": ["TYPE", "REQUIRED"]})
    assert suppress(feed, "2026-01-02", q)["reason"].to_list() == ["REQUIRED"]


def test_a_request_re_delivered_later_reaches_the_batches_up_to_its_latest_delivery(
    erased,
) -> None:
    # docs/governance.md step 2: the same request_id in a later batch takes effect again on
    # that batch's date; the rows delivered after the first R, kept by the first erasure,
    # then go too.
    settings, _, _ = erased
    assert rows(settings, "bronze", "card", "transactions", customer_no=C)[
        "business_date"
    ].to_list() == ["2026-01-04"]
    write_bronze(
        settings,
        "card",
        "erasure_requests",
        "2026-01-05",
        [{"request_id": "REQ-1", "customer_no": C}],
    )
    again = apply_erasures(settings, date(2026, 1, 5), run_id="night-3")
    assert again.subjects == 1
    for table in ("transactions", "customers", "erasure_requests"):
        assert rows(settings, "bronze", "card", table, customer_no=C).height == 0, table
    erasures = read_records(settings.warehouse_dir).filter(pl.col("outcome") == ERASED)
    assert sorted(erasures["effective_date"].to_list()) == [date(2026, 1, 3), date(2026, 1, 5)]
    assert read_suppressions(settings.warehouse_dir)["effective_date"].max() == date(2026, 1, 5)
    # the bank's customer with the same number is someone else and stays
    assert rows(settings, "bronze", "bank", "loans", customer_no=C).height == 1


def test_unknown_customer_changes_nothing(settings: Settings) -> None:
    write_bronze(settings, "card", "customers", "2026-01-05", [{"customer_no": C, "gcid": G}])
    write_bronze(
        settings, "card", "transactions", "2026-01-02", [{"approval_no": "A", "customer_no": C}]
    )
    write_bronze(
        settings, "card", "erasure_requests", R, [{"request_id": "REQ-9", "customer_no": C}]
    )
    before = {
        k: delta.version(settings.table_path("bronze", "card", k))
        for k in ("customers", "transactions", "erasure_requests")
    }
    report = apply_erasures(settings, D)
    assert report.subjects == 0 and report.no_customer == 1
    assert {k: delta.version(settings.table_path("bronze", "card", k)) for k in before} == before
    assert rows(settings, "bronze", "card", "transactions", customer_no=C).height == 1
    audit = read_records(settings.warehouse_dir)
    assert audit["outcome"].to_list() == [NO_CUSTOMER]
    assert read_suppressions(settings.warehouse_dir).height == 0


def _subject(settings: Settings) -> Subject:
    return Subject(
        "card", C, date(2026, 1, 3), subject_hash(settings.pseudonym_key, "card", C), "request"
    )


#: a thorough proof (the purge's), and a night's targeted one that wrote no file
MODES = [None, {}]


def _proofs(settings: Settings) -> list:
    return [prove_erased(settings.warehouse_dir, [_subject(settings)], written=w) for w in MODES]


def test_proof_detects_a_planted_orphan_file(erased) -> None:
    settings, _, _ = erased
    assert all(p.verified for p in _proofs(settings))
    table = settings.table_path("bronze", "card", "transactions")
    src = next(iter(files_with_value(table, "customer_no", C)))
    # a stray copy of C's data in a pre-R partition folder, referenced by no log entry
    target = table / "business_date=2026-01-02" / "stray.parquet"
    shutil.copy(table / src, target)
    for proof in _proofs(settings):
        assert not proof.verified
        assert "bronze/card/transactions" in proof.detail() and C not in proof.detail()


def test_proof_detects_a_live_leftover_row_and_a_log_mention(erased) -> None:
    settings, _, _ = erased
    write_bronze(
        settings, "card", "transactions", "2026-01-02", [{"approval_no": "Z", "customer_no": C}]
    )
    for proof in _proofs(settings):
        assert not proof.verified
        scan = next(s for s in proof.scans if s.table == "bronze/card/transactions")
        assert scan.leftover_rows == 1
    # a DELETE with the number as a literal writes it into the log: the scan must see it
    DeltaTable(str(settings.table_path("bronze", "card", "transactions"))).delete(
        f"customer_no = '{C}'"
    )
    table = settings.table_path("bronze", "card", "transactions")
    thorough, targeted = _proofs(settings)
    scan = next(s for s in thorough.scans if s.table == "bronze/card/transactions")
    # the deleted file is still on disk (not vacuumed) and the log names the number
    assert scan.leftover_rows == 1 and scan.orphan_files >= 1 and scan.log_mentions >= 1
    # the targeted proof reads live files only, but sees the unreferenced file and the log
    scan = next(s for s in targeted.scans if s.table == "bronze/card/transactions")
    assert scan.orphan_files >= 1 and scan.log_mentions >= 1 and not targeted.verified
    assert tree_mentions(table / "_delta_log", C)
    # vacuum + checkpoint + log cleanup remove both traces
    delta.vacuum_now(table)
    assert tree_mentions(table / "_delta_log", C) == []
    assert all(p.verified for p in _proofs(settings))


def test_proof_detects_a_mention_in_a_quarantine_record(erased) -> None:
    settings, _, _ = erased
    write_quarantine(settings, "card", "customers", "2026-01-02", ["C000018"])
    q = settings.table_path("audit", "quarantine")
    df = delta.read(q).with_columns(
        pl.when(pl.col("feed") == "customers")
        .then(pl.lit(f'{{"customer_no": "{C}"}}'))
        .otherwise(pl.col("record"))
        .alias("record")
    )
    delta.overwrite(q, df)
    for proof in _proofs(settings):  # the quarantine's raw records are always searched
        scan = next(s for s in proof.scans if s.table == "audit/quarantine")
        assert scan.column_hits == {"record": 1} and not proof.verified


def test_targeted_proof_searches_every_column_of_the_files_the_erasure_wrote(erased) -> None:
    """A night's proof reads the key column of every live file, and every text column only of
    the files the erasure wrote; the purge's thorough proof reads every column of every file."""
    settings, _, _ = erased
    table = settings.table_path("bronze", "card", "transactions")
    before = set(delta.live_files(table))
    write_bronze(
        settings,
        "card",
        "transactions",
        "2026-01-02",
        [{"approval_no": "Z", "customer_no": "C000018", "original_approval_no": C}],
    )
    delta.vacuum_now(table)  # the partition's replaced file is gone, as after an erasure
    new = set(delta.live_files(table)) - before
    subject = [_subject(settings)]
    thorough = prove_erased(settings.warehouse_dir, subject)
    untouched = prove_erased(settings.warehouse_dir, subject, written={})
    rewritten = prove_erased(
        settings.warehouse_dir, subject, written={"bronze/card/transactions": new}
    )
    assert not thorough.verified and not rewritten.verified
    assert untouched.verified  # a mention outside the key column, in a file it did not write
    scan = next(s for s in rewritten.scans if s.table == "bronze/card/transactions")
    assert scan.column_hits == {"original_approval_no": 1} and scan.token_files == len(new)
    assert "every text column of" in rewritten.detail() and C not in rewritten.detail()


def test_rollup_is_erased_by_batch_lineage_like_the_transactions(settings: Settings) -> None:
    """silver/card/transactions_monthly carries the batch that delivered its rows: C's rows of
    batches dated up to R go, C's later batch stays (new data), other customers' rows and the
    rollup's build state stay; what is left equals the rollup of the erased transactions, and
    the proof passes with C's later row in place."""
    from dam_pipelines.lib.silver import state_path, write_state
    from dam_pipelines.lib.trends import ROLLUP_SCHEMA, monthly_rollup

    build(settings)
    rollup = settings.table_path("silver", "card", "transactions_monthly")
    txn_path = settings.table_path("silver", "card", "transactions")
    silver_txns = delta.read(txn_path)
    extra = pl.DataFrame(
        {
            "approval_no": ["Y1", "Y2", "Y3"],
            "customer_no": [C, C, "C000018"],
            "txn_type": ["PURCHASE"] * 3,
            "merchant_id": ["M"] * 3,
            "amount": [5, 7, 4],
            "event_date": [date(2026, 1, 2), date(2026, 1, 2), date(2026, 1, 2)],
            # before R, after R (a late event of the same month), another customer before R
            "business_date": [date(2026, 1, 2), date(2026, 1, 4), date(2026, 1, 2)],
        }
    )
    with_type = silver_txns.with_columns(
        pl.lit("PURCHASE").alias("txn_type"), pl.lit("M").alias("merchant_id")
    )
    txns = pl.concat([with_type, extra.select(with_type.columns).cast(with_type.schema)])
    delta.overwrite(txn_path, txns, partition_by=["event_date"])
    before = monthly_rollup(txns.lazy()).collect().select(ROLLUP_SCHEMA.names())
    delta.overwrite(rollup, before, partition_by=["month"])
    write_state(settings.warehouse_dir, "silver/card/transactions_monthly", {"as_of": "2026-01-04"})
    mine = before.filter(pl.col("customer_no") == C)
    assert mine["business_date"].to_list().count(date(2026, 1, 4)) == 1  # the later batch
    assert (mine["business_date"] <= date.fromisoformat(R)).any()
    report = apply_erasures(settings, D)
    assert report.verified
    assert report.changes["silver/card/transactions_monthly"].rows_deleted == (
        mine.filter(pl.col("business_date") <= date.fromisoformat(R)).height
    )
    left = delta.read(rollup)
    erased = delta.scan(txn_path)
    assert erased is not None
    expected = monthly_rollup(erased).collect().select(ROLLUP_SCHEMA.names())
    key = ["month", "customer_no", "merchant_id", "business_date"]
    assert left.sort(key).equals(expected.sort(key))
    assert left.filter(pl.col("customer_no") == C)["business_date"].to_list() == [date(2026, 1, 4)]
    assert left.filter(pl.col("customer_no") != C).height == (
        before.filter(pl.col("customer_no") != C).height
    )
    assert state_path(settings.warehouse_dir, "silver/card/transactions_monthly").exists()


def test_card_window_rows_of_the_erased_are_rederived_and_the_window_moves_on(
    settings: Settings, tmp_path
) -> None:
    """silver/card/window_spend mixes batches: every row of C goes, C's rows are re-derived
    from the erased transactions (later batches only), the proof passes, and the erasure
    moves the window's state on, so the next night still carries it forward (and equals a
    recompute)."""
    from datetime import timedelta

    from dam_pipelines.lib.card_window import build_window_spend
    from dam_pipelines.lib.profile import card_window_sums, widen
    from dam_pipelines.lib.silver import WINDOW_SPEND, read_state

    build(settings)
    wh = settings.warehouse_dir
    txn_path = settings.table_path("silver", "card", "transactions")
    silver_txns = delta.read(txn_path)
    extra = pl.DataFrame(
        {
            "approval_no": ["Y1", "Y2"],
            "customer_no": [C, C],
            "event_date": [date(2026, 1, 2), date(2026, 1, 4)],
            "business_date": [date(2026, 1, 2), date(2026, 1, 4)],  # before R, after R
        }
    )
    typed = silver_txns.with_columns(
        pl.lit("PURCHASE").alias("txn_type"),
        pl.lit("M").alias("merchant_id"),
        pl.lit(10).alias("amount"),
        pl.lit(False).alias("is_overseas"),
    )
    delta.overwrite(
        txn_path,
        pl.concat(
            [
                typed,
                extra.with_columns(pl.lit(7).alias("amount")).select(
                    [c for c in typed.columns if c in {*extra.columns, "amount"}]
                ),
            ],
            how="diagonal_relaxed",
        )
        .select(typed.columns)
        .cast(typed.schema),
        partition_by=["event_date"],
    )
    build_window_spend(wh, D, full=True)
    window = wh / WINDOW_SPEND
    before = delta.read(window)
    assert before.filter(pl.col("customer_no") == C).height > 0

    report = apply_erasures(settings, D)
    assert report.verified
    assert report.changes[WINDOW_SPEND].rows_deleted > 0
    left = delta.read(window)
    txns = delta.scan(txn_path)
    mine = txns.filter(pl.col("customer_no") == C)
    assert set(mine.collect()["business_date"].to_list()) == {date(2026, 1, 4)}  # later only
    shops = pl.LazyFrame(schema={"merchant_id": pl.Utf8, "category": pl.Utf8})
    kept = widen(card_window_sums(mine, shops, D)).collect()
    assert_rows = left.filter(pl.col("customer_no") == C).drop("customer_no")
    assert assert_rows.rows() == kept.drop("customer_no").rows()
    assert (
        left.filter(pl.col("customer_no") != C)
        .sort("customer_no")
        .equals(before.filter(pl.col("customer_no") != C).sort("customer_no"))
    )
    state = read_state(wh, WINDOW_SPEND)
    assert state["txn_version"] == delta.version(txn_path)
    assert state["version"] == delta.version(window)

    later = D + timedelta(days=1)
    assert build_window_spend(wh, later).metadata["mode"] == "incremental"
    carried = delta.read(window).sort("customer_no")
    build_window_spend(wh, later, full=True)
    assert carried.drop("first_business_date").equals(
        delta.read(window).sort("customer_no").drop("first_business_date")
    )


def test_the_merge_commit_names_the_purge_list_until_the_log_is_cleaned(tmp_path) -> None:
    """Every row of the subject up to its date goes, from the partitions holding them, and
    nothing else does. delta-rs writes the purge list's values into the MERGE's commit info;
    the erasure's log cleanup (``vacuum_now``, docs/governance.md) leaves no commit naming
    them."""
    import dam_pipelines.lib.governance.erasure as erasure

    path = tmp_path / "bronze" / "bank" / "deposit_accounts"
    days = [date(2026, 1, d) for d in range(1, 7)]
    table = pl.DataFrame(
        {
            "customer_no": [c for _ in days for c in (C, "C000018")],
            "balance": list(range(2 * len(days))),
            "business_date": [d for d in days for _ in range(2)],
        }
    )
    # As the dam's tables are made: no statistics of the customer number in the log.
    config = delta.table_config(["balance", "business_date"])
    delta.append(path, table, partition_by=["business_date"], configuration=config)
    before = delta.version(path)
    until = date(2026, 1, 5)  # the request's date: the 6th's batch is new data
    subject = Subject("bank", C, until, subject_hash("k", "bank", C), "request", ())
    deleted, per = erasure.delete_subject_rows(path, "bronze/bank/deposit_accounts", [subject])
    assert deleted == 5 and per == {subject.hash: 5}
    assert delta.version(path) == before + 1  # one MERGE
    left = delta.read(path)
    assert left is not None
    assert sorted(left.filter(pl.col("customer_no") == C)["business_date"].to_list()) == [
        date(2026, 1, 6)
    ]
    assert left.filter(pl.col("customer_no") == "C000018").height == len(days)
    assert tree_mentions(path / "_delta_log", C)  # until the log is cleaned
    delta.vacuum_now(path)
    assert not tree_mentions(path / "_delta_log", C)


def test_an_erasure_cut_short_is_finished_by_the_next_run(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that dies half way (here on a silver table) leaves the request and the customers
    record in place: the next run finds the subject again, finishes, proves and records it."""
    import dam_pipelines.lib.governance.erasure as erasure

    build(settings)
    real = erasure.delete_subject_rows

    def dies_on_silver(path, table, subjects, **kw):  # type: ignore[no-untyped-def]
        if table == "silver/card/transactions":
            raise RuntimeError("power cut")
        return real(path, table, subjects, **kw)

    monkeypatch.setattr(erasure, "delete_subject_rows", dies_on_silver)
    with pytest.raises(RuntimeError, match="power cut"):
        apply_erasures(settings, D, run_id="night-1")
    # what identifies the subject is still there; some of its rows are already gone
    assert rows(settings, "bronze", "card", "erasure_requests", customer_no=C).height == 1
    assert rows(settings, "bronze", "card", "customers", customer_no=C).height > 0
    assert rows(settings, "silver", "card", "transactions", customer_no=C).height == 2
    monkeypatch.setattr(erasure, "delete_subject_rows", real)
    report = apply_erasures(settings, D, run_id="night-1-rerun")
    assert report.verified
    mine = subject_hash(settings.pseudonym_key, "card", C)
    assert [r.outcome for r in report.records if r.subject_hash == mine] == [ERASED]
    assert rows(settings, "silver", "card", "transactions", customer_no=C)[
        "event_date"
    ].to_list() == [date(2026, 1, 4)]  # the event of a batch after R stays
    assert rows(settings, "bronze", "card", "erasure_requests", customer_no=C).height == 0
    assert (
        not rows(settings, "bronze", "card", "customers", customer_no=C)
        .filter(pl.col("business_date") <= R)
        .height
    )
    assert mine in set(read_suppressions(settings.warehouse_dir)["subject_hash"].to_list())
