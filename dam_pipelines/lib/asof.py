"""Pure "as of D" logic of contract §2: latest versions, latest deliveries, snapshot choice.

Every function here works on frames whose ``business_date`` is a Date and that carry
``_revision``: the silver shape of delivered rows (see :mod:`dam_pipelines.lib.conform`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

import polars as pl

#: Contract §2: an event may be dated up to 7 days before its batch's business_date.
LATENESS_DAYS = 7


def latest_per_key(lf: pl.LazyFrame, key: Sequence[str]) -> pl.LazyFrame:
    """Each key's latest delivery: later business_date wins, then higher revision."""
    return (
        lf.sort(["business_date", "_revision"], descending=True, nulls_last=True)
        .unique(subset=list(key), keep="first", maintain_order=True)
        .sort(list(key))
    )


def events_in_range(
    delivered: pl.LazyFrame,
    key: Sequence[str],
    start: date,
    end: date,
    as_of: date,
    lateness: int = LATENESS_DAYS,
) -> pl.LazyFrame:
    """The events dated ``start..end`` as of ``as_of``: latest delivery per key.

    An event dated e can only be delivered by batches dated e..e+lateness, so only those
    batches are read; a key is deduplicated over everything read before keeping its dates,
    which also drops the stale copy of an event whose re-delivery moved it to another date.
    """
    last = min(end + timedelta(days=lateness), as_of)
    bd = pl.col("business_date")
    return (
        latest_per_key(delivered.filter((bd >= start) & (bd <= last)), key)
        .filter(pl.col("event_date").is_between(start, end))
        .sort(["event_date", *key])
    )


def choose_snapshot(loaded: Iterable[date], as_of: date) -> date | None:
    """The latest loaded snapshot dated on or before ``as_of`` (a late older one never wins)."""
    return max((d for d in loaded if d <= as_of), default=None)


def fingerprint(files: Sequence[str]) -> str:
    """Content fingerprint of a partition from its (write-unique) live file names."""
    return hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:32]


def changed_dates(before: Mapping[str, str], after: Mapping[str, str], as_of: date) -> list[date]:
    """Business dates <= ``as_of`` whose partition appeared, changed or disappeared."""
    keys = set(before) | set(after)
    out = [
        date.fromisoformat(k)
        for k in keys
        if date.fromisoformat(k) <= as_of and before.get(k) != after.get(k)
    ]
    return sorted(out)


def recompute_ranges(
    changed: Iterable[date], lateness: int = LATENESS_DAYS, max_days: int = 8
) -> list[tuple[date, date]]:
    """Event-date ranges touched by changed batches: each batch c touches c-lateness..c.

    Overlapping or adjacent ranges are merged, then cut into pieces of at most ``max_days``
    so that one piece (and its bronze read) stays small.
    """
    merged: list[list[date]] = []
    for c in sorted(set(changed)):
        lo, hi = c - timedelta(days=lateness), c
        if merged and lo <= merged[-1][1] + timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    pieces: list[tuple[date, date]] = []
    for lo, hi in merged:
        while lo <= hi:
            top = min(hi, lo + timedelta(days=max_days - 1))
            pieces.append((lo, top))
            lo = top + timedelta(days=1)
    return pieces


def months_of(ranges: Iterable[tuple[date, date]]) -> list[str]:
    """``YYYY-MM`` of every day in the ranges, sorted."""
    months: set[str] = set()
    for lo, hi in ranges:
        d = lo.replace(day=1)
        while d <= hi:
            months.add(d.strftime("%Y-%m"))
            d = (d + timedelta(days=32)).replace(day=1)
    return sorted(months)
