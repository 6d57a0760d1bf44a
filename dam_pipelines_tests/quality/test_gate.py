"""The publication gate and write-audit-publish (library level, polars verdicts only)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from dam_pipelines.lib import delta
from dam_pipelines.lib.quality import (
    SILVER_SPECS,
    QualityGateError,
    publish,
    quality_gate,
    read_audit,
    run_quality,
)
from dam_pipelines.lib.quality import runner as quality_runner
from dam_pipelines_tests.quality import kit
from dam_pipelines_tests.quality.test_checks import PLANTED

PROFILE = "gold/customer_profile"


def gate(warehouse: Path, **kw):
    return quality_gate(warehouse, kit.D, docs=False, **kw)


def test_gate_passes_a_clean_night_and_names_blocking_failures(warehouse: Path):
    assert gate(warehouse).passed
    PLANTED["range"][0](warehouse)
    verdict = gate(warehouse)
    assert not verdict.passed
    assert any(
        f.startswith(
            "silver/card/transactions · ranges FAILED (ERROR): "
            "expect_column_values_to_be_between(amount): 1 row; 1 offending"
        )
        for f in verdict.failures
    )


def test_warnings_do_not_block(warehouse: Path):
    PLANTED["referential_share"][0](warehouse)
    verdict = gate(warehouse)
    assert verdict.passed and verdict.failures == []
    assert [o.check for o in verdict.outcomes if not o.passed] == ["referential_customer"]


def test_gate_reuses_tonights_verdicts_until_an_input_changes(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
):
    run_quality(warehouse, kit.D, list(SILVER_SPECS), docs=False)  # the checks' run
    calls: list[object] = []
    real = quality_runner.run_quality
    monkeypatch.setattr(
        quality_runner, "run_quality", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    assert gate(warehouse).passed and calls == []  # reused
    PLANTED["enum"][0](warehouse)  # a new silver version: the recorded verdicts are stale
    assert not gate(warehouse).passed and len(calls) == 1
    assert not gate(warehouse).passed and len(calls) == 1  # ... and now recorded again


def test_publish_refuses_a_bad_gold_frame_and_keeps_the_previous_version(warehouse: Path):
    path = warehouse / PROFILE
    good = kit.read(warehouse, PROFILE)
    before = delta.version(path)
    bad = pl.concat([good, good.head(1)])  # a gcid twice
    with pytest.raises(QualityGateError) as err:
        publish(warehouse, PROFILE, bad, kit.D, lambda df: delta.overwrite(path, df), docs=False)
    assert "gold/customer_profile · keys FAILED (ERROR)" in str(err.value)
    assert "previous version stays in place" in str(err.value)
    assert delta.version(path) == before
    recorded = read_audit(warehouse, kit.D)
    failed = recorded.filter((pl.col("phase") == "pre_publish") & ~pl.col("passed"))
    # the duplicated customer's spend now counts twice: the reconciliation notices too
    assert sorted(failed["check"]) == ["card_spend_reconciliation", "keys"]

    version, outcomes = publish(
        warehouse, PROFILE, good, kit.D, lambda df: delta.overwrite(path, df), docs=False
    )
    assert version == before + 1 and all(o.passed for o in outcomes)  # type: ignore[operator]


def test_publish_refuses_when_silver_is_blocked(warehouse: Path):
    path = warehouse / PROFILE
    before = delta.version(path)
    PLANTED["uniqueness"][0](warehouse)
    with pytest.raises(QualityGateError, match=r"silver: silver/card/transactions · keys"):
        publish(
            warehouse,
            PROFILE,
            kit.read(warehouse, PROFILE),
            kit.D,
            lambda df: delta.overwrite(path, df),
            docs=False,
        )
    assert delta.version(path) == before
