"""Results of the quality checks and their configuration (no identifiers anywhere in here)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dam_pipelines.lib.quality.rules import Severity


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the checks; the defaults are the documented ones (docs/quality.md)."""

    #: referential integrity: at most this share of rows may reference an unknown customer
    max_unknown_customer_share: float = 0.05
    max_unknown_merchant_share: float = 0.05
    #: events dated D-(n-1)..D are checked for unknown customers/merchants (late capture: 7)
    referential_window_days: int = 7
    #: event tables (and the monthly rollup) are checked over the event dates (months) silver
    #: rewrote for D plus D-(n-1)..D, not their whole history; 8 = the lateness window + D
    event_check_days: int = 8
    #: volume: a day's loaded rows must lie within median +- mad_factor * MAD of the history
    volume_history_days: int = 14
    volume_min_history: int = 7
    volume_mad_factor: float = 5.0
    #: MAD floor as a share of the median (a perfectly stable feed still gets some slack)
    volume_mad_floor_share: float = 0.01
    #: k-anonymity of gold/card_category_trends
    k_anonymity: int = 5
    #: value-level expectations run in GE on at most this many rows (deterministic sample)
    ge_max_rows: int = 50_000
    #: offending rows shown per failing check
    sample_size: int = 5


@dataclass(frozen=True)
class CheckOutcome:
    """One check of one table for one business date.

    ``sample`` holds row positions and non-identifying values only; ``expectation`` names the
    failing expectation(s) (all of the check's when it passed).
    """

    table: str  # "silver/card/transactions"
    check: str  # "enums"
    severity: Severity
    passed: bool
    offending_rows: int
    checked_rows: int
    expectation: str
    detail: str = ""
    sample: list[dict[str, Any]] = field(default_factory=list)
    docs_url: str | None = None
    suite: str = ""
    ge_success: bool | None = None  # the GE verdict on the validated frame (sampled if big)
    sampled: bool = False  # GE saw a deterministic sample, polars the full table
    #: Delta versions of the tables the check read, "key@version,..." (staleness detection)
    input_versions: str = ""
    #: "published": the table as stored; "pre_publish": a frame validated before publishing
    phase: str = "published"

    @property
    def blocking(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def blocking_failure(self) -> bool:
        return self.blocking and not self.passed

    def message(self) -> str:
        """One line naming the table, the check, the expectation and the offending rows."""
        state = "passed" if self.passed else f"FAILED ({self.severity.value})"
        text = (
            f"{self.table} · {self.check} {state}: {self.expectation}; "
            f"{self.offending_rows:,} offending of {self.checked_rows:,} rows"
        )
        if self.detail:
            text += f" — {self.detail}"
        return text

    def sample_json(self) -> str:
        return json.dumps(self.sample, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class GateResult:
    """Verdict of the blocking silver checks for a date: gold may be published iff passed."""

    passed: bool
    failures: list[str]
    outcomes: list[CheckOutcome] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed
