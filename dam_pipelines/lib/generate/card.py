"""Card: the merchant master (change feed) and card approvals (event feed)."""

from __future__ import annotations

import numpy as np
import polars as pl

from dam_pipelines.lib.registry import MERCHANT_CATEGORIES

from . import reference as ref
from .common import (
    DAY,
    OFFICE_HOURS,
    SPEND_HOURS,
    Table,
    affine_ids,
    id_series,
    lookup,
    time_of_day,
    ts_series,
    weighted,
    yymmdd,
)
from .customers import ACTIVE, Customers
from .population import SIDO, SIDO_W

CATS = MERCHANT_CATEGORIES
TXN_TYPES = ("PURCHASE", "CANCEL", "CASH_ADVANCE")
PURCHASE, CANCEL, CASH_ADVANCE = 0, 1, 2
CHANNELS = ("ONLINE", "OFFLINE")
_BRANDS = tuple(dict.fromkeys(b for c in CATS for b in ref.MERCHANT_BRANDS[c]))
_PLACES = tuple(dict.fromkeys(p for s in SIDO for p in ref.SIDO_PLACES[s]))
_CAT_BRANDS = [np.array([_BRANDS.index(b) for b in ref.MERCHANT_BRANDS[c]]) for c in CATS]
_SIDO_PLACES = [np.array([_PLACES.index(p) for p in ref.SIDO_PLACES[s]]) for s in SIDO]
_BRAND_ONLINE = np.array([b in ref.ONLINE_BRANDS for b in _BRANDS])
#: Cash-advance ATMs need some category; cash advances count in no category metric anyway.
_ATM_CAT = CATS.index("UTILITIES")
#: Daily card volumes and mixes.
RATES = {
    "txn_per_customer": 1.2,
    "cash_advance": 0.008,
    "overseas": 0.03,
    "cancel": 0.015,
    "partial_cancel": 0.2,
    "late_capture": 0.003,
    "merchants_per_customer": 0.05,
    "merchant_new": 0.0005,
    "merchant_rename": 0.0002,
    "merchant_recategorize": 0.0001,
    "merchant_move": 0.00005,
}
_LATE_W = np.array([0.5, 0.2, 0.1, 0.07, 0.05, 0.04, 0.04])  # 1..7 days late
_INSTALLMENTS = np.array([2, 3, 4, 5, 6, 10, 12, 18, 24, 36])
_INSTALLMENT_W = np.array([25, 25, 8, 7, 15, 7, 8, 2, 2, 1], dtype=float)
_CAT_W = np.array([ref.CATEGORY_WEIGHTS[c] for c in CATS])
_CAT_BY_BAND = np.stack(
    [
        _CAT_W * np.array([ref.CATEGORY_AGE_TILT.get(c, (1, 1, 1, 1))[band] for c in CATS])
        for band in range(4)
    ]
)
_CAT_CDF = np.cumsum(_CAT_BY_BAND / _CAT_BY_BAND.sum(axis=1, keepdims=True), axis=1)
_AMT = np.array([ref.CATEGORY_AMOUNTS[c] for c in CATS])
_ONLINE = np.array([ref.ONLINE_SHARE.get(c, 0.05) for c in CATS])


class Card:
    def __init__(self, customers: Customers, seed_rng: np.random.Generator) -> None:
        self.c = customers
        self.m_offset = int(seed_rng.integers(0, 10**9))
        self.name_counts: dict[str, int] = {}
        self.m = Table.empty(
            seq=np.int64,
            cat=np.int8,
            sido=np.int8,
            brand=np.int64,
            name=object,
            online=bool,
            overseas=bool,
            atm=bool,
            weight=float,
            updated=np.int64,
            changed=bool,
        )
        # per card-customer attributes, aligned with the card book
        self.cards = Table.empty(
            rate=float, bin1=np.int8, last1=np.int16, bin2=np.int8, last2=np.int16
        )
        self.pool = Table.empty(
            appr=np.int64,
            cust=np.int64,
            bin=np.int8,
            last=np.int16,
            merchant=np.int64,
            amount=np.int64,
            ts=np.int64,
            inst=np.int8,
            channel=np.int8,
            overseas=bool,
            done=bool,
        )

    # ---- merchants -----------------------------------------------------------------------
    def _new_merchants(self, rng: np.random.Generator, n: int, day: int, *, first: bool) -> None:
        cat = weighted(rng, _CAT_W, n)
        sido = weighted(rng, SIDO_W, n)
        brand = np.zeros(n, np.int64)
        for c, brands in enumerate(_CAT_BRANDS):
            m = cat == c
            brand[m] = brands[rng.integers(0, len(brands), int(m.sum()))]
        place = np.zeros(n, np.int64)
        for s, places in enumerate(_SIDO_PLACES):
            m = sido == s
            place[m] = places[rng.integers(0, len(places), int(m.sum()))]
        online = _BRAND_ONLINE[brand]
        upd_day = day - (rng.integers(0, 1100, n) if first else 0)
        self.m.append(
            seq=np.arange(self.m.n, self.m.n + n),
            cat=cat,
            sido=sido,
            brand=brand,
            name=self._names(brand, place, online),
            online=online,
            overseas=np.zeros(n, bool),
            atm=np.zeros(n, bool),
            weight=rng.pareto(1.5, n) + 0.2,
            updated=upd_day * DAY + time_of_day(rng, n, OFFICE_HOURS),
            changed=np.ones(n, bool),
        )

    def _names(self, brand: np.ndarray, place: np.ndarray, online: np.ndarray) -> np.ndarray:
        """Brand + branch ("스타벅스 강남점", then "스타벅스 강남2호점"); online sellers are numbered."""
        out = []
        counts = self.name_counts
        for b, p, o in zip(brand.tolist(), place.tolist(), online.tolist(), strict=True):
            base = _BRANDS[b] if o else f"{_BRANDS[b]} {_PLACES[p]}"
            k = counts[base] = counts.get(base, 0) + 1
            if o:
                out.append(base if k == 1 else f"{base} 판매자{k:04d}")
            else:
                out.append(f"{base}점" if k == 1 else f"{base}{k}호점")
        return np.array(out, dtype=object)

    def open(self, rng: np.random.Generator, day0: int) -> None:
        self._new_merchants(
            rng, max(150, int(self.c.base * RATES["merchants_per_customer"])), day0, first=True
        )
        k = len(ref.OVERSEAS_MERCHANTS)
        self.m.append(
            seq=np.arange(self.m.n, self.m.n + k),
            cat=np.array([CATS.index(c) for _, c in ref.OVERSEAS_MERCHANTS]),
            sido=np.full(k, SIDO.index("11")),
            brand=np.full(k, -1),
            name=np.array([n for n, _ in ref.OVERSEAS_MERCHANTS], dtype=object),
            online=np.zeros(k, bool),
            overseas=np.ones(k, bool),
            atm=np.zeros(k, bool),
            weight=rng.pareto(1.5, k) + 0.5,
            updated=(day0 - 400) * DAY + time_of_day(rng, k, OFFICE_HOURS),
            changed=np.ones(k, bool),
        )
        s = len(SIDO)
        self.m.append(
            seq=np.arange(self.m.n, self.m.n + s),
            cat=np.full(s, _ATM_CAT),
            sido=np.arange(s),
            brand=np.full(s, -1),
            name=np.array(
                [f"카드 현금서비스 ATM {ref.SIDO_PLACES[x][0]}" for x in SIDO], dtype=object
            ),
            online=np.zeros(s, bool),
            overseas=np.zeros(s, bool),
            atm=np.ones(s, bool),
            weight=np.ones(s),
            updated=(day0 - 700) * DAY + time_of_day(rng, s, OFFICE_HOURS),
            changed=np.ones(s, bool),
        )
        self._sync_cards(rng)

    def step_merchants(self, rng: np.random.Generator, day: int, *, quiet: bool = False) -> None:
        m = self.m
        m["changed"][:] = False
        if quiet:
            return
        regular = np.flatnonzero(~m["overseas"] & ~m["atm"])
        base = len(regular)
        rename = rng.choice(
            regular, min(base, int(rng.poisson(base * RATES["merchant_rename"]))), replace=False
        )
        if len(rename):
            m["name"][rename] = np.array(
                [f"{n} (리뉴얼)" if not n.endswith(")") else n for n in m["name"][rename]],
                dtype=object,
            )
        recat = rng.choice(
            regular,
            min(base, int(rng.poisson(base * RATES["merchant_recategorize"]))),
            replace=False,
        )
        m["cat"][recat] = rng.integers(0, len(CATS), len(recat))
        move = rng.choice(
            regular, min(base, int(rng.poisson(base * RATES["merchant_move"]))), replace=False
        )
        m["sido"][move] = weighted(rng, SIDO_W, len(move))
        touched = np.unique(np.concatenate([rename, recat, move])).astype(np.int64)
        m["changed"][touched] = True
        m["updated"][touched] = day * DAY + time_of_day(rng, len(touched), OFFICE_HOURS)
        self._new_merchants(
            rng, 1 + int(rng.poisson(base * RATES["merchant_new"])), day, first=False
        )

    def merchants_frame(self, rows: np.ndarray) -> pl.DataFrame:
        m = self.m
        return pl.DataFrame(
            [
                id_series(
                    "merchant_id",
                    affine_ids(m["seq"][rows], 10**9, 999_999_937, self.m_offset),
                    "M",
                    9,
                ),
                pl.Series("merchant_name", m["name"][rows].tolist(), dtype=pl.String),
                lookup("category", CATS, m["cat"][rows].astype(np.int64)),
                lookup("sido_code", SIDO, m["sido"][rows].astype(np.int64)),
                ts_series("updated_at", m["updated"][rows]),
            ]
        )

    def merchant_rows(self, *, full: bool) -> np.ndarray:
        rows = np.arange(self.m.n) if full else np.flatnonzero(self.m["changed"])
        return rows[np.lexsort((self.m["seq"][rows], self.m["updated"][rows]))]

    # ---- card holders --------------------------------------------------------------------
    def _sync_cards(self, rng: np.random.Generator) -> None:
        k = self.c.books["card"].n - self.cards.n
        if k > 0:
            two = rng.random(k) < 0.35
            self.cards.append(
                rate=rng.gamma(1.6, RATES["txn_per_customer"] / 1.6, k),
                bin1=rng.integers(0, len(ref.CARD_BINS), k),
                last1=rng.integers(0, 10_000, k),
                bin2=np.where(two, rng.integers(0, len(ref.CARD_BINS), k), -1),
                last2=rng.integers(0, 10_000, k),
            )

    # ---- transactions --------------------------------------------------------------------
    def _pick_merchants(self, rng, cat, sido, online) -> np.ndarray:
        """A merchant of category ``cat``: online ones anywhere, offline ones near the customer."""
        m = self.m
        reg = ~m["overseas"] & ~m["atm"]
        out = np.empty(len(cat), np.int64)
        key = (cat.astype(np.int64) * 2 + online) * 100 + np.where(online, 99, sido)
        order = np.argsort(key, kind="stable")
        for grp in np.split(order, np.flatnonzero(np.diff(key[order])) + 1):
            if not len(grp):
                continue
            c, o, s = int(cat[grp[0]]), bool(online[grp[0]]), int(sido[grp[0]])
            of_cat = reg & (m["cat"] == c)
            cands = np.flatnonzero(of_cat & (m["online"] == o) & (o | (m["sido"] == s)))
            for wider in (of_cat & (m["online"] == o), of_cat, reg):
                if len(cands):
                    break
                cands = np.flatnonzero(wider)
            cdf = np.cumsum(m["weight"][cands])
            pick = np.searchsorted(cdf / cdf[-1], rng.random(len(grp)), side="right")
            out[grp] = cands[pick.clip(0, len(cands) - 1)]
        return out

    def transactions(
        self, rng: np.random.Generator, day: int, forced: np.ndarray | None = None
    ) -> pl.DataFrame:
        self._sync_cards(rng)
        book = self.c.books["card"].t
        active = np.flatnonzero((book["status"] == ACTIVE) & (book["joined"] <= day))
        counts = rng.poisson(self.cards["rate"][active])
        cust = np.repeat(active, counts)
        if forced is not None and len(forced):
            cust = np.concatenate([cust, forced])
        n = len(cust)
        person = book["person"][cust]
        age = self.c.people.age_on(person, day)
        band = np.searchsorted([30, 50, 65], age, side="right")
        u = rng.random(n)
        ttype = np.where(u < RATES["cash_advance"], CASH_ADVANCE, PURCHASE).astype(np.int8)
        overseas = (ttype == PURCHASE) & (rng.random(n) > 1 - RATES["overseas"])
        cat = (rng.random(n)[:, None] > _CAT_CDF[band]).sum(axis=1).clip(0, len(CATS) - 1)
        online = rng.random(n) < _ONLINE[cat]
        sido = self.c.people.t["sido"][person].astype(np.int64)
        merchant = np.zeros(n, np.int64)
        dom = (ttype == PURCHASE) & ~overseas
        merchant[dom] = self._pick_merchants(rng, cat[dom], sido[dom], online[dom])
        ov = np.flatnonzero(self.m["overseas"])
        merchant[overseas] = ov[weighted(rng, self.m["weight"][ov], int(overseas.sum()))]
        atm = np.flatnonzero(self.m["atm"])
        merchant[ttype == CASH_ADVANCE] = atm[sido[ttype == CASH_ADVANCE]]
        cat = self.m["cat"][merchant].astype(np.int64)
        online = np.where(
            overseas,
            np.isin(cat, (CATS.index("ONLINE_SHOPPING"), CATS.index("ENTERTAINMENT"))),
            online,
        )
        online = np.where(ttype == CASH_ADVANCE, False, online)
        med, sig, unit = _AMT[cat, 0], _AMT[cat, 1], _AMT[cat, 2]
        amount = np.maximum(
            unit,
            np.round(
                med * np.where(overseas, 1.3, 1.0) * np.exp(sig * rng.standard_normal(n)) / unit
            )
            * unit,
        )
        amount = np.where(
            ttype == CASH_ADVANCE, 10_000 * rng.choice([10, 20, 30, 50, 100, 200], n), amount
        ).astype(np.int64)
        inst_p = np.where(
            np.isin(cat, [CATS.index(c) for c in ("DEPARTMENT_STORE", "TRAVEL", "EDUCATION")]),
            0.3,
            0.15,
        )
        inst = (ttype == PURCHASE) & ~overseas & (amount >= 50_000) & (rng.random(n) < inst_p)
        months = _INSTALLMENTS[weighted(rng, _INSTALLMENT_W, n)]
        months = np.where((months > 12) & (amount < 1_000_000), 3, months)
        installment = np.where(inst, months, 0).astype(np.int8)
        late = rng.random(n) < RATES["late_capture"]
        tday = day - np.where(late, weighted(rng, _LATE_W, n) + 1, 0)
        ts = tday * DAY + time_of_day(rng, n, SPEND_HOURS)
        which = (self.cards["bin2"][cust] >= 0) & (rng.random(n) < 0.3)
        cbin = np.where(which, self.cards["bin2"][cust], self.cards["bin1"][cust])
        clast = np.where(which, self.cards["last2"][cust], self.cards["last1"][cust])
        order = np.argsort(ts, kind="stable")
        rows = {
            "cust": cust,
            "bin": cbin,
            "last": clast,
            "merchant": merchant,
            "amount": amount,
            "ts": ts,
            "inst": installment,
            "channel": np.where(online, 0, 1),
            "overseas": overseas,
            "ttype": ttype,
        }
        rows = {k: v[order] for k, v in rows.items()}
        rows["appr"] = self._approval_numbers(day, np.arange(n))
        rows["orig"] = np.full(n, -1, np.int64)
        purchases = rows["ttype"] == PURCHASE
        self.pool.append(
            **{
                k: rows[k][purchases]
                for k in (
                    "appr",
                    "cust",
                    "bin",
                    "last",
                    "merchant",
                    "amount",
                    "ts",
                    "inst",
                    "channel",
                    "overseas",
                )
            },
            done=np.zeros(int(purchases.sum()), bool),
        )
        cancels = self._cancels(rng, day, int(purchases.sum()), n)
        rows = {k: np.concatenate([rows[k], cancels[k]]) for k in rows}
        self.pool.keep(self.pool["ts"] >= (day - 30) * DAY)
        order = np.argsort(rows["ts"], kind="stable")
        return self._frame({k: v[order] for k, v in rows.items()})

    def _approval_numbers(self, day: int, seq: np.ndarray) -> np.ndarray:
        return int(yymmdd(day)) * 10**8 + affine_ids(seq, 10**8, 48_271_007, day % 10**8)

    def _cancels(
        self, rng: np.random.Generator, day: int, n_purchases: int, seq0: int
    ) -> dict[str, np.ndarray]:
        p = self.pool
        eligible = np.flatnonzero(~p["done"] & (p["ts"] < day * DAY + 23 * 3600))
        k = min(len(eligible), int(rng.binomial(n_purchases, RATES["cancel"])))
        w = np.exp(-(day - p["ts"][eligible] // DAY) / 3.0)
        pick = (
            eligible[rng.choice(len(eligible), k, replace=False, p=w / w.sum())]
            if k
            else eligible[:0]
        )
        p["done"][pick] = True
        orig_ts = p["ts"][pick]
        same_day = orig_ts >= day * DAY
        room = (day + 1) * DAY - 1 - orig_ts
        ts = np.where(
            same_day,
            orig_ts + 60 + np.floor(rng.random(k) * np.minimum(3 * 3600, room - 60)),
            day * DAY + time_of_day(rng, k, SPEND_HOURS),
        ).astype(np.int64)
        amount = p["amount"][pick]
        partial = (rng.random(k) < RATES["partial_cancel"]) & (amount >= 100)
        part = np.clip(
            np.round(amount * rng.uniform(0.1, 0.9, k) / 10) * 10, 10, amount - 10
        ).astype(np.int64)
        return {
            "cust": p["cust"][pick],
            "bin": p["bin"][pick],
            "last": p["last"][pick],
            "merchant": p["merchant"][pick],
            "amount": np.where(partial, part, amount),
            "ts": ts,
            "inst": p["inst"][pick],
            "channel": p["channel"][pick],
            "overseas": p["overseas"][pick],
            "ttype": np.full(k, CANCEL, np.int8),
            "appr": self._approval_numbers(day, np.arange(seq0, seq0 + k)),
            "orig": p["appr"][pick],
        }

    def retire(self, approval_nos: list[str]) -> None:
        """Events a fault quarantined or removed can no longer be cancelled later."""
        nums = np.array([int(a) for a in approval_nos if a and a.isdigit()], np.int64)
        self.pool["done"][np.isin(self.pool["appr"], nums)] = True

    def _frame(self, r: dict[str, np.ndarray]) -> pl.DataFrame:
        book = self.c.books["card"]
        bins = pl.Series(list(ref.CARD_BINS))
        orig = pl.Series("original_approval_no", r["orig"]).cast(pl.String).str.zfill(14)
        return pl.DataFrame(
            [
                pl.Series("approval_no", r["appr"]).cast(pl.String).str.zfill(14),
                book.customer_no(r["cust"]),
                pl.DataFrame(
                    {"b": bins.gather(r["bin"].astype(np.int64)), "l": r["last"].astype(np.int64)}
                )
                .select(
                    pl.concat_str(
                        "b", pl.lit("******"), pl.col("l").cast(pl.String).str.zfill(4)
                    ).alias("card_no")
                )
                .to_series(),
                ts_series("approved_at", r["ts"]),
                lookup("txn_type", TXN_TYPES, r["ttype"].astype(np.int64)),
                orig.set(pl.Series(r["orig"] < 0), None),
                pl.Series("amount", r["amount"].astype(np.int64)),
                pl.Series("installment_months", r["inst"].astype(np.int64)),
                id_series(
                    "merchant_id",
                    affine_ids(self.m["seq"][r["merchant"]], 10**9, 999_999_937, self.m_offset),
                    "M",
                    9,
                ),
                lookup("channel", CHANNELS, r["channel"].astype(np.int64)),
                pl.Series("is_overseas", r["overseas"].astype(bool)),
            ]
        )
