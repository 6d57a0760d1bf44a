"""One population of people: resident registration numbers, names, phones, birth dates, provinces.

Every affiliate's customers are drawn from this population, so the same person carries the
same rrn everywhere (and different customer numbers per affiliate).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from . import reference as ref
from .common import Table, weighted

FAMILY = tuple(n for n, _ in ref.FAMILY_NAMES)
_FAMILY_W = np.array([w for _, w in ref.FAMILY_NAMES])
GIVEN = tuple(
    dict.fromkeys(
        ref.GIVEN_FIRST + ref.GIVEN_SECOND_M + ref.GIVEN_SECOND_F + ref.CP949_ONLY_SYLLABLES
    )
)
_FIRST = np.array([GIVEN.index(s) for s in ref.GIVEN_FIRST])
_SECOND = (
    np.array([GIVEN.index(s) for s in ref.GIVEN_SECOND_M]),
    np.array([GIVEN.index(s) for s in ref.GIVEN_SECOND_F]),
)
CP949_ONLY = np.array([GIVEN.index(s) for s in ref.CP949_ONLY_SYLLABLES])
#: Registered foreign residents keep their passport names (ASCII, upper case).
FOREIGN_NAMES = (
    "NGUYEN VAN AN",
    "TRAN THI LAN",
    "WANG WEI",
    "LI NA",
    "ZHANG MIN",
    "TANAKA YUKI",
    "JOHN SMITH",
    "MARIA SANTOS",
    "ALEX IVANOV",
    "SITI RAHMAN",
    "BATBAYAR GANBOLD",
)
SIDO = tuple(ref.SIDO_WEIGHTS)
SIDO_W = np.array(list(ref.SIDO_WEIGHTS.values()))

# Age pyramid of a retail financial group's customers (years: weight); a few minors.
_AGES = np.arange(7, 96)
_AGE_W = np.select(
    [_AGES < 19, _AGES < 30, _AGES < 40, _AGES < 50, _AGES < 60, _AGES < 70, _AGES < 80],
    [0.35, 1.35, 1.55, 1.8, 1.8, 1.35, 0.65],
    0.12,
)
FOREIGN_SHARE = 0.02
NO_PHONE_SHARE = 0.03
#: 010 numbers use a middle block below 2000, which is not issued to subscribers, so a
#: synthetic phone number reaches nobody.
PHONE_BLOCK = 20_000_000


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dt = days.astype("datetime64[D]")
    months = dt.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (dt - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def gender_digit(birth: np.ndarray, female: np.ndarray, foreign: np.ndarray) -> np.ndarray:
    """rrn G: 1/2 born 1900-1999, 3/4 born 2000-2099 (odd = M); +4 for foreign residents."""
    year, _, _ = ymd(birth)
    g = np.where(year >= 2000, 3, 1) + female.astype(np.int64)
    return g + 4 * foreign.astype(np.int64)


def _rrn_keys(birth: np.ndarray, g: np.ndarray, serial5: np.ndarray) -> np.ndarray:
    year, month, day = ymd(birth)
    yymmdd = (year % 100) * 10_000 + month * 100 + day
    return (yymmdd * 10 + g) * 100_000 + serial5


def _check_digit(keys12: np.ndarray, foreign: np.ndarray) -> np.ndarray:
    """The legacy (pre-October 2020) check digit of the first 12 digits."""
    weights = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])
    digits = (keys12[:, None] // (10 ** np.arange(11, -1, -1))) % 10
    s = (digits * weights).sum(axis=1) % 11
    return np.where(foreign, (13 - s) % 10, (11 - s) % 10)


def _not_check_digit(
    rng: np.random.Generator, keys12: np.ndarray, foreign: np.ndarray
) -> np.ndarray:
    """Any digit but the valid one: everyone here was born before 2020, when every issued
    number carried a valid check digit, so no synthetic rrn can be a real person's number.
    (The contract does not validate check digits.)"""
    return (_check_digit(keys12, foreign) + rng.integers(1, 10, len(keys12))) % 10


class People:
    """The population; row index = person id."""

    def __init__(self) -> None:
        self.t = Table.empty(
            birth=np.int32,
            female=bool,
            foreign=bool,
            rrn12=np.int64,
            check=np.int8,
            family=np.int16,
            g1=np.int16,
            g2=np.int16,
            phone=np.int64,
            sido=np.int8,
        )

    @property
    def n(self) -> int:
        return self.t.n

    def add(
        self, rng: np.random.Generator, n: int, ref_day: int, *, adults_only: bool = False
    ) -> np.ndarray:
        """Add ``n`` people (ages as of ``ref_day``); returns their ids."""
        age_w = np.where(_AGES < 19, 0.0, _AGE_W) if adults_only else _AGE_W
        age = _AGES[weighted(rng, age_w, n)]
        birth = (
            ref_day - np.floor(age * 365.2425).astype(np.int64) - rng.integers(0, 365, n)
        ).astype(np.int32)
        female = rng.random(n) < 0.51
        foreign = rng.random(n) < FOREIGN_SHARE
        g = gender_digit(birth, female, foreign)
        rrn12 = self._unique_rrn12(rng, birth, g)
        family = weighted(rng, _FAMILY_W, n).astype(np.int16)
        single = rng.random(n) < 0.04
        second = np.where(
            female,
            _SECOND[1][rng.integers(0, len(_SECOND[1]), n)],
            _SECOND[0][rng.integers(0, len(_SECOND[0]), n)],
        )
        g1 = np.where(single, second, _FIRST[rng.integers(0, len(_FIRST), n)]).astype(np.int16)
        g2 = np.where(single, -1, second).astype(np.int16)
        # foreign residents: family = -1 and g1 indexes FOREIGN_NAMES
        family = np.where(foreign, -1, family).astype(np.int16)
        g1 = np.where(foreign, rng.integers(0, len(FOREIGN_NAMES), n), g1).astype(np.int16)
        g2 = np.where(foreign, -1, g2).astype(np.int16)
        phone = np.where(rng.random(n) < NO_PHONE_SHARE, -1, rng.integers(0, PHONE_BLOCK, n))
        sido = weighted(rng, SIDO_W, n).astype(np.int8)
        return self.t.append(
            birth=birth,
            female=female,
            foreign=foreign,
            rrn12=rrn12,
            check=_not_check_digit(rng, rrn12, foreign).astype(np.int8),
            family=family,
            g1=g1,
            g2=g2,
            phone=phone,
            sido=sido,
        )

    def _unique_rrn12(
        self, rng: np.random.Generator, birth: np.ndarray, g: np.ndarray
    ) -> np.ndarray:
        keys = _rrn_keys(birth, g, rng.integers(0, 100_000, len(birth)))
        existing = self.t["rrn12"]
        while True:
            _, first = np.unique(keys, return_index=True)
            dup = np.ones(len(keys), bool)
            dup[first] = False
            dup |= np.isin(keys, existing)
            if not dup.any():
                return keys
            keys[dup] = _rrn_keys(birth[dup], g[dup], rng.integers(0, 100_000, int(dup.sum())))

    def give_cp949_only_names(self, rng: np.random.Generator, ids: np.ndarray) -> None:
        """Replace one given-name syllable with a CP949-only one (e.g. 김햏준)."""
        ids = ids[self.t["family"][ids] >= 0]
        syll = CP949_ONLY[rng.integers(0, len(CP949_ONLY), len(ids))].astype(np.int16)
        has_two = self.t["g2"][ids] >= 0
        self.t["g2"][ids[has_two]] = syll[has_two]
        self.t["g1"][ids[~has_two]] = syll[~has_two]

    def age_on(self, ids: np.ndarray, day: int) -> np.ndarray:
        by, bm, bd = ymd(self.t["birth"][ids])
        y, m, d = ymd(np.array([day]))
        return y[0] - by - ((m[0] * 100 + d[0]) < (bm * 100 + bd))

    def identity(self, ids: np.ndarray) -> pl.DataFrame:
        """rrn, name, phone, birth_date, gender of ``ids`` (direct identifiers and quasi ids)."""
        t = self.t
        birth = t["birth"][ids]
        family, g1, g2 = t["family"][ids], t["g1"][ids], t["g2"][ids]
        foreign = family < 0
        fam = pl.Series(list(FAMILY) + [""]).gather(np.where(foreign, len(FAMILY), family))
        given = pl.Series(list(GIVEN) + [""])
        n1 = given.gather(np.where(foreign, len(GIVEN), g1))
        n2 = given.gather(np.where(g2 < 0, len(GIVEN), g2))
        fname = pl.Series(FOREIGN_NAMES).gather(np.where(foreign, g1, 0))
        rrn12 = t["rrn12"][ids]
        phone = t["phone"][ids]
        df = pl.DataFrame(
            {
                "rrn12": rrn12,
                "check": t["check"][ids].astype(np.int64),
                "fam": fam,
                "n1": n1,
                "n2": n2,
                "fname": fname,
                "foreign": foreign,
                "phone_n": phone,
                "birth_date": pl.Series(birth.astype(np.int32)).cast(pl.Date),
                "female": t["female"][ids],
            }
        )
        return df.select(
            rrn=pl.concat_str(
                pl.col("rrn12").cast(pl.String).str.zfill(12).str.slice(0, 6),
                pl.lit("-"),
                pl.col("rrn12").cast(pl.String).str.zfill(12).str.slice(6, 6),
                pl.col("check").cast(pl.String),
            ),
            name=pl.when(pl.col("foreign"))
            .then(pl.col("fname"))
            .otherwise(pl.concat_str("fam", "n1", "n2")),
            phone=pl.when(pl.col("phone_n") < 0)
            .then(None)
            .otherwise(
                pl.concat_str(
                    pl.lit("010-"),
                    pl.col("phone_n").cast(pl.String).str.zfill(8).str.slice(0, 4),
                    pl.lit("-"),
                    pl.col("phone_n").cast(pl.String).str.zfill(8).str.slice(4, 4),
                )
            ),
            birth_date="birth_date",
            gender=pl.when(pl.col("female")).then(pl.lit("F")).otherwise(pl.lit("M")),
        )
