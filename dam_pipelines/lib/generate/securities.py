"""Securities: trades (event feed) and holdings (daily snapshot) over KRX and US symbols."""

from __future__ import annotations

import numpy as np
import polars as pl

from . import reference as ref
from .common import DAY, Table, affine_ids, id_series, weighted, yymmdd
from .customers import ACTIVE, CLOSED, Customers

SYMBOLS = tuple(s[0] for s in ref.SYMBOLS)
MARKETS = tuple(s[1] for s in ref.SYMBOLS)
_REF_PRICE = np.array([s[2] for s in ref.SYMBOLS])
_VOL = np.array([s[3] for s in ref.SYMBOLS])
_POP = np.array([s[4] for s in ref.SYMBOLS], dtype=float)
_US = np.array([m in ("NASDAQ", "NYSE") for m in MARKETS])
#: Daily trading propensity of an account (mean) and fees (online brokerage rates).
RATES = {
    "trade_day": 0.06,
    "sell": 0.5,
    "sell_all": 0.6,
    "top_up": 0.5,
    "fee_domestic": 0.00015,
    "fee_overseas": 0.0025,
    "second_account": 0.12,
}


def krx_tick(price: np.ndarray) -> np.ndarray:
    """KRX price ticks by price band."""
    tick = np.select(
        [
            price < 2_000,
            price < 5_000,
            price < 20_000,
            price < 50_000,
            price < 200_000,
            price < 500_000,
        ],
        [1, 5, 10, 50, 100, 500],
        1000,
    )
    return np.maximum(tick, np.round(price / tick) * tick)


def weekday(day: int) -> int:
    return (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday


class Securities:
    def __init__(self, customers: Customers, seed_rng: np.random.Generator) -> None:
        self.c = customers
        self.acc_offset = int(seed_rng.integers(0, 10**8))
        self.acc = Table.empty(owner=np.int64, sub=np.int8, activity=float)
        self.price = _REF_PRICE * np.exp(0.08 * seed_rng.standard_normal(len(SYMBOLS)))
        self.hold = pl.DataFrame(
            schema={"acct": pl.Int64, "sym": pl.Int64, "qty": pl.Int64, "avg": pl.Float64}
        )

    def close_prices(self) -> np.ndarray:
        return np.where(_US, np.round(self.price, 2), krx_tick(self.price))

    def _add_accounts(self, rng: np.random.Generator, owners: np.ndarray) -> np.ndarray:
        second = owners[rng.random(len(owners)) < RATES["second_account"]]
        owners_all = np.concatenate([owners, second])
        sub = np.concatenate([np.ones(len(owners), np.int8), np.full(len(second), 2, np.int8)])
        order = np.lexsort((sub, owners_all))
        return self.acc.append(
            owner=owners_all[order],
            sub=sub[order],
            activity=RATES["trade_day"] * rng.lognormal(-0.5, 1.0, len(order)),
        )

    def open(self, rng: np.random.Generator, day0: int) -> None:
        b = self.c.books["securities"].t
        accts = self._add_accounts(rng, np.arange(len(b["person"])))
        live = accts[b["status"][self.acc["owner"][accts]] != CLOSED]
        k = np.where(rng.random(len(live)) < 0.2, 0, rng.poisson(2.5, len(live)) + 1)
        acct = np.repeat(live, k)
        sym = weighted(rng, _POP, len(acct))
        price = self.close_prices()[sym]
        qty = np.maximum(1, np.round(rng.lognormal(np.log(3e6), 1.1, len(acct)) / price)).astype(
            np.int64
        )
        avg = np.round(price * rng.uniform(0.6, 1.4, len(acct)), 2)
        self.hold = (
            pl.DataFrame(
                {"acct": acct.astype(np.int64), "sym": sym.astype(np.int64), "qty": qty, "avg": avg}
            )
            .unique(["acct", "sym"], keep="first", maintain_order=True)
            .sort("acct", "sym")
        )

    def closable(self) -> np.ndarray:
        """Securities customers without holdings may close."""
        busy = np.zeros(self.c.books["securities"].n, bool)
        busy[self.acc["owner"][self.hold["acct"].to_numpy()]] = True
        return ~busy

    def step(self, rng: np.random.Generator, day: int, new_rows: np.ndarray) -> pl.DataFrame:
        """Move prices, open accounts of new customers, trade; returns the day's trades."""
        wd = weekday(day)
        if wd < 5:
            self.price = self.price * np.exp(_VOL * rng.standard_normal(len(SYMBOLS)))
        if len(new_rows):
            self._add_accounts(rng, new_rows)
        return self._trade(rng, day, wd)

    def _trade(self, rng: np.random.Generator, day: int, wd: int) -> pl.DataFrame:
        dom_open = wd < 5
        us_late, us_early = (
            wd < 5,
            1 <= wd <= 5,
        )  # US session: 23:30-06:00 KST, Mon-Fri New York time
        open_sym = np.where(_US, us_late or us_early, dom_open)
        b = self.c.books["securities"].t
        owner_active = (b["status"][self.acc["owner"]] == ACTIVE) & (
            b["joined"][self.acc["owner"]] <= day
        )
        traders = np.flatnonzero(owner_active & (rng.random(self.acc.n) < self.acc["activity"]))
        if not open_sym.any() or not len(traders):
            return self._trades_frame(day, {})
        acct = np.repeat(traders, 1 + rng.poisson(0.8, len(traders)))
        n = len(acct)
        h_acct = self.hold["acct"].to_numpy()
        h_sym = self.hold["sym"].to_numpy()
        h_qty = self.hold["qty"].to_numpy()
        start = np.searchsorted(h_acct, acct, side="left")
        count = np.searchsorted(h_acct, acct, side="right") - start
        sell = (count > 0) & (rng.random(n) < RATES["sell"])
        hidx = start + np.floor(rng.random(n) * np.maximum(count, 1)).astype(np.int64)
        hidx = np.minimum(hidx, max(len(h_acct) - 1, 0))
        sym = weighted(rng, np.where(open_sym, _POP, 0), n)
        if len(h_sym):
            # sells come out of a holding; half the buys add to one
            top_up = (count > 0) & (rng.random(n) < RATES["top_up"])
            sym = np.where(sell | top_up, h_sym[hidx], sym)
        ok = open_sym[sym]
        # one sell per holding and day keeps sells within what is held
        first_sell = np.zeros(n, bool)
        if sell.any():
            _, idx = np.unique(np.where(sell, hidx, -1 - np.arange(n)), return_index=True)
            first_sell[idx] = True
        keep = ok & (~sell | first_sell)
        acct, sym, sell, hidx = acct[keep], sym[keep], sell[keep], hidx[keep]
        n = len(acct)
        close = self.close_prices()[sym]
        raw = close * rng.uniform(0.985, 1.015, n)
        price = np.where(_US[sym], np.round(raw, 2), krx_tick(raw))
        held = h_qty[hidx] if len(h_qty) else np.zeros(n, np.int64)
        buy_qty = np.maximum(1, np.round(rng.lognormal(np.log(1.5e6), 1.0, n) / price))
        part = np.where(rng.random(n) < RATES["sell_all"], 1.0, rng.uniform(0.2, 1.0, n))
        qty = np.where(sell, np.maximum(1, np.ceil(held * part)), buy_qty).astype(np.int64)
        qty = np.where(sell, np.minimum(qty, held), qty)
        amount = np.maximum(1, np.round(qty * price)).astype(np.int64)
        fee = np.round(
            amount * np.where(_US[sym], RATES["fee_overseas"], RATES["fee_domestic"])
        ).astype(np.int64)
        # overseas orders fill in the 23:30-24:00 KST opening half hour or the 00:00-06:00 rest
        late = (rng.random(n) < 0.25) & us_late if us_early else np.full(n, True)
        secs = np.where(
            _US[sym],
            np.where(
                late, 23 * 3600 + 1800 + rng.integers(0, 1800, n), rng.integers(0, 6 * 3600, n)
            ),
            9 * 3600 + rng.integers(0, 6 * 3600 + 1800, n),
        )
        ts = day * DAY + secs
        self._apply(acct, sym, sell, qty, price)
        order = np.argsort(ts, kind="stable")
        return self._trades_frame(
            day,
            {
                "acct": acct[order],
                "sym": sym[order],
                "sell": sell[order],
                "qty": qty[order],
                "price": price[order],
                "amount": amount[order],
                "fee": fee[order],
                "ts": ts[order],
            },
        )

    def _apply(self, acct, sym, sell, qty, price) -> None:
        t = pl.DataFrame(
            {
                "acct": acct.astype(np.int64),
                "sym": sym.astype(np.int64),
                "sell": sell,
                "q": qty,
                "p": price,
            }
        )
        agg = t.group_by("acct", "sym").agg(
            bq=pl.col("q").filter(~pl.col("sell")).sum(),
            bc=(pl.col("q") * pl.col("p")).filter(~pl.col("sell")).sum(),
            sq=pl.col("q").filter(pl.col("sell")).sum(),
        )
        h = self.hold.join(agg, on=["acct", "sym"], how="full", coalesce=True).with_columns(
            pl.col("qty", "bq", "sq").fill_null(0), pl.col("avg", "bc").fill_null(0.0)
        )
        self.hold = (
            h.select(
                "acct",
                "sym",
                qty=pl.col("qty") + pl.col("bq") - pl.col("sq"),
                avg=pl.when(pl.col("bq") > 0)
                .then(
                    (
                        (pl.col("qty") * pl.col("avg") + pl.col("bc"))
                        / (pl.col("qty") + pl.col("bq"))
                    ).round(2)
                )
                .otherwise(pl.col("avg")),
            )
            .filter(pl.col("qty") > 0)
            .sort("acct", "sym")
        )

    def account_no(self, accts: np.ndarray) -> pl.Series:
        owner_seq = self.c.books["securities"].t["seq"][self.acc["owner"][accts]]
        num = affine_ids(owner_seq, 10**8, 19_999_999, self.acc_offset)
        return (
            pl.DataFrame({"n": num, "s": self.acc["sub"][accts].astype(np.int64)})
            .select(
                pl.concat_str(
                    pl.col("n").cast(pl.String).str.zfill(8),
                    pl.lit("-"),
                    pl.col("s").cast(pl.String).str.zfill(2),
                ).alias("account_no")
            )
            .to_series()
        )

    def _trades_frame(self, day: int, r: dict[str, np.ndarray]) -> pl.DataFrame:
        if not r:
            r = {k: np.empty(0, np.int64) for k in ("acct", "sym", "qty", "amount", "fee", "ts")}
            r["sell"], r["price"] = np.empty(0, bool), np.empty(0, float)
        n = len(r["acct"])
        book = self.c.books["securities"]
        return pl.DataFrame(
            [
                id_series("trade_id", np.arange(1, n + 1), f"T{yymmdd(day)}", 7),
                book.customer_no(self.acc["owner"][r["acct"]]),
                self.account_no(r["acct"]),
                (
                    (pl.Series("executed_at", r["ts"].astype(np.int64)) * 1_000_000).cast(
                        pl.Datetime("us")
                    )
                ),
                pl.Series("market", MARKETS, dtype=pl.String)
                .gather(r["sym"].astype(np.int64))
                .alias("market"),
                pl.Series("symbol", SYMBOLS, dtype=pl.String)
                .gather(r["sym"].astype(np.int64))
                .alias("symbol"),
                pl.Series("side", np.where(r["sell"], "SELL", "BUY").tolist(), dtype=pl.String),
                pl.Series("quantity", r["qty"].astype(np.int64)),
                pl.Series("price", r["price"].astype(float)),
                pl.Series("amount", r["amount"].astype(np.int64)),
                pl.Series("fee", r["fee"].astype(np.int64)),
            ]
        )

    def holdings_frame(self) -> pl.DataFrame:
        h = self.hold
        acct = h["acct"].to_numpy()
        sym = h["sym"].to_numpy()
        close = self.close_prices()[sym]
        return pl.DataFrame(
            [
                self.account_no(acct),
                self.c.books["securities"].customer_no(self.acc["owner"][acct]),
                pl.Series("symbol", SYMBOLS, dtype=pl.String).gather(sym).alias("symbol"),
                pl.Series("market", MARKETS, dtype=pl.String).gather(sym).alias("market"),
                h["qty"].alias("quantity"),
                h["avg"].alias("avg_cost"),
                pl.Series("market_value", np.round(h["qty"].to_numpy() * close).astype(np.int64)),
            ]
        )
