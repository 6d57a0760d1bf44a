"""Great Expectations side: Data Docs, agreement with the polars verdicts, no identifiers,
nothing written outside the warehouse. One GE run over a warehouse with every defect planted.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from dam_pipelines.lib.quality import QualityConfig, read_audit, run_quality
from dam_pipelines_tests.quality import kit
from dam_pipelines_tests.quality.test_checks import PLANTED, TXNS, _ledger

# each on its own table or feed, so that they do not mask each other
ALL_DEFECTS = [
    "enum",
    "range",
    "referential_share",
    "unmasked_pan",
    "spend_reconciliation",
    "batch_reconciliation",
    "k_anonymity",
]


@pytest.fixture(scope="module")
def night(clean_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("gx")
    warehouse = kit.copy_warehouse(clean_warehouse, root / "warehouse")
    for kind in ALL_DEFECTS:
        PLANTED[kind][0](warehouse)
    _ledger(
        "merchants",
        lambda b: b.with_columns(pl.col("rows_read") * 10 - 18, pl.col("rows_loaded") * 10),
    )(warehouse)
    _ledger("customers", lambda b: b.head(0))(warehouse)
    cwd, home = root / "cwd", root / "home"
    cwd.mkdir()
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setenv("HOME", str(home))
        outcomes = run_quality(warehouse, kit.D, run_id="night-1")
    return warehouse, outcomes, cwd, home


def test_data_docs_site_is_generated_with_every_suite_and_linked(night):
    warehouse, outcomes, _, _ = night
    index = warehouse / "docs" / "quality" / "index.html"
    html = index.read_text()
    for suite in (
        "silver.card.transactions",
        "silver.bank.loans",
        "gold.customer_profile",
        "gold.card_category_trends",
        "audit.batches",
        "audit.feed_status",
    ):
        assert suite in html
    for o in outcomes:
        if o.checked_rows or o.suite.startswith("audit"):
            assert o.docs_url and o.docs_url.startswith("file://"), o
            assert Path(o.docs_url.removeprefix("file://")).is_file()


def test_ge_verdicts_agree_with_polars(night):
    _, outcomes, _, _ = night
    judged = [o for o in outcomes if o.ge_success is not None]
    assert len(judged) > 100
    assert [o.message() for o in judged if o.ge_success != o.passed] == []
    assert {(o.table, o.check) for o in outcomes if not o.passed} == {
        (TXNS, "enums"),
        (TXNS, "ranges"),
        (TXNS, "referential_customer"),
        (TXNS, "pseudonymization"),
        (TXNS, "batch_row_reconciliation"),
        ("gold/customer_profile", "card_spend_reconciliation"),
        ("gold/card_category_trends", "k_anonymity"),
        ("silver/card/merchants", "volume_anomaly"),
        ("silver/card/customers", "freshness"),
        # the planted negative amount also breaks the monthly rollup's reconciliation
        ("silver/card/transactions_monthly", "rollup_reconciliation"),
        # and the card window sums', which were built before it was planted
        ("silver/card/window_spend", "window_spend_reconciliation"),
    }


def test_docs_and_audit_never_show_an_identifier(night):
    warehouse, _, _, _ = night
    identifiers = kit.identifier_values(warehouse)
    assert len(identifiers) > 100 and "1234567812345678" in identifiers  # the planted full PAN
    leaks = []
    for path in (warehouse / "docs").rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json"):
            text = path.read_text(errors="ignore")
            leaks += [(path.name, v) for v in identifiers if v in text]
    audit = read_audit(warehouse, kit.D)
    text = audit.select(pl.all().cast(pl.Utf8)).write_csv()
    leaks += [("audit/quality", v) for v in identifiers if v in text]
    assert leaks == []
    assert "REFUND" in text  # ... while failing non-identifying values are shown


def test_nothing_is_written_outside_the_warehouse(night):
    _, _, cwd, home = night
    assert list(cwd.iterdir()) == [] and list(home.iterdir()) == []
    assert not (Path.cwd() / "gx").exists()


def test_outcomes_are_appended_to_audit_quality(night, tmp_path: Path):
    warehouse, outcomes, _, _ = night
    audit = read_audit(warehouse, kit.D)
    assert audit.height == len(outcomes)
    assert set(audit["run_id"]) == {"night-1"}
    bad = audit.filter(~pl.col("passed"))
    assert bad.filter(pl.col("check") == "enums").select("table", "severity", "offending_rows").row(
        0
    ) == (TXNS, "ERROR", 1)


def test_large_tables_are_sampled_for_ge_but_counted_in_full(night):
    warehouse, _, _, _ = night
    outcomes = run_quality(
        warehouse, kit.D, [TXNS], config=QualityConfig(ge_max_rows=20), record=False
    )
    by = {o.check: o for o in outcomes if o.suite == "silver.card.transactions"}
    assert by["enums"].sampled and by["enums"].checked_rows == 60
    assert (by["enums"].passed, by["enums"].ge_success, by["enums"].offending_rows) == (
        False,
        False,
        1,
    )
    assert by["keys"].passed and by["keys"].ge_success


def test_ge_frames_hold_no_identifier_but_keep_keys_checkable(clean_warehouse: Path):
    from dam_pipelines.lib.quality import TABLE_SPECS
    from dam_pipelines.lib.quality.checks import RunContext
    from dam_pipelines.lib.quality.gx import KEY, pseudonymized_frame
    from dam_pipelines.lib.quality.runner import _derive

    identifiers = kit.identifier_values(clean_warehouse)
    ctx = RunContext(clean_warehouse, kit.D, QualityConfig())
    for table, spec in TABLE_SPECS.items():
        d = _derive(spec, kit.read(clean_warehouse, table), ctx)
        frame, sampled = pseudonymized_frame(spec, d.df, spec.rules(kit.D, ctx.config), 10**6)
        text = frame.select(pl.all().cast(pl.Utf8)).write_csv()
        assert not sampled and not [v for v in identifiers if v in text], table
        assert frame[KEY].n_unique() == frame.height == d.df.height, table


def test_old_nights_are_pruned_from_the_docs_folder(tmp_path):
    """Results and pages older than DOCS_KEEP_DAYS go, so the docs build stays bounded."""
    from datetime import date

    from dam_pipelines.lib.quality import gx as gxm

    root = tmp_path / "docs"
    for top in (gxm.RESULTS_DIR, "validations"):
        for night in ("2026-09-01", "2026-10-24", "2026-11-24"):
            (root / top / "silver" / "card.transactions" / night / "run").mkdir(parents=True)
    session = gxm.GxSession.__new__(gxm.GxSession)  # no GE context needed to prune
    session.root = root
    assert session.prune(date(2026, 11, 24)) == 2
    left = sorted(p.name for p in root.glob("*/*/*/*"))
    assert left == ["2026-10-24", "2026-10-24", "2026-11-24", "2026-11-24"]
