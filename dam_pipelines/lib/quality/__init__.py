"""Data quality of the dam: expectation suites, checks, Data Docs and the publication gate.

Public API (see docs/quality.md):

- :func:`run_quality` — every check of the silver/gold tables as of D; Data Docs + audit.
- :func:`quality_gate` — may gold be published for D? (blocking silver checks)
- :func:`validate_frame` — validate a frame before publishing it (write-audit-publish).
- :func:`publish` — write-audit-publish of a gold frame (raises :class:`QualityGateError`).
- :func:`planned_checks` — the checks reported per table (static; Dagster check specs).
"""

from pathlib import Path

from dam_pipelines.lib.quality.gx import docs_dir
from dam_pipelines.lib.quality.model import CheckOutcome, GateResult, QualityConfig
from dam_pipelines.lib.quality.rules import Severity
from dam_pipelines.lib.quality.runner import (
    AUDIT_QUALITY,
    quality_gate,
    read_audit,
    run_quality,
    validate_frame,
    write_audit,
)
from dam_pipelines.lib.quality.suites import (
    GOLD_SPECS,
    SILVER_SPECS,
    TABLE_SPECS,
    PlannedCheck,
    planned_checks,
)
from dam_pipelines.lib.quality.wap import QualityGateError, publish


def docs_index(warehouse: Path) -> Path:
    """The Data Docs site's index page (link it from asset metadata)."""
    return docs_dir(warehouse) / "index.html"


__all__ = [
    "AUDIT_QUALITY",
    "GOLD_SPECS",
    "SILVER_SPECS",
    "TABLE_SPECS",
    "CheckOutcome",
    "GateResult",
    "PlannedCheck",
    "QualityConfig",
    "QualityGateError",
    "docs_index",
    "Severity",
    "planned_checks",
    "publish",
    "quality_gate",
    "read_audit",
    "run_quality",
    "validate_frame",
    "write_audit",
]
