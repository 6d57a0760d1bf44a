"""Bank: deposit accounts and loans, delivered as complete daily snapshots."""

from __future__ import annotations

import numpy as np
import polars as pl

from .common import Table, affine_ids, date_series, id_series, lookup, weighted
from .customers import CLOSED, DORMANT, Customers
from .population import ymd

DEPOSIT_TYPES = ("DEMAND", "SAVINGS", "TIME_DEPOSIT", "INSTALLMENT_SAVINGS")
_ACC_PREFIX = ("110", "120", "230", "250")
ACC_STATUS = ("ACTIVE", "DORMANT", "CLOSED")
LOAN_TYPES = ("MORTGAGE", "JEONSE", "CREDIT", "AUTO")
LOAN_STATUS = ("NORMAL", "DELINQUENT", "DEFAULTED", "REPAID", "WRITTEN_OFF")
NORMAL, DELINQUENT, DEFAULTED, REPAID, WRITTEN_OFF = range(5)
#: Closed accounts stay in the snapshot for a year, then the bank archives them.
CLOSED_ACCOUNT_VISIBLE_DAYS = 365

# (median, log-sigma, rounding, min, max) of loan principals; term choices in months; rate range
_PRINCIPAL = {
    0: (250e6, 0.5, 1_000_000, 30e6, 1.5e9),
    1: (180e6, 0.5, 1_000_000, 20e6, 8e8),
    2: (20e6, 0.8, 100_000, 1e6, 2e8),
    3: (28e6, 0.4, 100_000, 5e6, 1.2e8),
}
_TERMS = {0: (360,), 1: (24,), 2: (12, 24, 36, 60), 3: (36, 48, 60)}
_LOAN_RATE = {0: (380, 520), 1: (360, 550), 2: (500, 1500), 3: (450, 900)}


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(n))


def _round(x: np.ndarray, unit: int) -> np.ndarray:
    return (np.round(x / unit) * unit).astype(np.int64)


class Bank:
    def __init__(self, customers: Customers, seed_rng: np.random.Generator) -> None:
        self.c = customers
        self.acc_offset = int(seed_rng.integers(0, 10**9))
        self.loan_offset = int(seed_rng.integers(0, 10**10))
        self.acc = Table.empty(
            owner=np.int64,
            seq=np.int64,
            product=np.int8,
            opened=np.int32,
            closed=np.int32,
            status=np.int8,
            balance=np.int64,
            rate=np.int32,
            due_day=np.int8,
            monthly=np.int64,
        )
        self.loan = Table.empty(
            owner=np.int64,
            seq=np.int64,
            ltype=np.int8,
            principal=np.int64,
            outstanding=np.int64,
            rate=np.int32,
            opened=np.int32,
            maturity=np.int32,
            term=np.int32,
            dpd=np.int32,
            status=np.int8,
        )

    # ---- accounts ------------------------------------------------------------------------
    def _add_accounts(self, rng, owners, product, opened, status, closed, balance) -> None:
        n = len(owners)
        rate = np.select(
            [product == 0, product == 1, product == 2],
            [np.full(n, 10), 150 + 5 * rng.integers(0, 21, n), 280 + 5 * rng.integers(0, 17, n)],
            300 + 5 * rng.integers(0, 31, n),
        )
        self.acc.append(
            owner=owners,
            seq=np.arange(self.acc.n, self.acc.n + n),
            product=product,
            opened=opened,
            closed=closed,
            status=status,
            balance=balance,
            rate=rate,
            due_day=rng.integers(1, 29, n),
            monthly=_round(_lognormal(rng, 300_000, 0.6, n), 10_000) + 10_000,
        )

    def _demand_balance(self, rng, n: int, minor: np.ndarray) -> np.ndarray:
        return _round(
            np.where(minor, _lognormal(rng, 150_000, 1.0, n), _lognormal(rng, 1_200_000, 1.4, n)), 1
        ).clip(0, 3e9)

    def open(self, rng: np.random.Generator, day0: int) -> None:
        b = self.c.books["bank"].t
        rows = np.arange(len(b["person"]))
        minor = self.c.people.age_on(b["person"], day0) < 19
        cust_closed = b["status"] == CLOSED
        # one demand account each, plus savings products
        extra = np.minimum(rng.poisson(np.where(minor, 0.3, 0.6)), 4)
        owners = np.concatenate([rows, np.repeat(rows, extra)])
        n = len(owners)
        product = np.concatenate(
            [
                np.zeros(len(rows), np.int8),
                (weighted(rng, [0.35, 0.35, 0.30], int(extra.sum())) + 1).astype(np.int8),
            ]
        )
        product[len(rows) :][minor[owners[len(rows) :]]] = 3
        joined = b["joined"][owners].astype(np.int64)
        opened = np.where(
            product == 0, joined, np.maximum(joined, day0 - 1 - np.floor(rng.random(n) * 1100))
        ).astype(np.int32)
        opened = np.minimum(opened, day0 - 1).astype(np.int32)
        status = np.zeros(n, np.int8)
        closed = np.full(n, -1, np.int32)
        own_closed = cust_closed[owners]
        status[own_closed] = CLOSED
        closed[own_closed] = b["closed"][owners][own_closed]
        self_close = ~own_closed & (product > 0) & (rng.random(n) < 0.12)
        status[self_close] = CLOSED
        closed[self_close] = (opened + np.floor(rng.random(n) * (day0 - opened)))[self_close]
        dormant = (
            ~own_closed
            & (product == 0)
            & ((b["status"][owners] == DORMANT) | (rng.random(n) < 0.03))
        )
        status[dormant] = DORMANT
        months = np.maximum(1, (day0 - opened) // 30)
        balance = np.select(
            [product == 0, product == 1, product == 2],
            [
                self._demand_balance(rng, n, minor[owners]),
                _round(_lognormal(rng, 5e6, 1.2, n), 1),
                _round(_lognormal(rng, 20e6, 0.9, n), 100_000),
            ],
            _round(_lognormal(rng, 300_000, 0.6, n), 10_000) * np.minimum(months, 36),
        )
        balance = np.where(dormant, _round(_lognormal(rng, 40_000, 1.0, n), 1), balance)
        balance = np.where(status == CLOSED, 0, balance).astype(np.int64)
        order = np.lexsort((opened, owners))
        self._add_accounts(
            rng,
            owners[order],
            product[order],
            opened[order],
            status[order],
            closed[order],
            balance[order],
        )
        self._open_loans(rng, day0, minor, cust_closed)

    # ---- loans ---------------------------------------------------------------------------
    def _open_loans(
        self, rng: np.random.Generator, day0: int, minor: np.ndarray, cust_closed: np.ndarray
    ) -> None:
        b = self.c.books["bank"].t
        age = self.c.people.age_on(b["person"], day0)
        p = np.select([age < 19, age < 30, age < 50, age < 65], [0.0, 0.12, 0.28, 0.22], 0.08)
        has = ~cust_closed & (rng.random(len(p)) < p)
        owners = np.flatnonzero(has)
        owners = np.sort(np.concatenate([owners, owners[rng.random(len(owners)) < 0.15]]))
        self._add_loans(rng, owners, day0, new=False)

    def _add_loans(
        self, rng: np.random.Generator, owners: np.ndarray, day: int, *, new: bool
    ) -> None:
        n = len(owners)
        if n == 0:
            return
        age = self.c.people.age_on(self.c.books["bank"].t["person"][owners], day)
        young = age < 30
        ltype = np.where(
            young,
            weighted(rng, [0.05, 0.35, 0.45, 0.15], n),
            weighted(rng, [0.28, 0.12, 0.45, 0.15], n),
        ).astype(np.int8)
        principal = np.zeros(n, np.int64)
        term = np.zeros(n, np.int64)
        rate = np.zeros(n, np.int64)
        for k, (med, sig, unit, lo, hi) in _PRINCIPAL.items():
            m = ltype == k
            c = int(m.sum())
            principal[m] = _round(_lognormal(rng, med, sig, c).clip(lo, hi), unit)
            term[m] = rng.choice(_TERMS[k], c)
            rate[m] = 5 * rng.integers(_LOAN_RATE[k][0] // 5, _LOAN_RATE[k][1] // 5 + 1, c)
        joined = self.c.books["bank"].t["joined"][owners].astype(np.int64)
        if new:
            opened = np.full(n, day, np.int64)
        else:
            span = np.minimum(term * 30, 3650)
            opened = np.maximum(joined, day - 1 - np.floor(rng.random(n) * span)).astype(np.int64)
        maturity = opened + np.round(term * 30.4375).astype(np.int64)
        elapsed = np.clip((day - opened) / (term * 30.4375), 0, 1)
        outstanding = np.select(
            [ltype == 1, ltype == 2],
            [principal, _round(principal * rng.uniform(0.1, 1.0, n), 1000)],
            _round(principal * (1 - elapsed), 1000),
        )
        status = np.zeros(n, np.int8)
        dpd = np.zeros(n, np.int64)
        if not new:
            r = rng.random(n)
            status[:] = np.select(
                [r < 0.02, r < 0.028, r < 0.043, r < 0.045],
                [DELINQUENT, DEFAULTED, REPAID, WRITTEN_OFF],
                NORMAL,
            )
            status[(maturity < day) & (status == NORMAL)] = REPAID
            dpd = np.select(
                [status == DELINQUENT, status == DEFAULTED, status == WRITTEN_OFF],
                [rng.integers(1, 90, n), rng.integers(90, 400, n), rng.integers(180, 720, n)],
                0,
            )
            outstanding = np.where(status == REPAID, 0, outstanding)
        self.loan.append(
            owner=owners,
            seq=np.arange(self.loan.n, self.loan.n + n),
            ltype=ltype,
            principal=principal,
            outstanding=outstanding,
            rate=rate,
            opened=opened,
            maturity=maturity,
            term=term,
            dpd=dpd,
            status=status,
        )

    def closable(self) -> np.ndarray:
        """Bank customers without a live loan may close their relationship."""
        busy = np.zeros(self.c.books["bank"].n, bool)
        live = np.isin(self.loan["status"], (NORMAL, DELINQUENT, DEFAULTED, WRITTEN_OFF))
        busy[self.loan["owner"][live]] = True
        return ~busy

    # ---- one business day ----------------------------------------------------------------
    def step(self, rng: np.random.Generator, day: int, new_rows: np.ndarray) -> None:
        b = self.c.books["bank"].t
        a = self.acc
        _, _, dom = ymd(np.array([day]))
        dom = int(dom[0])
        # relationships closed today close every account
        gone = (b["status"][a["owner"]] == CLOSED) & (a["status"] != CLOSED)
        a["status"][gone], a["closed"][gone], a["balance"][gone] = CLOSED, day, 0
        # money moves on live accounts
        live = a["status"] == 0
        demand = live & (a["product"] == 0)
        move = demand & (rng.random(a.n) < 0.35)
        change = np.round(a["balance"] * rng.normal(-0.012, 0.06, a.n)).astype(np.int64)
        a["balance"][move] = np.maximum(0, a["balance"][move] + change[move])
        if dom == 25:  # payday
            paid = demand & (rng.random(a.n) < 0.6)
            a["balance"][paid] += _round(_lognormal(rng, 3_200_000, 0.4, int(paid.sum())), 10)
        inst = live & (a["product"] == 3) & (a["due_day"] == dom)
        a["balance"][inst] += a["monthly"][inst]
        sav = live & (a["product"] == 1) & (rng.random(a.n) < 0.05)
        a["balance"][sav] = np.maximum(
            0, a["balance"][sav] + _round(rng.normal(0, 300_000, int(sav.sum())), 1000)
        )
        close = live & (a["product"] > 0) & (rng.random(a.n) < 0.0003)
        a["status"][close], a["closed"][close], a["balance"][close] = CLOSED, day, 0
        # new customers open a demand account; some existing ones add a product
        n_book = len(b["status"])
        old = np.arange(n_book) < (new_rows.min() if len(new_rows) else n_book)
        active_cust = np.flatnonzero(old & (b["status"] == 0))
        more = active_cust[rng.random(len(active_cust)) < 0.0005]
        n_new, n_more = len(new_rows), len(more)
        if n_new + n_more:
            owners = np.concatenate([new_rows, more])
            product = np.concatenate(
                [np.zeros(n_new, np.int8), weighted(rng, [0.35, 0.35, 0.30], n_more) + 1]
            ).astype(np.int8)
            balance = np.where(
                product == 2,
                _round(_lognormal(rng, 10e6, 0.8, len(owners)), 100_000),
                _round(_lognormal(rng, 200_000, 1.0, len(owners)), 1),
            )
            self._add_accounts(
                rng,
                owners,
                product,
                np.full(len(owners), day, np.int32),
                np.zeros(len(owners), np.int8),
                np.full(len(owners), -1, np.int32),
                balance,
            )
        self._step_loans(rng, day, dom, active_cust)

    def _step_loans(
        self, rng: np.random.Generator, day: int, dom: int, active_cust: np.ndarray
    ) -> None:
        ln = self.loan
        st, dpd = ln["status"], ln["dpd"]
        r = rng.random(ln.n)
        normal, delinquent, defaulted = st == NORMAL, st == DELINQUENT, st == DEFAULTED
        dpd[delinquent | defaulted] += 1
        cured = delinquent & (r < 0.04)
        st[cured], dpd[cured] = NORMAL, 0
        st[delinquent & ~cured & (dpd >= 90)] = DEFAULTED
        st[defaulted & (r < 0.002)] = WRITTEN_OFF
        slip = normal & (r > 1 - 0.0003)
        st[slip], dpd[slip] = DELINQUENT, 1
        _, _, odom = ymd(ln["opened"])
        pay = normal & ~slip & (odom == dom) & np.isin(ln["ltype"], (0, 3))
        ln["outstanding"][pay] = np.maximum(
            0, ln["outstanding"][pay] - ln["principal"][pay] // ln["term"][pay]
        )
        revolve = normal & (ln["ltype"] == 2) & (rng.random(ln.n) < 0.05)
        ln["outstanding"][revolve] = _round(
            ln["principal"][revolve] * rng.uniform(0, 1, int(revolve.sum())), 1000
        )
        repaid = (
            normal
            & ~slip
            & ((ln["maturity"] <= day) | (rng.random(ln.n) < 0.0002) | (ln["outstanding"] == 0))
        )
        st[repaid], ln["outstanding"][repaid], dpd[repaid] = REPAID, 0, 0
        adults = active_cust[
            self.c.people.age_on(self.c.books["bank"].t["person"][active_cust], day) >= 19
        ]
        self._add_loans(rng, adults[rng.random(len(adults)) < 0.0002], day, new=True)

    # ---- feeds ---------------------------------------------------------------------------
    def deposit_frame(self, day: int) -> pl.DataFrame:
        a = self.acc
        rows = np.flatnonzero(
            (a["status"] != CLOSED) | (a["closed"] >= day - CLOSED_ACCOUNT_VISIBLE_DAYS)
        )
        num = affine_ids(a["seq"][rows], 10**9, 740_000_017, self.acc_offset)
        return (
            pl.DataFrame(
                {
                    "pfx": lookup("pfx", _ACC_PREFIX, a["product"][rows].astype(np.int64)),
                    "num": pl.Series(num).cast(pl.String).str.zfill(9),
                }
            )
            .select(
                account_no=pl.concat_str(
                    "pfx",
                    pl.lit("-"),
                    pl.col("num").str.slice(0, 3),
                    pl.lit("-"),
                    pl.col("num").str.slice(3, 6),
                ),
            )
            .with_columns(
                self.c.books["bank"].customer_no(a["owner"][rows]),
                lookup("product_type", DEPOSIT_TYPES, a["product"][rows].astype(np.int64)),
                date_series("opened_on", a["opened"][rows]),
                date_series("closed_on", a["closed"][rows]),
                lookup("status", ACC_STATUS, a["status"][rows].astype(np.int64)),
                pl.Series("balance", a["balance"][rows]),
                pl.Series("interest_rate", a["rate"][rows] / 100.0),
            )
        )

    def loans_frame(self, day: int) -> pl.DataFrame:
        ln = self.loan
        num = affine_ids(ln["seq"], 10**10, 3_486_784_401, self.loan_offset)
        return pl.DataFrame(
            [
                id_series("loan_no", num, "LN", 10),
                self.c.books["bank"].customer_no(ln["owner"]),
                lookup("loan_type", LOAN_TYPES, ln["ltype"].astype(np.int64)),
                pl.Series("principal", ln["principal"]),
                pl.Series("outstanding_balance", ln["outstanding"]),
                pl.Series("interest_rate", ln["rate"] / 100.0),
                date_series("opened_on", ln["opened"]),
                date_series("maturity_on", ln["maturity"]),
                pl.Series("days_past_due", ln["dpd"].astype(np.int64)),
                lookup("loan_status", LOAN_STATUS, ln["status"].astype(np.int64)).alias("status"),
            ]
        )
