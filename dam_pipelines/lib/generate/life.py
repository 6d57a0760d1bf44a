"""Life insurance: policies (daily snapshot) and premium payments (event date = due date)."""

from __future__ import annotations

import numpy as np
import polars as pl

from .common import (
    DAY,
    Table,
    affine_ids,
    date_series,
    id_series,
    lookup,
    ts_series,
    weighted,
    yymmdd,
)
from .customers import ACTIVE as CUST_ACTIVE
from .customers import CLOSED as CUST_CLOSED
from .customers import Customers
from .population import ymd

PRODUCTS = ("WHOLE_LIFE", "TERM", "HEALTH", "ANNUITY", "VARIABLE", "SAVINGS")
POLICY_STATUS = ("ACTIVE", "LAPSED", "SURRENDERED", "MATURED")
ACTIVE, LAPSED, SURRENDERED, MATURED = range(4)
METHODS = ("AUTO_DEBIT", "CARD", "TRANSFER")
RESULTS = ("PAID", "FAILED")
_PRODUCT_W = [0.20, 0.15, 0.35, 0.12, 0.08, 0.10]
_TERM_MONTHS = np.array([240, 240, 240, 120, 120, 120])
_PREMIUM = np.array([200_000, 45_000, 80_000, 350_000, 400_000, 500_000])
_SUM_ASSURED = np.array([100e6, 200e6, 50e6, 0, 100e6, 10e6])
_SURRENDER_RATIO = np.array([0.6, 0.0, 0.15, 0.9, 0.85, 0.95])
#: Daily rates; a failed premium is retried three days later (a natural late event).
RATES = {
    "fail": 0.045,
    "retry_paid": 0.7,
    "lapse_after_retry": 0.3,
    "new_policy": 0.0003,
    "surrender": 0.0001,
    "reinstate": 0.001,
    "retry_days": 3,
}


class Life:
    def __init__(self, customers: Customers, seed_rng: np.random.Generator) -> None:
        self.c = customers
        self.offset = int(seed_rng.integers(0, 10**7))
        self.p = Table.empty(
            owner=np.int64,
            seq=np.int64,
            product=np.int8,
            contracted=np.int32,
            status=np.int8,
            premium=np.int64,
            sum=np.int64,
            paid=np.int32,
            lapsed=np.int32,
            surrender=np.int64,
            due_day=np.int8,
            method=np.int8,
        )
        self.retries = Table.empty(policy=np.int64, due=np.int64, retry_on=np.int64)
        self.pay_seq = 0

    def _add(
        self, rng: np.random.Generator, owners: np.ndarray, contracted: np.ndarray
    ) -> np.ndarray:
        n = len(owners)
        product = weighted(rng, _PRODUCT_W, n)
        premium = (np.round(_PREMIUM[product] * rng.lognormal(0, 0.4, n) / 100) * 100).astype(
            np.int64
        )
        sum_assured = (
            np.round(_SUM_ASSURED[product] * rng.uniform(0.5, 2.0, n) / 1e6) * 1e6
        ).astype(np.int64)
        due = np.where(
            rng.random(n) < 0.6, rng.choice([5, 10, 15, 20, 25], n), rng.integers(1, 29, n)
        )
        return self.p.append(
            owner=owners,
            seq=np.arange(self.p.n, self.p.n + n),
            product=product,
            contracted=contracted,
            status=np.zeros(n, np.int8),
            premium=premium,
            sum=sum_assured,
            paid=np.zeros(n, np.int32),
            lapsed=np.full(n, -1, np.int32),
            surrender=np.zeros(n, np.int64),
            due_day=due,
            method=weighted(rng, [0.8, 0.12, 0.08], n),
        )

    def open(self, rng: np.random.Generator, day0: int) -> None:
        b = self.c.books["life"].t
        rows = np.arange(len(b["person"]))
        owners = np.repeat(rows, np.minimum(1 + rng.poisson(0.6, len(rows)), 5))
        joined = b["joined"][owners].astype(np.int64)
        lo = np.maximum(joined, day0 - 7300)
        contracted = (lo + np.floor(rng.random(len(owners)) * (day0 - lo))).astype(np.int32)
        idx = self._add(rng, owners, contracted)
        p = self.p
        months = (day0 - contracted) // 30
        term = _TERM_MONTHS[p["product"][idx]]
        p["paid"][idx] = np.minimum(months, term)
        r = rng.random(len(idx))
        done = months >= term
        status = np.select(
            [
                b["status"][owners] == CUST_CLOSED,
                done & np.isin(p["product"][idx], (3, 5)),
                r < 0.06,
                r < 0.10,
            ],
            [SURRENDERED, MATURED, LAPSED, SURRENDERED],
            ACTIVE,
        )
        status = np.where((b["status"][owners] == CUST_CLOSED) & done, MATURED, status)
        lapsed_months = np.floor(months * rng.uniform(0.3, 1.0, len(idx))).astype(np.int64)
        is_lapsed = status == LAPSED
        p["paid"][idx[is_lapsed]] = lapsed_months[is_lapsed]
        lapsed_on = np.minimum(day0 - 1, contracted + (lapsed_months + 2) * 30)
        p["lapsed"][idx[is_lapsed]] = lapsed_on[is_lapsed]
        p["status"][idx] = status
        self._revalue(idx, rng)

    def _revalue(self, idx: np.ndarray, rng: np.random.Generator) -> None:
        p = self.p
        paid = p["paid"][idx].astype(np.int64)
        ratio = _SURRENDER_RATIO[p["product"][idx]] * np.minimum(1.0, paid / 84)
        value = np.round(paid * p["premium"][idx] * ratio / 1000) * 1000
        p["surrender"][idx] = np.where(
            np.isin(p["status"][idx], (SURRENDERED, MATURED)), 0, value
        ).astype(np.int64)

    def closable(self) -> np.ndarray:
        busy = np.zeros(self.c.books["life"].n, bool)
        busy[self.p["owner"][np.isin(self.p["status"], (ACTIVE, LAPSED))]] = True
        return ~busy

    def step(self, rng: np.random.Generator, day: int, new_rows: np.ndarray) -> pl.DataFrame:
        """Collect the day's premiums (and retries of failures), evolve policies; returns payments."""
        p = self.p
        _, _, dom = ymd(np.array([day]))
        due = np.flatnonzero(
            (p["status"] == ACTIVE)
            & (p["due_day"] == int(dom[0]))
            & (p["contracted"] < day)
            & (p["paid"] < _TERM_MONTHS[p["product"]])
        )
        failed = rng.random(len(due)) < RATES["fail"]
        retry = np.flatnonzero(self.retries["retry_on"] == day)
        r_pol, r_due = self.retries["policy"][retry], self.retries["due"][retry]
        self.retries.keep(self.retries["retry_on"] != day)
        r_ok = (p["status"][r_pol] == ACTIVE) if len(r_pol) else np.empty(0, bool)
        r_pol, r_due = r_pol[r_ok], r_due[r_ok]
        r_failed = rng.random(len(r_pol)) > RATES["retry_paid"]
        self.retries.append(
            policy=due[failed],
            due=np.full(int(failed.sum()), day),
            retry_on=np.full(int(failed.sum()), day + RATES["retry_days"]),
        )
        pol = np.concatenate([due, r_pol])
        due_on = np.concatenate([np.full(len(due), day), r_due]).astype(np.int64)
        res = np.concatenate([failed, r_failed])
        method = p["method"][pol]
        secs = np.select(
            [method == 0, method == 1],
            [rng.integers(5 * 3600, 12 * 3600, len(pol)), rng.integers(0, DAY, len(pol))],
            rng.integers(9 * 3600, 18 * 3600, len(pol)),
        )
        paid_at = np.where(res, -1, day * DAY + secs)
        p["paid"][pol[~res]] += 1
        lapse = r_pol[r_failed & (rng.random(len(r_pol)) < RATES["lapse_after_retry"])]
        p["status"][lapse], p["lapsed"][lapse] = LAPSED, day
        # policy life cycle
        r = rng.random(p.n)
        surrender = (p["status"] == ACTIVE) & (r < RATES["surrender"])
        p["status"][surrender] = SURRENDERED
        reinstate = (p["status"] == LAPSED) & (r > 1 - RATES["reinstate"])
        p["status"][reinstate], p["lapsed"][reinstate] = ACTIVE, -1
        b = self.c.books["life"].t
        n_book = len(b["status"])
        old = np.arange(n_book) < (new_rows.min() if len(new_rows) else n_book)
        cand = np.flatnonzero(old & (b["status"] == CUST_ACTIVE))
        buyers = np.concatenate([new_rows, cand[rng.random(len(cand)) < RATES["new_policy"]]])
        self._add(rng, buyers, np.full(len(buyers), day, np.int32))
        self._revalue(np.arange(p.n), rng)
        order = np.lexsort((pol, due_on))
        return self._payments_frame(day, pol[order], due_on[order], paid_at[order], res[order])

    def policy_no(self, idx: np.ndarray) -> pl.Series:
        year, _, _ = ymd(self.p["contracted"][idx])
        num = affine_ids(self.p["seq"][idx], 10**7, 7_777_777, self.offset)
        return (
            pl.DataFrame({"y": year, "n": num})
            .select(
                pl.concat_str(
                    pl.col("y").cast(pl.String), pl.col("n").cast(pl.String).str.zfill(7)
                ).alias("policy_no")
            )
            .to_series()
        )

    def _payments_frame(self, day: int, pol, due_on, paid_at, failed) -> pl.DataFrame:
        n = len(pol)
        seq = np.arange(self.pay_seq, self.pay_seq + n)
        self.pay_seq += n
        return pl.DataFrame(
            [
                id_series(
                    "payment_id",
                    affine_ids(seq, 10**9, 123_456_791, self.offset),
                    f"P{yymmdd(day)}",
                    9,
                ),
                self.policy_no(pol),
                self.c.books["life"].customer_no(self.p["owner"][pol]),
                date_series("due_on", due_on),
                ts_series("paid_at", paid_at),
                pl.Series("amount", self.p["premium"][pol]),
                lookup("method", METHODS, self.p["method"][pol].astype(np.int64)),
                lookup("result", RESULTS, failed.astype(np.int64)),
            ]
        )

    def policies_frame(self) -> pl.DataFrame:
        p = self.p
        idx = np.arange(p.n)
        return pl.DataFrame(
            [
                self.policy_no(idx),
                self.c.books["life"].customer_no(p["owner"]),
                lookup("product_type", PRODUCTS, p["product"].astype(np.int64)),
                date_series("contracted_on", p["contracted"]),
                lookup("status", POLICY_STATUS, p["status"].astype(np.int64)),
                pl.Series("monthly_premium", p["premium"]),
                pl.Series("sum_assured", p["sum"]),
                pl.Series("paid_months", p["paid"].astype(np.int64)),
                date_series("lapsed_on", p["lapsed"]),
                pl.Series("surrender_value", p["surrender"]),
            ]
        )
