"""Validation of one landed batch (contract §4): batch-level rejections, then row checks.

``validate_batch`` reads nothing but the batch folder and writes nothing: it returns the rows
to load (typed, pseudonymized, bronze schema) and the quarantine rows, or raises
``BatchRejected`` with the first batch-level reason that applies, in the contract's order,
checked across all files of the batch before the next reason is looked at.

Row checks are polars expressions over the frame of text from :mod:`parse` (integer, date
and timestamp columns of a parquet part may arrive native, and are then taken as parsed); the
only per-row Python is the gcid HMAC of the loaded customers rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import polars as pl

from dam_pipelines.lib.manifest import BatchRejected, Manifest, read_manifest
from dam_pipelines.lib.parse import (
    NATIVE_DATE,
    NATIVE_INT,
    NATIVE_TIMESTAMP,
    ROW_NUMBER,
    SOURCE_FILE,
    Part,
    as_text,
    combine_parts,
    read_part,
)
from dam_pipelines.lib.pseudonym import (
    FULL_PAN_PATTERN,
    MASKED_PAN_PATTERN,
    RRN_PATTERN,
    gcid_series,
    mask_pan_expr,
    mask_rrn_expr,
    rrn_birth_date_expr,
    rrn_gender_expr,
)
from dam_pipelines.lib.registry import Column, DType, Feed, Kind, Role

_T = TypeVar("_T")
_R = TypeVar("_R")

__all__ = [
    "BatchRejected",
    "ValidatedBatch",
    "bronze_schema",
    "quarantine_schema",
    "validate_batch",
]

TYPE, REQUIRED, ENUM, RANGE = "TYPE", "REQUIRED", "ENUM", "RANGE"
INVALID_RRN, RRN_MISMATCH, DUPLICATE_KEY, UNMASKED_PAN = (
    "INVALID_RRN",
    "RRN_MISMATCH",
    "DUPLICATE_KEY",
    "UNMASKED_PAN",
)
ROW_REASONS = (TYPE, REQUIRED, ENUM, RANGE, INVALID_RRN, RRN_MISMATCH, DUPLICATE_KEY, UNMASKED_PAN)

#: Threads that read and parse the files of one batch side by side.
_READERS = 2

#: An event may be dated up to this many days before its batch's business date (§2).
LATE_EVENT_DAYS = 7
KST_OFFSET = timedelta(hours=9)
RRN, BIRTH_DATE, GENDER, CUSTOMER_NO, GCID, EVENT_DATE = (
    "rrn",
    "birth_date",
    "gender",
    "customer_no",
    "gcid",
    "event_date",
)
LINEAGE: dict[str, pl.DataType] = {
    "_batch_id": pl.Utf8(),
    "_revision": pl.Int64(),
    "_source_file": pl.Utf8(),
    "_row_number": pl.Int64(),
    "_ingested_at": pl.Datetime("us", "UTC"),
    "business_date": pl.Utf8(),
}
_BRONZE_TYPE: dict[DType, pl.DataType] = {
    DType.STRING: pl.Utf8(),
    DType.ENUM: pl.Utf8(),
    DType.INT: pl.Int64(),
    DType.DECIMAL: pl.Float64(),
    DType.DATE: pl.Date(),
    DType.TIMESTAMP: pl.Datetime("us", "UTC"),
    DType.BOOL: pl.Boolean(),
}

# ASCII classes only: polars' (Rust) \d is Unicode-aware.
INT_PATTERN = r"^-?[0-9]+$"
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$"
)
# Years 0001-9999 (in UTC for timestamps): what every consumer (Python, Delta readers) can hold.
_MIN_DATE, _MAX_DATE = date(1, 1, 1), date(9999, 12, 31)
_MIN_TS = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TS = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_NO_OFFSET = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"
# a time to the minute, then its offset
_TO_THE_MINUTE = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2})([Z+-])"
_TYPE_TEXT = {
    DType.INT: "is not an integer (ASCII digits, optional leading minus, 64-bit)",
    DType.DECIMAL: "is not a decimal number (digits, optionally '.' and digits)",
    DType.DATE: "is not a real date in YYYY-MM-DD form",
    DType.TIMESTAMP: "is not an ISO-8601 timestamp with an offset (2026-11-24T13:05:09+09:00)",
    DType.BOOL: "must be Y or N",
}


def bronze_schema(feed: Feed) -> dict[str, pl.DataType]:
    """Bronze columns of ``feed`` in table order (docs/design.md)."""
    out: dict[str, pl.DataType] = {}
    for c in feed.columns:
        if c.is_direct_identifier:
            continue
        out[c.name] = _BRONZE_TYPE[c.dtype]
        if c.name == CUSTOMER_NO and _has_rrn(feed):
            out[GCID] = pl.Utf8()
    if _has_rrn(feed) and GCID not in out:
        out = {GCID: pl.Utf8(), **out}
    if feed.kind is Kind.EVENT:
        out[EVENT_DATE] = pl.Date()
    out.update(LINEAGE)
    return out


def quarantine_schema() -> dict[str, pl.DataType]:
    """Columns of ``audit/quarantine`` (one row per failed check of a row)."""
    return {
        "affiliate": pl.Utf8(),
        "feed": pl.Utf8(),
        "business_date": pl.Utf8(),
        "revision": pl.Int64(),
        "row_number": pl.Int64(),
        "column": pl.Utf8(),
        "reason": pl.Utf8(),
        "detail": pl.Utf8(),
        "value": pl.Utf8(),
        "customer_no": pl.Utf8(),
        "record": pl.Utf8(),
        "batch_id": pl.Utf8(),
        "source_file": pl.Utf8(),
        "quarantined_at": pl.Datetime("us", "UTC"),
    }


@dataclass
class ValidatedBatch:
    feed: Feed
    manifest: Manifest
    rows_read: int
    loaded: pl.DataFrame  # bronze_schema(feed)
    quarantine: pl.DataFrame  # quarantine_schema()
    bad_rows: int  # distinct rows that failed at least one check
    dropped_columns: tuple[str, ...]  # undeclared columns dropped (schema drift)
    event_date_min: date | None  # over the loaded rows of an event feed
    event_date_max: date | None

    @property
    def rows_loaded(self) -> int:
        return self.loaded.height

    @property
    def batch_id(self) -> str:
        return self.manifest.batch_id


def _has_rrn(feed: Feed) -> bool:
    return RRN in feed.column_names


def _typed_name(column: str) -> str:
    return f"__t_{column}"


def _native_kinds(feed: Feed) -> dict[str, str]:
    """The columns a parquet part may deliver native (:func:`parse.read_parquet_part`)."""
    kinds = {DType.INT: NATIVE_INT, DType.DATE: NATIVE_DATE, DType.TIMESTAMP: NATIVE_TIMESTAMP}
    return {c.name: kinds[c.dtype] for c in feed.columns if c.dtype in kinds}


def _typed_expr(c: Column, delivered: pl.DataType | None = None) -> pl.Expr | None:
    """The parsed value of a column (null when null or unparseable); None for text columns.

    ``delivered``: the column's type in the frame; other than text, the column was kept
    native by :mod:`parse` (an Int64, a Date, or a microsecond timestamp with a zone), and is
    the value its text would parse to, bounded as that is."""
    raw = pl.col(c.name)
    if delivered is not None and delivered != pl.Utf8:
        if c.dtype is DType.INT and delivered == pl.Int64:
            return raw
        if c.dtype is DType.DATE and delivered == pl.Date:
            return pl.when(raw.is_between(_MIN_DATE, _MAX_DATE)).then(raw)
        if c.dtype is DType.TIMESTAMP and isinstance(delivered, pl.Datetime):
            # In its own zone too: the text of a local year 10000 fails the pattern.
            utc = raw.dt.convert_time_zone("UTC")
            local_year = raw.dt.year().is_between(0, 9999)
            return pl.when(utc.is_between(_MIN_TS, _MAX_TS) & local_year).then(utc)
        raise TypeError(f"{c.name}: a {c.dtype.value} column delivered as {delivered}")
    if c.dtype is DType.INT:
        return pl.when(raw.str.contains(INT_PATTERN)).then(raw.cast(pl.Int64, strict=False))
    if c.dtype is DType.DECIMAL:
        value = raw.cast(pl.Float64, strict=False)
        return pl.when(raw.str.contains(DECIMAL_PATTERN) & value.is_finite()).then(value)
    if c.dtype is DType.DATE:
        # No cache of distinct values: for this fixed format it costs more than it saves.
        parsed = raw.str.to_date("%Y-%m-%d", strict=False, cache=False)
        return pl.when(
            raw.str.contains(DATE_PATTERN) & parsed.is_between(_MIN_DATE, _MAX_DATE)
        ).then(parsed)
    if c.dtype is DType.TIMESTAMP:
        # Spelled out first, so that one pattern and chrono's ISO 8601 parser (the fastest)
        # decide: ISO 8601 also allows an hours-only offset (+09) and a time to the minute
        # (13:05, as Java's OffsetDateTime.toString() writes a time whose seconds are zero).
        full = raw.str.replace(r"([+-][0-9]{2})$", "${1}:00").str.replace(
            _TO_THE_MINUTE, "${1}:00$2"
        )
        parsed = full.str.to_datetime("%+", time_unit="us", time_zone="UTC", strict=False)
        return pl.when(
            full.str.contains(TIMESTAMP_PATTERN) & parsed.is_between(_MIN_TS, _MAX_TS)
        ).then(parsed)
    if c.dtype is DType.BOOL:
        return pl.when(raw == "Y").then(pl.lit(True)).when(raw == "N").then(pl.lit(False))
    return None


def _value(feed: Feed, column: str) -> pl.Expr:
    """A column's value as it may be written outside bronze: identifiers masked or dropped."""
    c = feed.column(column)
    if c.name == RRN:
        return mask_rrn_expr(pl.col(RRN))
    if c.role is Role.DIRECT:
        return pl.lit(None, pl.Utf8)
    if c.role is Role.PAN:
        return mask_pan_expr(pl.col(c.name))
    return pl.col(c.name)


def _record_expr(feed: Feed) -> pl.Expr:
    """JSON of the delivered row: rrn masked, name/phone dropped, card numbers masked."""
    fields = [
        _value(feed, c.name).alias(c.name)
        for c in feed.columns
        if c.name == RRN or c.role is not Role.DIRECT
    ]
    return pl.struct(fields).struct.json_encode()


@dataclass(frozen=True)
class _Check:
    column: str  # quarantine 'column'
    reason: str
    mask: pl.Expr  # True where the row fails (evaluated over the whole batch)
    detail: pl.Expr  # evaluated on the failing rows only
    value: pl.Expr


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _ints_text(values: Sequence[int]) -> str:
    """0, 2..36 style."""
    runs: list[list[int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs)


def _range_checks(c: Column, value: pl.Expr) -> list[_Check]:
    t = pl.col(_typed_name(c.name))
    bad = pl.lit(False)
    rules: list[str] = []
    if c.min is not None:
        bad = bad | ((t <= c.min) if c.exclusive_min else (t < c.min))
        rules.append(f"{'>' if c.exclusive_min else '>='} {_num(c.min)}")
    if c.max is not None:
        bad = bad | (t > c.max)
        rules.append(f"<= {_num(c.max)}")
    if c.allowed_ints:
        bad = bad | ~t.is_in(list(c.allowed_ints))
        rules.append(f"one of {_ints_text(c.allowed_ints)}")
    if not rules:
        return []
    detail = pl.lit(f"{c.name} must be {' and '.join(rules)}")
    return [_Check(c.name, RANGE, t.is_not_null() & bad, detail, value)]


def _column_checks(feed: Feed, c: Column) -> list[_Check]:
    raw = pl.col(c.name)
    present = raw.is_not_null()
    value = _value(feed, c.name)
    checks: list[_Check] = []
    if c.required_when:
        other, expected = c.required_when
        oc = feed.column(other)
        other_known = (
            pl.col(other).is_in(list(oc.values)) if oc.values else pl.col(other).is_not_null()
        )
        when = pl.col(other) == expected
        checks.append(
            _Check(
                c.name,
                REQUIRED,
                when.fill_null(False) & ~present,
                pl.lit(f"{c.name} is required when {other} is {expected}"),
                value,
            )
        )
        checks.append(
            _Check(
                c.name,
                RANGE,
                present & other_known & (pl.col(other) != expected),
                pl.lit(f"{c.name} must be empty unless {other} is {expected}"),
                value,
            )
        )
    elif c.required:
        checks.append(_Check(c.name, REQUIRED, ~present, pl.lit(f"{c.name} is required"), value))

    if c.role is Role.PAN:
        full = raw.str.contains(FULL_PAN_PATTERN)
        checks.append(
            _Check(
                c.name,
                UNMASKED_PAN,
                present & full,
                pl.lit(f"{c.name} is a full card number; it must arrive masked"),
                value,
            )
        )
        checks.append(
            _Check(
                c.name,
                TYPE,
                present & ~full & ~raw.str.contains(MASKED_PAN_PATTERN),
                pl.lit(f"{c.name} is not a masked card number (NNNNNN******NNNN)"),
                value,
            )
        )
    elif c.dtype in _TYPE_TEXT:
        text = pl.lit(f"{c.name} {_TYPE_TEXT[c.dtype]}")
        if c.dtype is DType.TIMESTAMP:
            text = (
                pl.when(raw.str.contains(_NO_OFFSET))
                .then(pl.lit(f"{c.name} has no UTC offset (a timestamp must carry one)"))
                .otherwise(text)
            )
        checks.append(
            _Check(c.name, TYPE, present & pl.col(_typed_name(c.name)).is_null(), text, value)
        )

    if c.values:
        allowed = ", ".join(c.values)
        checks.append(
            _Check(
                c.name,
                ENUM,
                present & ~raw.is_in(list(c.values)),
                pl.lit(f"{c.name} must be one of {allowed}"),
                value,
            )
        )
    if c.dtype in (DType.INT, DType.DECIMAL):
        checks.extend(_range_checks(c, value))
    return checks


def _event_date_expr(feed: Feed) -> pl.Expr | None:
    """KST calendar date of the event time (a date column is the event date itself)."""
    if feed.kind is not Kind.EVENT or feed.event_time is None:
        return None
    t = pl.col(_typed_name(feed.event_time))
    if feed.column(feed.event_time).dtype is DType.DATE:
        return t
    # Fixed +09:00 as the contract says (no zone rules: Korea's 1987-88 DST is irrelevant).
    return (t.dt.replace_time_zone(None) + pl.duration(hours=9)).dt.date()


def _event_checks(feed: Feed, bd: date) -> list[_Check]:
    ed = _event_date_expr(feed)
    if ed is None:
        return []
    assert feed.event_time is not None
    earliest = bd - timedelta(days=LATE_EVENT_DAYS)
    text = ed.cast(pl.Utf8)
    detail = (
        pl.when(ed > bd)
        .then(pl.format("event date {} is after the business date {}", text, pl.lit(str(bd))))
        .otherwise(
            pl.format(
                "event date {} is more than {} days before the business date {}",
                text,
                pl.lit(LATE_EVENT_DAYS),
                pl.lit(str(bd)),
            )
        )
    )
    mask = ed.is_not_null() & ((ed > bd) | (ed < earliest))
    return [_Check(feed.event_time, RANGE, mask, detail, _value(feed, feed.event_time))]


def _rrn_checks(feed: Feed, bd: date) -> list[_Check]:
    if not _has_rrn(feed):
        return []
    raw = pl.col(RRN)
    birth = pl.col("__rrn_birth")
    detail = (
        pl.when(~raw.str.contains(RRN_PATTERN))
        .then(pl.lit("rrn is not of the form YYMMDD-GNNNNNN with G in 1..8"))
        .when(birth.is_null())
        .then(pl.lit("the rrn's YYMMDD is not a real date"))
        .otherwise(pl.lit("the rrn's birth date is after the business date"))
    )
    checks = [
        _Check(
            RRN,
            INVALID_RRN,
            raw.is_not_null() & (birth.is_null() | (birth > bd)),
            detail,
            _value(feed, RRN),
        )
    ]
    valid = birth.is_not_null() & (birth <= bd)
    if BIRTH_DATE in feed.column_names:
        b = pl.col(_typed_name(BIRTH_DATE))
        checks.append(
            _Check(
                BIRTH_DATE,
                RRN_MISMATCH,
                valid & b.is_not_null() & (b != birth),
                pl.lit("birth_date disagrees with the rrn"),
                pl.col(BIRTH_DATE),
            )
        )
    if GENDER in feed.column_names:
        g = pl.col(GENDER)
        checks.append(
            _Check(
                GENDER,
                RRN_MISMATCH,
                valid & g.is_in(["M", "F"]) & (g != pl.col("__rrn_gender")),
                pl.lit("gender disagrees with the rrn"),
                pl.col(GENDER),
            )
        )
    return checks


def duplicated_keys(frame: pl.DataFrame, keys: Sequence[str]) -> pl.Series:
    """True for every row whose complete key (no null part) occurs more than once.

    Hashes first and compares exactly only among the rows whose hash repeats: several times
    faster than a string-keyed ``is_duplicated`` over a large batch.
    """
    cols = list(keys)
    complete = pl.all_horizontal([pl.col(k).is_not_null() for k in cols])
    hashed = pl.col(cols[0]).hash() if len(cols) == 1 else pl.struct(cols).hash()
    out = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).alias("__dup")
    distinct, rows = frame.select(
        hashed.filter(complete).n_unique().alias("u"), complete.sum().alias("n")
    ).row(0)
    if distinct == rows:  # no hash repeats, so no key does: the usual case, decided cheaply
        return out
    candidate = frame.select(
        (complete & pl.when(complete).then(hashed).is_duplicated()).alias("c")
    ).to_series()
    if candidate.any():
        idx = candidate.arg_true()
        exact = frame.select(cols)[idx].is_duplicated()
        out = out.scatter(idx.filter(exact), True)
    return out


def _duplicate_check(feed: Feed) -> _Check:
    keys = list(feed.key)
    label = ",".join(keys)
    detail = pl.format("key ({}) appears {} times in the batch", pl.lit(label), pl.len().over(keys))
    value = pl.concat_str([_value(feed, k) for k in keys], separator=",")
    return _Check(label, DUPLICATE_KEY, pl.col("__dup"), detail, value)


def row_checks(feed: Feed, business_date: date) -> list[_Check]:
    """Every row check of ``feed``, in the order quarantine rows of one row are listed."""
    checks: list[_Check] = []
    for c in feed.columns:
        checks.extend(_column_checks(feed, c))
    checks.extend(_rrn_checks(feed, business_date))
    checks.extend(_event_checks(feed, business_date))
    checks.append(_duplicate_check(feed))
    return checks


def _typed_columns(feed: Feed, delivered: pl.Schema) -> list[pl.Expr]:
    exprs = []
    for c in feed.columns:
        t = _typed_expr(c, delivered.get(c.name))
        if t is not None:
            exprs.append(t.alias(_typed_name(c.name)))
    if _has_rrn(feed):
        exprs.append(rrn_birth_date_expr(pl.col(RRN)).alias("__rrn_birth"))
        exprs.append(rrn_gender_expr(pl.col(RRN)).alias("__rrn_gender"))
    return exprs


#: Fraction digits a decimal control total keeps (more cannot move its integer part)
_CONTROL_SCALE = 18


def decimal_control_sums(values: pl.Series) -> tuple[int, ...]:
    """The integer sums a manifest may declare for a decimal text column.

    The contract's "integer sum of one numeric column (null or unparseable values count 0)"
    is ambiguous for decimals such as ``71500.50``; each reading a producer may compute is
    accepted: the sum of each value's integer part, the exact sum rounded down or up (every
    rounding of the sum is one of those two), and the sum of the integer literals only (a
    fractional value counting 0, the dam's reading until 2026-12-05). Values that are not
    decimal literals (or null) count 0, as do integer parts beyond 64 bits. Exact: the parts
    are summed as integers, fractions to 18 digits."""
    ok = values.filter(values.str.contains(DECIMAL_PATTERN).fill_null(False))
    parts = ok.str.split_exact(".", 1).struct.unnest()
    whole = parts["field_0"].cast(pl.Int64, strict=False)
    integers = _exact_sum(whole.filter(parts["field_1"].is_null()))  # no fraction: a literal
    negative = ok.str.starts_with("-")
    digits = parts["field_1"].fill_null("").str.slice(0, _CONTROL_SCALE)
    frac = digits.str.pad_end(_CONTROL_SCALE, "0").cast(pl.Int64)
    frac = pl.select(pl.when(negative).then(-frac).otherwise(frac)).to_series()
    truncated = _exact_sum(whole)
    scaled = truncated * 10**_CONTROL_SCALE + _exact_sum(frac)
    floor = scaled // 10**_CONTROL_SCALE
    return tuple(sorted({integers, truncated, floor, -((-scaled) // 10**_CONTROL_SCALE)}))


def _exact_sum(ints: pl.Series) -> int:
    """Sum of an Int64 series (nulls count 0) without any Int64 overflow."""
    ints = ints.drop_nulls()
    high = ints // (1 << 32)
    low = ints - high * (1 << 32)
    return int(high.sum()) * (1 << 32) + int(low.sum())


def _reject(reason: str, detail: str, rows_read: int | None = None) -> BatchRejected:
    return BatchRejected(reason, detail, rows_read)


def _in_order(
    pool: ThreadPoolExecutor | None, fn: Callable[[_T], _R], items: Sequence[_T]
) -> list[_R]:
    """``[fn(x) for x in items]``, on the pool's threads when there is more than one item.

    The first failure in ``items`` order is raised, as a loop would: the files of a batch are
    then read and parsed side by side, with the same outcome as one after the other.
    """
    if pool is None or len(items) < 2:
        return [fn(x) for x in items]
    return list(pool.map(fn, items))


def _read_file(path: Path) -> tuple[bytes, str] | OSError:
    try:
        data = path.read_bytes()
    except OSError as exc:  # raised in file order by the caller, as a loop would
        return exc
    return data, hashlib.sha256(data).hexdigest()  # hashlib lets other threads run


def _read_files(
    folder: Path, manifest: Manifest, pool: ThreadPoolExecutor | None = None
) -> list[bytes]:
    for f in manifest.files:
        if not (folder / f.name).is_file():
            raise _reject("FILE_MISSING", f"{f.name}: listed in the manifest but not in the folder")
    read = _in_order(pool, _read_file, [folder / f.name for f in manifest.files])
    blobs = []
    for f, got in zip(manifest.files, read, strict=True):
        if isinstance(got, OSError):
            raise got
        data, actual = got
        blobs.append(data)
        if actual != f.sha256:
            raise _reject(
                "CHECKSUM_MISMATCH",
                f"{f.name}: sha256 of the file is {actual}, the manifest says {f.sha256}",
            )
    return blobs


def _check_columns(feed: Feed, parts: Sequence[Part], rows_read: int) -> tuple[str, ...]:
    required = feed.header_required
    for p in parts:
        missing = [c for c in required if c not in p.columns]
        if missing:
            why = " (the file is empty: no header row)" if not p.columns else ""
            raise _reject(
                "MISSING_COLUMN",
                f"{p.name}: required column(s) {', '.join(missing)} missing{why}",
                rows_read,
            )
    declared = set(feed.column_names)
    dropped: dict[str, None] = {}
    for p in parts:
        dropped.update((c, None) for c in p.columns if c not in declared)
    return tuple(dropped)


def _check_control(control: tuple[str, int], allowed: Sequence[int], rows_read: int) -> None:
    """``allowed``: the column's integer sum, or the sums a decimal column allows."""
    column, expected = control
    if expected not in allowed:
        shown = " or ".join(str(a) for a in allowed)
        raise _reject(
            "CONTROL_TOTAL_MISMATCH",
            f"the sum of {column} over all {rows_read} rows is {shown}, "
            f"the manifest says {expected}",
            rows_read,
        )


def _too_many(bad: int, rows: int, threshold: float) -> bool:
    # Exact decimal arithmetic: 10 bad rows out of 100 at 0.10 is not "more than 10%".
    return Decimal(bad) > Decimal(repr(threshold)) * rows


def _summary(checks: Sequence[_Check], counts: Sequence[int], top: int = 3) -> str:
    ranked = sorted(
        ((n, c.reason, c.column) for c, n in zip(checks, counts, strict=True) if n),
        key=lambda x: (-x[0], x[1], x[2]),
    )
    return ", ".join(f"{reason} on {column} ({n})" for n, reason, column in ranked[:top])


def validate_batch(
    folder: Path,
    feed: Feed,
    business_date: str,
    *,
    pseudonym_key: str,
    bad_row_threshold: float = 0.10,
    ingested_at: datetime,
) -> ValidatedBatch:
    """Validate the batch in ``folder`` (see module doc). Raises :class:`BatchRejected`."""
    if ingested_at.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware")
    folder = Path(folder)
    manifest = read_manifest(folder, feed.affiliate, feed.name, business_date, feed_def=feed)
    native = _native_kinds(feed)
    with ThreadPoolExecutor(_READERS, thread_name_prefix="dam-read") as pool:
        blobs = _read_files(folder, manifest, pool)

        def parse(i: int) -> Part:
            f, data = manifest.files[i], blobs[i]
            blobs[i] = b""  # released as soon as it is decoded
            return read_part(
                f.name, data, manifest.format, manifest.encoding, feed.column_names, native
            )

        parts = _in_order(pool, parse, range(len(blobs)))
    rows_read = sum(p.rows for p in parts)
    dropped = _check_columns(feed, parts, rows_read)
    for f, p in zip(manifest.files, parts, strict=True):
        if p.rows != f.rows:
            raise _reject(
                "ROW_COUNT_MISMATCH",
                f"{f.name}: the manifest says {f.rows} rows, the file has {p.rows}",
                rows_read,
            )
    frame = combine_parts(parts, feed.column_names)
    del parts
    control = manifest.control_total
    # An int column's parsed values are what the control sum adds up: taken from the checks.
    late_control = control is not None and feed.column(control[0]).dtype is DType.INT
    if control is not None and not late_control:
        _check_control(control, decimal_control_sums(frame[control[0]]), rows_read)

    bd = date.fromisoformat(business_date)
    checks = row_checks(feed, bd)
    masks = [c.mask.alias(f"__m{i}") for i, c in enumerate(checks)]
    frame = frame.with_columns(duplicated_keys(frame, feed.key))
    checked = (
        frame.lazy()
        .with_columns(_typed_columns(feed, frame.schema))
        .with_columns(masks)
        .with_columns(pl.any_horizontal([f"__m{i}" for i in range(len(checks))]).alias("__bad"))
        .collect()
    )
    if control is not None and late_control:
        _check_control(control, (_exact_sum(checked[_typed_name(control[0])]),), rows_read)
    bad = checked.filter(pl.col("__bad"))
    if _too_many(bad.height, rows_read, bad_row_threshold):
        counts = [int(bad[f"__m{i}"].sum()) for i in range(len(checks))]
        raise _reject(
            "TOO_MANY_BAD_ROWS",
            f"{bad.height} of {rows_read} rows ({100 * bad.height / rows_read:.1f}%) failed row "
            f"checks, more than the allowed {100 * bad_row_threshold:g}%; most frequent: "
            f"{_summary(checks, counts)}",
            rows_read,
        )
    good = checked.filter(~pl.col("__bad"))
    del checked
    at = ingested_at.astimezone(UTC)
    loaded = _loaded(feed, manifest, good, pseudonym_key, at)
    quarantine = _quarantine(feed, manifest, bad, checks, at)
    ed_min = ed_max = None
    if EVENT_DATE in loaded.columns and loaded.height:
        ed_min, ed_max = loaded[EVENT_DATE].min(), loaded[EVENT_DATE].max()
    return ValidatedBatch(
        feed=feed,
        manifest=manifest,
        rows_read=rows_read,
        loaded=loaded,
        quarantine=quarantine,
        bad_rows=bad.height,
        dropped_columns=dropped,
        event_date_min=ed_min,  # type: ignore[arg-type]
        event_date_max=ed_max,  # type: ignore[arg-type]
    )


def _loaded(
    feed: Feed, manifest: Manifest, good: pl.DataFrame, key: str, at: datetime
) -> pl.DataFrame:
    schema = bronze_schema(feed)
    exprs: dict[str, pl.Expr] = {}
    for c in feed.columns:
        if c.name in schema:
            typed = _typed_name(c.name)
            exprs[c.name] = pl.col(typed if typed in good.columns else c.name)
    ed = _event_date_expr(feed)
    if ed is not None:
        exprs[EVENT_DATE] = ed
    exprs.update(
        {
            "_batch_id": pl.lit(manifest.batch_id),
            "_revision": pl.lit(manifest.revision),
            "_source_file": pl.col(SOURCE_FILE),
            "_row_number": pl.col(ROW_NUMBER),
            "_ingested_at": pl.lit(at),
            "business_date": pl.lit(manifest.business_date),
        }
    )
    names = [n for n in schema if n != GCID]
    out = good.select([exprs[n].cast(schema[n]).alias(n) for n in names])
    if GCID in schema:
        out.insert_column(list(schema).index(GCID), gcid_series(good[RRN], key).alias(GCID))
    return out


def _quarantine(
    feed: Feed, manifest: Manifest, bad: pl.DataFrame, checks: Sequence[_Check], at: datetime
) -> pl.DataFrame:
    schema = quarantine_schema()
    if bad.height == 0:
        return pl.DataFrame(schema=schema)
    customer = pl.col(CUSTOMER_NO) if CUSTOMER_NO in feed.column_names else pl.lit(None, pl.Utf8)
    # A column kept native is shown as the text it was delivered as (its details read text).
    bad = as_text(bad, feed.column_names).with_columns(
        _record_expr(feed).alias("__record"), customer.alias("__customer")
    )
    pieces = []
    for i, check in enumerate(checks):
        hit = bad.filter(pl.col(f"__m{i}"))
        if hit.height == 0:
            continue
        pieces.append(
            hit.select(
                pl.col(ROW_NUMBER).alias("row_number"),
                pl.lit(i, pl.Int32).alias("__check"),
                pl.lit(check.column).alias("column"),
                pl.lit(check.reason).alias("reason"),
                check.detail.cast(pl.Utf8).alias("detail"),
                check.value.cast(pl.Utf8).alias("value"),
                pl.col("__customer").alias("customer_no"),
                pl.col("__record").alias("record"),
                pl.col(SOURCE_FILE).alias("source_file"),
            )
        )
    q = pl.concat(pieces).sort("row_number", "__check")
    constants = {
        "affiliate": pl.lit(manifest.affiliate),
        "feed": pl.lit(manifest.feed),
        "business_date": pl.lit(manifest.business_date),
        "revision": pl.lit(manifest.revision),
        "batch_id": pl.lit(manifest.batch_id),
        "quarantined_at": pl.lit(at),
    }
    return q.select(
        [
            (constants[name] if name in constants else pl.col(name)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )
