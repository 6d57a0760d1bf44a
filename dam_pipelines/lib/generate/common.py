"""Shared plumbing of the generator: seeded random streams, day/time encoding, id rendering.

Times are kept as integers: a *day* is days since 1970-01-01 and a *timestamp* is seconds since
1970-01-01T00:00 in Korean local time (KST, +09:00, no daylight saving), so the KST calendar
date of a timestamp is simply ``ts // 86400``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

EPOCH = date(1970, 1, 1)
DAY = 86_400
KST_OFFSET = "+09:00"


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent, reproducible random stream for ``keys`` (e.g. feed and day)."""
    words = [seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF]
    for k in keys:
        words.append(zlib.crc32(k.encode()) if isinstance(k, str) else int(k) & 0xFFFFFFFF)
    return np.random.default_rng(np.random.SeedSequence(words))


def to_day(d: date) -> int:
    return (d - EPOCH).days


def from_day(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def yymmdd(day: int) -> str:
    return from_day(day).strftime("%y%m%d")


def weighted(rng: np.random.Generator, weights: np.ndarray | list[float], size: int) -> np.ndarray:
    """Indices drawn with the given (unnormalized) weights."""
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=size, p=w / w.sum())


def time_of_day(rng: np.random.Generator, size: int, hour_weights: np.ndarray) -> np.ndarray:
    """Seconds after midnight with an hourly profile (24 weights)."""
    hours = weighted(rng, hour_weights, size)
    return hours * 3600 + rng.integers(0, 3600, size)


#: Card spending by hour of day (KST): quiet nights, lunch and evening peaks.
SPEND_HOURS = np.array(
    [
        0.6,
        0.3,
        0.2,
        0.1,
        0.1,
        0.2,
        0.5,
        1.5,
        3.0,
        3.5,
        4.0,
        5.5,
        8.0,
        6.5,
        4.5,
        4.5,
        5.0,
        6.0,
        7.5,
        8.0,
        6.5,
        4.5,
        3.0,
        1.5,
    ]
)
OFFICE_HOURS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0.2, 1, 4, 5, 5, 3, 4, 5, 5, 4.5, 4, 2, 1, 0.6, 0.4, 0.2, 0.1],
    dtype=float,
)


def affine_ids(seq: np.ndarray, modulus: int, mult: int, offset: int) -> np.ndarray:
    """A bijection of ``0..modulus-1`` (``mult`` coprime with ``modulus``): unique, unordered ids."""
    return (seq.astype(np.int64) * mult + offset) % modulus


def id_expr(col: str, prefix: str, width: int) -> pl.Expr:
    """``prefix`` + zero-padded integer column."""
    return pl.concat_str(pl.lit(prefix), pl.col(col).cast(pl.String).str.zfill(width))


def id_series(name: str, nums: np.ndarray, prefix: str, width: int) -> pl.Series:
    """``prefix`` + zero-padded ``nums`` as a string series."""
    return pl.DataFrame({"n": nums}).select(id_expr("n", prefix, width).alias(name)).to_series()


def date_series(name: str, days: np.ndarray) -> pl.Series:
    """Days since epoch (``-1`` = null) as a polars Date series."""
    s = pl.Series(name, days.astype(np.int32))
    return s.set(s == -1, None).cast(pl.Date) if (days == -1).any() else s.cast(pl.Date)


def ts_series(name: str, secs: np.ndarray) -> pl.Series:
    """KST-local seconds (``-1`` = null) as a naive Datetime series (wall clock in Korea)."""
    s = pl.Series(name, secs.astype(np.int64))
    if (secs == -1).any():
        s = s.set(s == -1, None)
    return (s * 1_000_000).cast(pl.Datetime("us"))


def lookup(name: str, table: tuple[str, ...] | list[str], idx: np.ndarray) -> pl.Series:
    """Strings of ``table`` at ``idx`` (``-1`` = null)."""
    values = pl.Series(name, list(table), dtype=pl.String)
    out = values.gather(np.where(idx < 0, 0, idx))
    return out.set(pl.Series(idx < 0), None) if (idx < 0).any() else out


@dataclass
class Table:
    """A growable column store of equally long numpy arrays (the generator's mutable state)."""

    cols: dict[str, np.ndarray]

    @classmethod
    def empty(cls, **dtypes: type | str) -> Table:
        """``Table.empty(seq=np.int64, name=object)``: columns with their dtypes, no rows."""
        return cls({k: np.empty(0, dt) for k, dt in dtypes.items()})

    @property
    def n(self) -> int:
        return len(next(iter(self.cols.values()))) if self.cols else 0

    def __getitem__(self, key: str) -> np.ndarray:
        return self.cols[key]

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        self.cols[key] = value

    def append(self, **arrays: np.ndarray) -> np.ndarray:
        """Append rows; returns their indices."""
        start = self.n
        size = len(next(iter(arrays.values())))
        if set(arrays) != set(self.cols):
            raise ValueError(f"append needs exactly {sorted(self.cols)}, got {sorted(arrays)}")
        for k, v in arrays.items():
            self.cols[k] = np.concatenate([self.cols[k], np.asarray(v, dtype=self.cols[k].dtype)])
        return np.arange(start, start + size)

    def keep(self, mask: np.ndarray) -> None:
        for k in self.cols:
            self.cols[k] = self.cols[k][mask]
