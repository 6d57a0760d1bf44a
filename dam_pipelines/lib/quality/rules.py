"""Declarative quality rules and their exact evaluation on the full data with polars.

A :class:`Rule` is declared once (see :mod:`.suites`) and used twice: polars evaluates it on
every row of the table (the verdict, the offending-row count and the sample come from here),
and :mod:`.gx` compiles it to a Great Expectations expectation for the Data Docs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import polars as pl


class Severity(StrEnum):
    ERROR = "ERROR"  # blocking: gold is not published for the date
    WARN = "WARN"


class Op(StrEnum):
    EXISTS = "exists"  # table level: the column is present (at ``index`` when given)
    KEY = "key"  # ``columns`` jointly unique and never null
    NOT_NULL = "not_null"
    IN_SET = "in_set"
    BETWEEN = "between"
    REGEX = "regex"
    TRUE = "true"  # a derived boolean is true; null = not applicable; ``mostly`` allowed
    SUM_EQUALS = "sum_equals"  # table level: the column's sum (nulls as 0) equals ``min``


TABLE_LEVEL = (Op.EXISTS, Op.SUM_EQUALS)

#: The Great Expectations expectation each operation compiles to (KEY: not-null and unique
#: over a per-run surrogate of the key, see :mod:`.gx`).
EXPECTATION_NAMES: dict[Op, str] = {
    Op.EXISTS: "expect_column_to_exist",
    Op.KEY: "expect_key_to_be_unique_and_not_null",
    Op.NOT_NULL: "expect_column_values_to_not_be_null",
    Op.IN_SET: "expect_column_values_to_be_in_set",
    Op.BETWEEN: "expect_column_values_to_be_between",
    Op.REGEX: "expect_column_values_to_match_regex",
    Op.TRUE: "expect_column_values_to_be_true",
    Op.SUM_EQUALS: "expect_column_sum_to_be_between",
}


@dataclass(frozen=True)
class Rule:
    """One expectation on one column of a table, in a named check with a severity."""

    check: str  # the check (Dagster asset check name) the rule belongs to
    op: Op
    column: str
    columns: tuple[str, ...] = ()  # KEY: the key columns
    values: tuple[Any, ...] = ()  # IN_SET
    min: Any = None
    max: Any = None
    strict_min: bool = False
    strict_max: bool = False
    pattern: str | None = None
    index: int | None = None  # EXISTS: expected position
    mostly: float = 1.0  # TRUE: share of applicable rows that must be true
    severity: Severity = Severity.ERROR
    description: str = ""
    #: SUM_EQUALS: offending rows to report when it fails (e.g. customers missing)
    offending_hint: int | None = None
    #: non-identifying columns whose values explain an offending row in samples
    show: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Stable name of the expectation (GE's type name), as shown in Dagster and the audit."""
        target = ",".join(self.columns) if self.op is Op.KEY else self.column
        return f"{EXPECTATION_NAMES[self.op]}({target})"

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.columns if self.op is Op.KEY else (self.column,)


def _bound(value: Any, dtype: pl.DataType) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime) and dtype == pl.Datetime:
        return datetime(value.year, value.month, value.day)
    return value


def violation(rule: Rule, schema: pl.Schema) -> pl.Expr:
    """Row-level rules: a Boolean expression, true where the row breaks the rule."""
    c = pl.col(rule.column)
    op = rule.op
    if op is Op.KEY:
        cols = list(rule.columns)
        missing = pl.any_horizontal([pl.col(k).is_null() for k in cols])
        # Several columns: rows whose key hashes collide, confirmed exactly by
        # :func:`evaluate_all` (a struct's is_duplicated row-encodes every key: 2.3 GiB more
        # at the peak on a 14 M-row rollup month, against 0.1 GiB for the hash).
        dup = (
            pl.struct(cols).hash().is_duplicated()
            if len(cols) > 1
            else pl.col(cols[0]).is_duplicated()
        )
        return missing | dup
    if op is Op.NOT_NULL:
        return c.is_null()
    if op is Op.IN_SET:
        return c.is_not_null() & ~c.is_in(list(rule.values))
    if op is Op.BETWEEN:
        dtype = schema[rule.column]
        bad = pl.lit(False)
        if rule.min is not None:
            lo = _bound(rule.min, dtype)
            bad = bad | ((c <= lo) if rule.strict_min else (c < lo))
        if rule.max is not None:
            hi = _bound(rule.max, dtype)
            bad = bad | ((c >= hi) if rule.strict_max else (c > hi))
        return c.is_not_null() & bad
    if op is Op.REGEX:
        return c.is_not_null() & ~c.cast(pl.Utf8).str.contains(rule.pattern or "")
    if op is Op.TRUE:
        return c.is_not_null() & ~c.fill_null(True)
    raise ValueError(f"{op} is not a row-level rule")


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    passed: bool
    offending: int
    applicable: int
    detail: str = ""


def _table_level(rule: Rule, df: pl.DataFrame) -> RuleResult | None:
    """The result of a rule that needs no row mask (schema, sums, missing inputs), else None."""
    names = set(df.columns)
    if rule.op is Op.EXISTS:
        if rule.column not in names:
            return RuleResult(rule, False, 1, 1, f"column {rule.column} is missing")
        if rule.index is not None and df.columns[rule.index : rule.index + 1] != [rule.column]:
            at = df.columns.index(rule.column)
            return RuleResult(
                rule,
                False,
                1,
                1,
                f"column {rule.column} is at position {at}, expected {rule.index}",
            )
        return RuleResult(rule, True, 0, 1)
    absent = [c for c in rule.inputs if c not in names]
    if absent:
        return RuleResult(rule, False, 0, 0, f"cannot evaluate: column {', '.join(absent)} missing")
    if rule.op is Op.SUM_EQUALS:
        total = int(df.select(pl.col(rule.column).fill_null(0).sum()).item() or 0)
        ok = total == rule.min
        hint = rule.offending_hint if rule.offending_hint is not None else 1
        return RuleResult(
            rule,
            ok,
            0 if ok else max(hint, 1),
            1,
            ""
            if ok
            else f"sum {total:,} != expected {rule.min:,} (difference {total - rule.min:+,})",
        )
    return None


def _row_level(rule: Rule, mask: pl.Series, applicable: int) -> RuleResult:
    """The result of a row-level rule from its violation mask (``applicable``: the non-null
    rows of a TRUE rule's flag, else the frame's height)."""
    offending = int(mask.sum() or 0)
    if rule.op is Op.TRUE:
        share = offending / applicable if applicable else 0.0
        ok = share <= 1 - rule.mostly + 1e-12
        detail = f"{offending:,} of {applicable:,} applicable rows ({share:.2%})"
        if rule.mostly < 1:
            detail += f"; at most {1 - rule.mostly:.0%} allowed"
        return RuleResult(rule, ok, offending, applicable, detail if offending else "")
    return RuleResult(
        rule,
        offending == 0,
        offending,
        applicable,
        f"{offending:,} row{'s' * (offending != 1)}" if offending else "",
    )


def evaluate(rule: Rule, df: pl.DataFrame, masks: dict[str, pl.Series]) -> RuleResult:
    """Evaluate ``rule`` on ``df``; row-level masks are stored in ``masks`` by rule label."""
    return evaluate_all([rule], df, masks)[0]


def _exact_key_violations(df: pl.DataFrame, rule: Rule, candidates: pl.Series) -> pl.Series:
    """The KEY violations among the rows :func:`violation` flags (null keys, and keys whose
    hashes collide): two rows with equal keys have equal hashes, so every copy of a
    duplicated key is a candidate, and the exact test needs only the candidates."""
    cols = list(rule.columns)
    cand = df.select(cols).with_row_index("_row").filter(candidates)
    exact = cand.select(
        "_row",
        (
            pl.any_horizontal([pl.col(k).is_null() for k in cols]) | pl.struct(cols).is_duplicated()
        ).alias("v"),
    )
    out = pl.repeat(False, df.height, dtype=pl.Boolean, eager=True).alias("v")
    return out.scatter(exact["_row"], exact["v"])


def evaluate_all(
    rules: Sequence[Rule], df: pl.DataFrame, masks: dict[str, pl.Series]
) -> list[RuleResult]:
    """Evaluate every rule; the row-level ones in one parallel pass over ``df``. Row-level
    masks are stored in ``masks`` by rule label."""
    fixed = {id(r): _table_level(r, df) for r in rules}
    row_level = [r for r in rules if fixed[id(r)] is None]
    exprs = [
        violation(r, df.schema).fill_null(False).alias(f"v{i}") for i, r in enumerate(row_level)
    ]
    counts = [
        pl.col(r.column).is_not_null().sum().alias(f"a{i}")
        for i, r in enumerate(row_level)
        if r.op is Op.TRUE
    ]
    computed, applicable = pl.collect_all(
        [df.lazy().select(exprs or [pl.lit(0).alias("_")]), df.lazy().select(counts or [pl.len()])]
    )
    index = {id(r): i for i, r in enumerate(row_level)}
    out = []
    for rule in rules:
        result = fixed[id(rule)]
        if result is None:
            i = index[id(rule)]
            mask = computed[f"v{i}"].alias("v")
            if rule.op is Op.KEY and len(rule.columns) > 1 and mask.any():
                mask = _exact_key_violations(df, rule, mask)
            masks[rule.label] = mask
            n = int(applicable[f"a{i}"][0]) if rule.op is Op.TRUE else df.height
            result = _row_level(rule, mask, n)
        out.append(result)
    return out


def sample_rows(
    df: pl.DataFrame,
    mask: pl.Series,
    columns: Sequence[str],
    identifiers: frozenset[str],
    n: int = 5,
) -> list[dict[str, Any]]:
    """Up to ``n`` offending rows as {row position, non-identifying values}.

    Identifier columns are never shown: a value of one is replaced by ``"<identifier>"``.
    """
    if not mask.any():
        return []
    positions = pl.Series("row", range(df.height)).filter(mask).head(n)
    shown = [c for c in dict.fromkeys(columns) if c in df.columns]
    rows = df.select(shown)[positions.to_list()] if shown else None
    out: list[dict[str, Any]] = []
    for i, pos in enumerate(positions.to_list()):
        item: dict[str, Any] = {"row": pos}
        for col in shown:
            item[col] = "<identifier>" if col in identifiers else _plain(rows[col][i])  # type: ignore[index]
        out.append(item)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value
