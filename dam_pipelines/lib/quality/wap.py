"""Write-audit-publish for gold: nothing reaches a published table without passing its checks.

``write``: the gold frame is built in memory (never in a second copy on disk, which erasure
would have to find). ``audit``: the blocking silver checks of D (:func:`quality_gate`) and the
gold table's own checks on the frame (:func:`validate_frame`). ``publish``: the caller's
single Delta commit (overwrite), atomic for readers. On any blocking failure nothing is
written and the previous gold version stays the current one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TypeVar

import polars as pl

from dam_pipelines.lib.quality.model import CheckOutcome, QualityConfig
from dam_pipelines.lib.quality.runner import quality_gate, validate_frame, write_audit

T = TypeVar("T")


class QualityGateError(RuntimeError):
    """A blocking check failed: ``table`` was not published for ``as_of``."""

    def __init__(self, table: str, as_of: date, failures: list[str]) -> None:
        self.table, self.as_of, self.failures = table, as_of, failures
        lines = "\n".join(f"- {f}" for f in failures)
        super().__init__(
            f"{table} not published for {as_of}: {len(failures)} blocking check(s) failed; "
            f"the previous version stays in place.\n{lines}"
        )


def publish(
    warehouse: Path,
    table: str,
    df: pl.DataFrame,
    as_of: date,
    write: Callable[[pl.DataFrame], T],
    *,
    config: QualityConfig | None = None,
    gate: bool = True,
    run_id: str | None = None,
    docs: bool = True,
) -> tuple[T, list[CheckOutcome]]:
    """Audit ``df`` (and, with ``gate``, D's blocking silver checks), then ``write(df)``.

    Raises :class:`QualityGateError` before writing anything when a blocking check fails.
    The frame's outcomes are recorded in ``audit/quality`` with phase ``pre_publish``.
    """
    if gate:
        verdict = quality_gate(warehouse, as_of, config=config, run_id=run_id, docs=docs)
        if not verdict.passed:
            raise QualityGateError(table, as_of, [f"silver: {f}" for f in verdict.failures])
    outcomes = [
        replace(o, phase="pre_publish")
        for o in validate_frame(table, df, as_of=as_of, warehouse=warehouse, config=config)
    ]
    write_audit(warehouse, as_of, outcomes, run_id=run_id)
    blocking = [o.message() for o in outcomes if o.blocking_failure]
    if blocking:
        raise QualityGateError(table, as_of, blocking)
    return write(df), outcomes
