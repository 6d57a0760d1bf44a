"""Pure rules of contract §5: keyed subject hashes and the retention cut-off days."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date, timedelta


def subject_hash(key: str, affiliate: str, customer_no: str) -> str:
    """Keyed hash of one affiliate's customer: HMAC-SHA256(key, ``affiliate|customer_no``).

    The only form in which the dam keeps an erased customer (suppressions, audit): it cannot
    be reversed or recomputed without the pseudonymization key.
    """
    msg = f"{affiliate}|{customer_no}".encode()
    return hmac.new(key.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def years_before(d: date, years: int) -> date:
    """The same calendar day ``years`` earlier; 29 Feb counts as 28 Feb."""
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 Feb in a year without one
        return d.replace(year=d.year - years, day=28)


def closed_relationship_expired(closed_on: date | None, as_of: date, years: int = 5) -> bool:
    """Contract §5: CLOSED with closed_on *before* the same day ``years`` earlier.

    Exactly ``years`` years is kept; one day more is erased.
    """
    return closed_on is not None and closed_on < years_before(as_of, years)


def event_cutoff(as_of: date, years: int = 5) -> date:
    """Events dated before this day are deleted (the same day ``years`` before D)."""
    return years_before(as_of, years)


def snapshot_cutoff(as_of: date, days: int = 90) -> date:
    """Snapshot partitions dated before this day are history to delete (the latest is kept)."""
    return as_of - timedelta(days=days)


@dataclass(frozen=True)
class Subject:
    """One erasure: every row of ``affiliate`` about ``customer_no`` from batches <= ``until``.

    ``customer_no`` never leaves memory (repr hides it): tables and logs get ``hash`` only.
    """

    affiliate: str
    customer_no: str = field(repr=False)
    until: date
    hash: str
    origin: str  # "request" or "closed_relationship"
    request_ids: tuple[str, ...] = ()
