"""Affiliate customer masters ("books"): who is a customer where, and their daily changes.

Each affiliate numbers its customers itself (``B…``, ``C…``, ``S…``, ``L…``); a person has at
most one number per affiliate. The books also drive the ``customers`` change feeds and the
``erasure_requests`` event feeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from dam_pipelines.lib.registry import AFFILIATES

from .common import (
    DAY,
    OFFICE_HOURS,
    Table,
    affine_ids,
    date_series,
    id_series,
    lookup,
    time_of_day,
    ts_series,
    weighted,
    yymmdd,
)
from .population import PHONE_BLOCK, SIDO, People

PREFIX = {"bank": "B", "card": "C", "securities": "S", "life": "L"}
STATUS = ("ACTIVE", "DORMANT", "CLOSED")
ACTIVE, DORMANT, CLOSED = 0, 1, 2
ID_MODULUS = 10**9
#: Multipliers of the affine numbering; each must be coprime with ID_MODULUS (odd, not a
#: multiple of 5) so that sequence numbers map one-to-one onto customer numbers.
_ID_MULT = {
    "bank": 387_420_489,
    "card": 282_475_249,
    "securities": 244_140_623,
    "life": 170_859_377,
}

# Share of people holding each affiliate per age band: <19, 19-29, 30-49, 50-64, 65+.
_AGE_EDGES = np.array([19, 30, 50, 65])
MEMBERSHIP = {
    "bank": (0.92, 0.78, 0.72, 0.70, 0.72),
    "card": (0.0, 0.42, 0.55, 0.50, 0.30),
    "securities": (0.10, 0.30, 0.30, 0.22, 0.10),
    "life": (0.0, 0.12, 0.35, 0.38, 0.25),
}
#: Daily probabilities per customer record (or per person for moves/phone changes).
RATES = {
    "new_people": 0.0004,
    "cross_sell": 0.0002,
    "dormant": 0.0002,
    "reactivate": 0.002,
    "close": 0.0002,
    "reopen": 0.0001,
    "consent_flip": 0.001,
    "risk_review": 0.0005,
    "move": 0.0003,
    "phone_change": 0.0001,
    "erasure": 1e-6,
}
_RISK_W = np.array([8, 10, 20, 30, 22, 10])  # null, 1..5


@dataclass
class Book:
    affiliate: str
    t: Table
    member: np.ndarray  # person id -> row (or -1)
    id_offset: int
    next_seq: int = 0

    @property
    def n(self) -> int:
        return self.t.n

    def customer_no(self, rows: np.ndarray) -> pl.Series:
        nums = affine_ids(self.t["seq"][rows], ID_MODULUS, _ID_MULT[self.affiliate], self.id_offset)
        return id_series("customer_no", nums, PREFIX[self.affiliate], 9)

    def customer_no_of_seq(self, seq: int) -> str:
        num = int(
            affine_ids(np.array([seq]), ID_MODULUS, _ID_MULT[self.affiliate], self.id_offset)[0]
        )
        return f"{PREFIX[self.affiliate]}{num:09d}"


def _empty_book(affiliate: str, id_offset: int) -> Book:
    return Book(
        affiliate,
        Table.empty(
            person=np.int64,
            seq=np.int64,
            joined=np.int32,
            status=np.int8,
            closed=np.int32,
            consent=bool,
            risk=np.int8,
            sido=np.int8,
            updated=np.int64,
            deliver=np.int32,
            changed=bool,
        ),
        np.empty(0, np.int64),
        id_offset,
    )


class Customers:
    """The population plus the four affiliate books."""

    def __init__(self, seed_rng: np.random.Generator, n_people: int, start_day: int) -> None:
        self.people = People()
        self.base = n_people
        self.start_day = start_day
        self.books = {a: _empty_book(a, int(seed_rng.integers(0, ID_MODULUS))) for a in AFFILIATES}

    # ---- opening state -------------------------------------------------------------------
    def open(self, rng: np.random.Generator) -> None:
        day0 = self.start_day
        ids = self.people.add(rng, self.base, day0)
        age = self.people.age_on(ids, day0)
        band = np.searchsorted(_AGE_EDGES, age, side="right")
        holds = {a: rng.random(len(ids)) < np.array(MEMBERSHIP[a])[band] for a in AFFILIATES}
        none = ~np.any(np.stack(list(holds.values())), axis=0)
        holds["bank"] |= none
        for a in AFFILIATES:
            self._grow_member_index()
            members = rng.permutation(ids[holds[a]])  # numbering order is not person order
            self._open_rows(rng, a, members, age[members], day0)
        # A few names with CP949-only syllables, at least two in each cp949-delivered affiliate.
        chosen = []
        for a in ("bank", "life", "card", "securities"):
            persons = self.books[a].t["person"]
            persons = persons[self.people.t["family"][persons] >= 0]  # Korean names only
            k = min(len(persons), max(2, self.base // 2000))
            chosen.append(rng.choice(persons, k, replace=False) if k else persons)
        self.people.give_cp949_only_names(rng, np.unique(np.concatenate(chosen)))

    def _grow_member_index(self) -> None:
        for b in self.books.values():
            if len(b.member) < self.people.n:
                b.member = np.concatenate([b.member, np.full(self.people.n - len(b.member), -1)])

    def _open_rows(
        self, rng: np.random.Generator, a: str, persons: np.ndarray, age: np.ndarray, day0: int
    ) -> None:
        n = len(persons)
        birth = self.people.t["birth"][persons].astype(np.int64)
        adult_from = birth + np.where(age >= 19, 19, 7) * 365
        lo = np.maximum(adult_from, day0 - 9_000)
        lo = np.minimum(lo, day0 - 1)
        joined = (lo + np.floor(rng.random(n) * (day0 - lo))).astype(np.int32)
        r = rng.random(n)
        status = np.where(r < 0.06, CLOSED, np.where(r < 0.13, DORMANT, ACTIVE)).astype(np.int8)
        if a in ("card", "life"):  # minors hold no card and no policy; keep the rule simple
            status = np.where(age < 19, ACTIVE, status).astype(np.int8)
        closed = np.where(
            status == CLOSED, joined + np.floor(rng.random(n) * (day0 - joined)), -1
        ).astype(np.int32)
        last = np.maximum(joined, closed)
        upd_day = last + np.floor(rng.random(n) * (day0 - last))
        updated = (upd_day * DAY + time_of_day(rng, n, OFFICE_HOURS)).astype(np.int64)
        sido = self.people.t["sido"][persons].copy()
        stale = rng.random(n) < 0.03  # the affiliate never got the last change of address
        sido[stale] = weighted(rng, np.ones(len(SIDO)), int(stale.sum()))
        self._append(
            a,
            persons,
            joined,
            status,
            closed,
            rng.random(n) < 0.58,
            self._risk(rng, n, a),
            sido,
            updated,
            np.full(n, day0, np.int32),
        )

    def _risk(self, rng: np.random.Generator, n: int, a: str) -> np.ndarray:
        if a != "securities":
            return np.zeros(n, np.int8)
        return weighted(rng, _RISK_W, n).astype(np.int8)

    def _append(
        self, a: str, persons, joined, status, closed, consent, risk, sido, updated, deliver
    ) -> np.ndarray:
        b = self.books[a]
        n = len(persons)
        seq = np.arange(b.next_seq, b.next_seq + n)
        b.next_seq += n
        rows = b.t.append(
            person=persons,
            seq=seq,
            joined=joined,
            status=status,
            closed=closed,
            consent=consent,
            risk=risk,
            sido=sido,
            updated=updated,
            deliver=deliver,
            changed=np.ones(n, bool),
        )
        b.member[persons] = rows
        return rows

    # ---- daily changes -------------------------------------------------------------------
    def step(
        self, rng: np.random.Generator, day: int, closable: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Apply one business day of changes; returns the rows that joined today per affiliate."""
        for b in self.books.values():
            b.t["changed"][:] = False
        before = {a: b.n for a, b in self.books.items()}
        base = self.base
        # brand-new people, each joining one affiliate
        n_new = int(rng.poisson(base * RATES["new_people"]))
        if n_new:
            ids = self.people.add(rng, n_new, day, adults_only=True)
            self._grow_member_index()
            first = weighted(rng, [0.5, 0.3, 0.15, 0.05], n_new)
            for i, a in enumerate(AFFILIATES):
                self.join(rng, a, ids[first == i], day)
        # existing people taking up another affiliate
        for a in AFFILIATES:
            k = int(rng.poisson(base * RATES["cross_sell"]))
            cand = np.flatnonzero(self.books[a].member < 0)
            cand = cand[self.people.age_on(cand, day) >= 19] if len(cand) else cand
            if k and len(cand):
                self.join(rng, a, rng.choice(cand, min(k, len(cand)), replace=False), day)
        for a, b in self.books.items():
            self._transitions(rng, b, day, closable.get(a), before[a])
        self._moves(rng, day)
        return {a: np.arange(before[a], b.n) for a, b in self.books.items()}

    def join(
        self,
        rng: np.random.Generator,
        a: str,
        persons: np.ndarray,
        day: int,
        *,
        deliver_delay: int = 0,
    ) -> np.ndarray:
        n = len(persons)
        updated = day * DAY + time_of_day(rng, n, OFFICE_HOURS) + deliver_delay * DAY
        return self._append(
            a,
            persons,
            np.full(n, day, np.int32),
            np.zeros(n, np.int8),
            np.full(n, -1, np.int32),
            rng.random(n) < 0.62,
            self._risk(rng, n, a),
            self.people.t["sido"][persons].copy(),
            updated.astype(np.int64),
            np.full(n, day + deliver_delay, np.int32),
        )

    def new_customer(self, rng: np.random.Generator, a: str, day: int, deliver_delay: int) -> int:
        """A brand-new person joining ``a`` today whose master record is delivered late."""
        ids = self.people.add(rng, 1, day, adults_only=True)
        self._grow_member_index()
        return int(self.join(rng, a, ids, day, deliver_delay=deliver_delay)[0])

    def _transitions(
        self, rng: np.random.Generator, b: Book, day: int, closable: np.ndarray | None, n_old: int
    ) -> None:
        t = b.t
        old = np.zeros(b.n, bool)
        old[:n_old] = True
        old &= t["deliver"] <= day
        st = t["status"]
        r = rng.random(b.n)
        to_dormant = old & (st == ACTIVE) & (r < RATES["dormant"])
        to_active = old & (st == DORMANT) & (r < RATES["reactivate"])
        can_close = old & (st != CLOSED)
        if closable is not None:
            can_close[: len(closable)] &= closable
            can_close[len(closable) :] = False
        to_closed = can_close & (rng.random(b.n) < RATES["close"])
        reopen = old & (st == CLOSED) & (rng.random(b.n) < RATES["reopen"])
        st[to_dormant] = DORMANT
        st[to_active | reopen] = ACTIVE
        t["closed"][reopen] = -1
        st[to_closed] = CLOSED
        t["closed"][to_closed] = day
        flip = old & (rng.random(b.n) < RATES["consent_flip"])
        t["consent"][flip] = ~t["consent"][flip]
        changed = to_dormant | to_active | reopen | to_closed | flip
        if b.affiliate == "securities":
            review = old & (st != CLOSED) & (rng.random(b.n) < RATES["risk_review"])
            t["risk"][review] = weighted(rng, _RISK_W[1:], int(review.sum())) + 1
            changed |= review
        self._touch(rng, b, changed, day)

    def _touch(self, rng: np.random.Generator, b: Book, mask: np.ndarray, day: int) -> None:
        k = int(mask.sum())
        if k:
            b.t["updated"][mask] = day * DAY + time_of_day(rng, k, OFFICE_HOURS)
            b.t["changed"][mask] = True

    def _moves(self, rng: np.random.Generator, day: int) -> None:
        p = self.people
        movers = rng.choice(p.n, min(p.n, int(rng.poisson(p.n * RATES["move"]))), replace=False)
        p.t["sido"][movers] = (p.t["sido"][movers] + rng.integers(1, len(SIDO), len(movers))) % len(
            SIDO
        )
        phones = rng.choice(
            p.n, min(p.n, int(rng.poisson(p.n * RATES["phone_change"]))), replace=False
        )
        p.t["phone"][phones] = rng.integers(0, PHONE_BLOCK, len(phones))
        for b in self.books.values():
            for persons, share, sido in ((movers, 0.85, True), (phones, 1.0, False)):
                rows = b.member[persons]
                rows = rows[rows >= 0]
                rows = rows[(b.t["status"][rows] != CLOSED) & (rng.random(len(rows)) < share)]
                if sido:
                    b.t["sido"][rows] = p.t["sido"][b.t["person"][rows]]
                mask = np.zeros(b.n, bool)
                mask[rows] = True
                self._touch(rng, b, mask, day)

    # ---- feeds ---------------------------------------------------------------------------
    def delivered_rows(self, a: str, day: int, *, full: bool) -> np.ndarray:
        t = self.books[a].t
        if full:
            rows = np.flatnonzero(t["deliver"] <= day)
        else:
            rows = np.flatnonzero((t["changed"] & (t["deliver"] <= day)) | (t["deliver"] == day))
        return rows[np.lexsort((t["seq"][rows], t["updated"][rows]))]

    def frame(self, a: str, rows: np.ndarray) -> pl.DataFrame:
        """Typed ``customers`` rows (registry column order)."""
        b = self.books[a]
        t = b.t
        ident = self.people.identity(t["person"][rows])
        cols = {
            "customer_no": b.customer_no(rows),
            "rrn": ident["rrn"],
            "name": ident["name"],
            "phone": ident["phone"],
            "birth_date": ident["birth_date"],
            "gender": ident["gender"],
            "sido_code": lookup("sido_code", SIDO, t["sido"][rows].astype(np.int64)),
            "joined_on": date_series("joined_on", t["joined"][rows]),
            "status": lookup("status", STATUS, t["status"][rows].astype(np.int64)),
            "closed_on": date_series("closed_on", t["closed"][rows]),
            "marketing_consent": pl.Series("marketing_consent", t["consent"][rows]),
        }
        if a == "securities":
            risk = pl.Series("risk_grade", t["risk"][rows].astype(np.int64))
            cols["risk_grade"] = risk.set(risk == 0, None)
        cols["updated_at"] = ts_series("updated_at", t["updated"][rows])
        return pl.DataFrame([s.alias(k) for k, s in cols.items()])

    def erasure_frame(
        self, rng: np.random.Generator, a: str, day: int, extra: int = 0, *, none: bool = False
    ) -> pl.DataFrame:
        """Rare erasure requests, mostly from customers who already left (``none``: no row)."""
        b = self.books[a]
        k = 0 if none else int(rng.poisson(self.base * RATES["erasure"])) + extra
        known = np.flatnonzero(b.t["deliver"] <= day)
        rows = np.empty(0, np.int64)
        if k and len(known):
            closed = known[b.t["status"][known] == CLOSED]
            pool = closed if len(closed) and rng.random() < 0.7 else known
            rows = np.sort(rng.choice(pool, min(k, len(pool)), replace=False))
        n = len(rows)
        return pl.DataFrame(
            [
                pl.Series(
                    "request_id",
                    [f"ER{PREFIX[a]}{yymmdd(day)}{i:04d}" for i in range(1, n + 1)],
                    pl.String,
                ),
                b.customer_no(rows).alias("customer_no"),
                ts_series("requested_at", np.sort(day * DAY + time_of_day(rng, n, OFFICE_HOURS))),
            ]
        )
