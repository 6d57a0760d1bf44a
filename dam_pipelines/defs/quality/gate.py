"""Write-audit-publish for the gold assets: the quality gate as a Dagster failure.

Gold assets call :func:`require_quality_gate` (or :func:`publish_gold`, which also validates
the built frame) before they write: when a blocking silver check of D fails, the asset fails
with a message naming each failing table, expectation and offending-row count, and the
previous gold version stays the published one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

import dagster as dg
import polars as pl

from dam_pipelines.defs.quality.checks import quality_config
from dam_pipelines.lib.quality import (
    CheckOutcome,
    GateResult,
    QualityGateError,
    publish,
    quality_gate,
)
from dam_pipelines.settings import Settings

T = TypeVar("T")


def _failure(error: QualityGateError) -> dg.Failure:
    return dg.Failure(
        description=str(error),
        metadata={
            "failing_checks": dg.MetadataValue.md("\n".join(f"- {f}" for f in error.failures)),
            "as_of": error.as_of.isoformat(),
        },
        allow_retries=False,
    )


def require_quality_gate(
    context: dg.AssetExecutionContext,
    settings: Settings,
    as_of: date,
    table: str,
    *,
    docs: bool = True,
) -> GateResult:
    """Raise ``dg.Failure`` unless every blocking silver check of ``as_of`` passed."""
    gate = quality_gate(
        settings.warehouse_dir,
        as_of,
        config=quality_config(settings),
        run_id=context.run_id,
        docs=docs,
    )
    if not gate.passed:
        raise _failure(QualityGateError(table, as_of, [f"silver: {f}" for f in gate.failures]))
    context.log.info(f"quality gate for {as_of} passed ({len(gate.outcomes)} silver checks)")
    return gate


def publish_gold(
    context: dg.AssetExecutionContext,
    settings: Settings,
    table: str,
    df: pl.DataFrame,
    as_of: date,
    write: Callable[[pl.DataFrame], T],
    *,
    docs: bool = True,
) -> tuple[T, list[CheckOutcome]]:
    """Gate, validate ``df`` as ``table``, then ``write(df)``; a ``dg.Failure`` otherwise.

    ``docs`` only matters when the gate must re-run the silver checks (Data Docs or not).
    """
    try:
        return publish(
            settings.warehouse_dir,
            table,
            df,
            as_of,
            write,
            config=quality_config(settings),
            run_id=context.run_id,
            docs=docs,
        )
    except QualityGateError as error:
        raise _failure(error) from error


def audit_gold_frames(
    context: dg.AssetExecutionContext,
    settings: Settings,
    as_of: date,
    frames: dict[str, pl.DataFrame],
) -> list[CheckOutcome]:
    """Validate every built gold frame before any is written; ``dg.Failure`` on a blocking one.

    Each frame's outcomes are recorded (phase ``pre_publish``); nothing is published here.
    """
    outcomes: list[CheckOutcome] = []
    try:
        for table, df in frames.items():
            _, found = publish(
                settings.warehouse_dir,
                table,
                df,
                as_of,
                lambda _df: None,
                config=quality_config(settings),
                gate=False,
                run_id=context.run_id,
            )
            outcomes.extend(found)
    except QualityGateError as error:
        raise _failure(error) from error
    return outcomes
