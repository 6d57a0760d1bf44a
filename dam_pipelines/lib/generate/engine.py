"""The day loop: simulate each business day, render every feed, plant faults, write batches."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dam_pipelines.lib.landing import MANIFEST, batch_folder, write_batch
from dam_pipelines.lib.registry import AFFILIATES, FEEDS, Feed

from .bank import Bank
from .card import Card
from .common import from_day, rng_for, to_day
from .customers import Customers
from .faults import (
    CORRECTION,
    FAULT_MIN_CUSTOMERS,
    FAULT_MIN_DAYS,
    NOT_READY,
    ORPHANS,
    OUT_OF_ORDER,
    QUIET_MERCHANT_DAY,
    REDELIVERED,
    REWRITE_MANIFEST,
    FaultPlan,
    damage_batch,
)
from .formats import DELIVERY, Delivery, split_parts, to_delivery
from .life import Life
from .row_faults import set_cell, unreferenced_purchases
from .securities import Securities

FAULTS_FILE = "_faults.json"
_FEED_INDEX = {f.id: i for i, f in enumerate(FEEDS)}


@dataclass
class GenerationSummary:
    batches: int
    rows: int
    files: int
    landing: Path
    faults: list[dict[str, Any]]
    people: int = 0
    start: date | None = None
    days: int = 0
    rows_per_feed: dict[str, int] = field(default_factory=dict)
    #: optional faults for which no batch of the period was big enough
    unplanted: list[str] = field(default_factory=list)


@dataclass
class World:
    customers: Customers
    bank: Bank
    card: Card
    securities: Securities
    life: Life


def created_at(feed_id: str, day: int, *, minutes: int = 0) -> str:
    """Batches are cut at 01:00 KST the next morning, one feed every 4 minutes."""
    t = datetime.combine(from_day(day + 1), datetime.min.time()) + timedelta(
        hours=1, minutes=4 * _FEED_INDEX[feed_id] + minutes
    )
    return t.strftime("%Y-%m-%dT%H:%M:%S") + "+09:00"


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(folder / MANIFEST)


class _Writer:
    def __init__(self, landing: Path, plan: FaultPlan) -> None:
        self.landing = landing
        self.plan = plan
        self.batches = self.rows = self.files = 0
        self.rows_per_feed: dict[str, int] = {f.id: 0 for f in FEEDS}
        self.deferred: list[tuple[int, Callable[[], None]]] = []

    def write(
        self,
        feed: Feed,
        day: int,
        df: pl.DataFrame,
        spec: Delivery,
        *,
        revision: int = 1,
        created: str | None = None,
        fault: tuple[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        kind = fault[0] if fault else None
        parts = split_parts(df, spec)
        if kind == "FILE_MISSING" and len(parts) < 2:
            parts = (
                [df, df.head(0)]
                if df.height < 2
                else [df.head(df.height // 2), df.tail(df.height - df.height // 2)]
            )
        created = created or created_at(feed.id, day)
        wb = write_batch(
            self.landing,
            feed.affiliate,
            feed.name,
            str(from_day(day)),
            parts,
            revision=revision,
            fmt=spec.fmt,
            encoding=spec.encoding,
            bom=spec.bom,
            crlf=spec.crlf,
            control_total_column=spec.control_total,
            created_at=created,
            manifest_overrides={"created_at": created[:-6]} if kind == "MANIFEST_INVALID" else None,
            write_manifest=kind not in REWRITE_MANIFEST,
        )
        manifest, folder = dict(wb.manifest), wb.folder
        first = folder / manifest["files"][0]["name"]
        if kind:
            manifest = damage_batch(kind, folder, manifest, spec.encoding)
        if kind in REWRITE_MANIFEST:
            _write_manifest(folder, manifest)
        if fault:
            details = dict(details or {})
            if kind in {"DECODE_ERROR", "CHECKSUM_MISMATCH", "ROW_COUNT_MISMATCH"}:
                details["file"] = first.name
            self.plan.add(
                feed.id,
                day,
                kind,
                kind,
                fault[1],
                level="batch",
                status="REJECTED",
                revision=revision,
                **details,
            )
        self.batches += 1
        self.rows += df.height
        self.rows_per_feed[feed.id] += df.height
        self.files += len(parts) - (1 if kind == "FILE_MISSING" else 0)

    def redeliver(self, feed: Feed, day: int) -> None:
        """Write the same revision again, byte for byte (parts first, manifest last)."""
        folder = batch_folder(self.landing, feed.affiliate, feed.name, str(from_day(day)))
        manifest = (folder / MANIFEST).read_bytes()
        for f in json.loads(manifest)["files"]:
            p = folder / f["name"]
            p.write_bytes(p.read_bytes())
        tmp = folder / (MANIFEST + ".tmp")
        tmp.write_bytes(manifest)
        tmp.replace(folder / MANIFEST)

    def run_deferred(self, d: int | None) -> None:
        due = [job for at, job in self.deferred if d is None or at == d]
        self.deferred = [(at, job) for at, job in self.deferred if not (d is None or at == d)]
        for job in due:
            job()


class _Generator:
    def __init__(
        self,
        landing: Path,
        customers: int,
        days: int,
        start: date,
        seed: int,
        faults: bool,
        progress: Callable[[str], None] | None,
        erasure_requests: bool = True,
    ) -> None:
        self.landing, self.days, self.seed = landing, days, seed
        self.erasure_requests = erasure_requests
        self.day0 = to_day(start)
        self.say = progress or (lambda _msg: None)
        self.plan = FaultPlan(faults)
        self.writer = _Writer(landing, self.plan)
        setup = rng_for(seed, "setup")
        c = Customers(setup, customers, self.day0)
        c.open(rng_for(seed, "open", "customers"))
        self.w = World(c, Bank(c, setup), Card(c, setup), Securities(c, setup), Life(c, setup))
        self.w.bank.open(rng_for(seed, "open", "bank"), self.day0)
        self.w.card.open(rng_for(seed, "open", "card"), self.day0)
        self.w.securities.open(rng_for(seed, "open", "securities"), self.day0)
        self.w.life.open(rng_for(seed, "open", "life"), self.day0)
        self.erasure_day = {
            a: (int(rng_for(seed, "erasure-day", a).integers(1, days)) if days > 1 else 0)
            for a in AFFILIATES
        }
        self.card_forced: list[
            tuple[int, int, int]
        ] = []  # (card book row, from day idx, to day idx)
        self.say(
            f"population: {c.people.n:,} people; "
            + ", ".join(f"{a} {b.n:,}" for a, b in c.books.items())
        )

    def run(self) -> None:
        for d in range(self.days):
            day = self.day0 + d
            frames = self._simulate(d, day)
            rows = 0
            for feed in FEEDS:
                self._deliver(feed, d, day, frames[feed.id])
                rows += frames[feed.id].height
            self.writer.run_deferred(d)
            self.say(f"{from_day(day)}: {len(FEEDS)} batches, {rows:,} rows")
        self.writer.run_deferred(None)
        if self.plan.enabled:
            self._not_ready()
            (self.landing / FAULTS_FILE).write_text(
                json.dumps(self.plan.records(), ensure_ascii=False, indent=2, default=str),
                encoding="utf-8",
            )

    # ---- one business day ----------------------------------------------------------------
    def _simulate(self, d: int, day: int) -> dict[str, pl.DataFrame]:
        w, seed, plan = self.w, self.seed, self.plan
        c = w.customers
        if d == 0:
            new = {a: np.empty(0, np.int64) for a in AFFILIATES}
        else:
            closable = {
                "bank": w.bank.closable(),
                "securities": w.securities.closable(),
                "life": w.life.closable(),
            }
            new = c.step(rng_for(seed, "customers", d), day, closable)
        if plan.enabled:
            for a, od, delay, feed in ORPHANS:
                if d == od:
                    row = c.new_customer(rng_for(seed, "orphan", a, d), a, day, delay)
                    new[a] = np.append(new[a], row)
                    if a == "card":
                        self.card_forced.append((row, od, od + delay))
                    cno = c.books[a].customer_no(np.array([row]))[0]
                    plan.add(
                        f"{a}/{feed}",
                        day,
                        "ORPHAN",
                        None,
                        f"{a} customer {cno} appears here before its customers record (delivered {from_day(day + delay)})",
                        level="scenario",
                        status="LOADED",
                        customer_no=cno,
                        customers_business_date=str(from_day(day + delay)),
                    )
        w.bank.step(rng_for(seed, "bank", d), day, new["bank"])
        quiet = plan.enabled and d == QUIET_MERCHANT_DAY
        if d > 0:
            w.card.step_merchants(rng_for(seed, "merchants", d), day, quiet=quiet)
        if quiet:
            plan.add(
                "card/merchants",
                day,
                "EMPTY_BATCH",
                None,
                "no merchant changes: header-only batch of 0 rows",
                level="scenario",
                status="LOADED",
            )
        forced = np.array([r for r, lo, hi in self.card_forced if lo <= d < hi], np.int64)
        frames = {
            "card/transactions": w.card.transactions(rng_for(seed, "card", d), day, forced),
            "securities/trades": w.securities.step(
                rng_for(seed, "securities", d), day, new["securities"]
            ),
            "life/premium_payments": w.life.step(rng_for(seed, "life", d), day, new["life"]),
            "bank/deposit_accounts": w.bank.deposit_frame(day),
            "bank/loans": w.bank.loans_frame(day),
            "securities/holdings": w.securities.holdings_frame(),
            "life/policies": w.life.policies_frame(),
            "card/merchants": w.card.merchants_frame(w.card.merchant_rows(full=d == 0)),
        }
        for a in AFFILIATES:
            frames[f"{a}/customers"] = c.frame(a, c.delivered_rows(a, day, full=d == 0))
            frames[f"{a}/erasure_requests"] = c.erasure_frame(
                rng_for(seed, "erasure", a, d),
                a,
                day,
                extra=int(self.erasure_day[a] == d),
                none=not self.erasure_requests,
            )
        return frames

    def _deliver(self, feed: Feed, d: int, day: int, typed: pl.DataFrame) -> None:
        plan, spec = self.plan, DELIVERY[feed.id]
        rng = rng_for(self.seed, "faults", feed.id, d)
        fault = plan.batch_fault(feed.id, d)
        details: dict[str, Any] = {}
        if fault and fault[0] == "TOO_MANY_BAD_ROWS":
            typed, details = self._too_many_bad_rows(feed, day, typed, rng)
        avoid: set[int] = set()
        typed, retired = plan.plant_rows(feed.id, d, day, "typed", typed, rng, self.w, avoid)
        df = to_delivery(typed, spec)
        df, more = plan.plant_rows(feed.id, d, day, "delivery", df, rng, self.w, avoid)
        if feed.id == "card/transactions" and (retired or more):
            self.w.card.retire(retired + more)
        if fault and fault[0] == "MISSING_COLUMN":
            df = df.drop("fee")
        key = (feed.id, d)
        if plan.enabled and key == OUT_OF_ORDER[:2]:
            later = d + OUT_OF_ORDER[2]
            created = created_at(feed.id, day + OUT_OF_ORDER[2], minutes=2)
            self.writer.deferred.append(
                (later, lambda: self.writer.write(feed, day, df, spec, created=created))
            )
            plan.add(
                feed.id,
                day,
                "OUT_OF_ORDER",
                None,
                f"written after the batch of {from_day(day + OUT_OF_ORDER[2])} (created_at {created}); an older snapshot never replaces a newer one",
                level="scenario",
                status="LOADED",
                delivered_with=str(from_day(day + OUT_OF_ORDER[2])),
            )
            return
        self.writer.write(feed, day, df, spec, fault=fault, details=details)
        if plan.enabled and key == REDELIVERED[:2]:
            self.writer.deferred.append(
                (d + REDELIVERED[2], lambda: self.writer.redeliver(feed, day))
            )
            plan.add(
                feed.id,
                day,
                "REDELIVERED",
                None,
                f"same revision rewritten byte for byte after the batch of {from_day(day + REDELIVERED[2])}: a no-op",
                level="scenario",
                status=None,
            )
        if plan.enabled and key == CORRECTION:
            self._correction(feed, day, typed, spec, rng)

    def _correction(
        self, feed: Feed, day: int, typed: pl.DataFrame, spec: Delivery, rng: np.random.Generator
    ) -> None:
        cand = np.flatnonzero(unreferenced_purchases(typed).to_numpy())
        i, j = (int(x) for x in np.sort(rng.choice(cand, 2, replace=False)))
        dropped, changed = typed["approval_no"][i], typed["approval_no"][j]
        old = int(typed["amount"][j])
        new = max(10, int(round(old * 0.9, -1)))
        rev2 = set_cell(typed, j, "amount", new)
        rev2 = rev2.filter(pl.int_range(pl.len()) != i)
        self.w.card.retire([dropped, changed])
        created = created_at(feed.id, day + 2, minutes=30)
        self.writer.deferred.append(
            (
                -1,
                lambda: self.writer.write(
                    feed, day, to_delivery(rev2, spec), spec, revision=2, created=created
                ),
            )
        )
        self.plan.add(
            feed.id,
            day,
            "CORRECTION",
            None,
            f"revision 2 replaces revision 1: drops {dropped}, changes {changed} amount {old} -> {new}; "
            "revision 1 parts stay in the folder",
            level="scenario",
            status="LOADED",
            revision=2,
            dropped_approval_no=dropped,
            changed_approval_no=changed,
            old_amount=old,
            new_amount=new,
            rev1_status="REPLACED",
        )

    def _too_many_bad_rows(
        self, feed: Feed, day: int, typed: pl.DataFrame, rng: np.random.Generator
    ) -> tuple[pl.DataFrame, dict[str, Any]]:
        """Pad the batch with re-sent records, then break 40% of its rows (gender X)."""
        c = self.w.customers
        a = feed.affiliate
        delivered = np.flatnonzero(c.books[a].t["deliver"] < day)
        taken = set(typed["customer_no"].to_list())
        k = max(0, 10 - typed.height)
        extra = [
            r
            for r in rng.permutation(delivered)[: k + typed.height]
            if c.books[a].customer_no(np.array([r]))[0] not in taken
        ][:k]
        if extra:
            typed = pl.concat([typed, c.frame(a, np.array(sorted(extra)))])
        bad = sorted(
            int(x) for x in rng.choice(typed.height, math.ceil(0.4 * typed.height), replace=False)
        )
        typed = typed.with_columns(
            pl.when(pl.int_range(pl.len()).is_in(bad))
            .then(pl.lit("X"))
            .otherwise("gender")
            .alias("gender")
        )
        return typed, {
            "bad_row_numbers": [b + 1 for b in bad],
            "rows": typed.height,
            "column": "gender",
        }

    def _not_ready(self) -> None:
        feed = next(f for f in FEEDS if f.id == NOT_READY)
        day = self.day0 + self.days
        spec = DELIVERY[feed.id]
        df = to_delivery(self.w.card.transactions(rng_for(self.seed, "card", self.days), day), spec)
        write_batch(
            self.landing,
            feed.affiliate,
            feed.name,
            str(from_day(day)),
            split_parts(df, spec),
            fmt=spec.fmt,
            control_total_column=spec.control_total,
            write_manifest=False,
        )
        self.writer.files += len(split_parts(df, spec))
        self.plan.add(
            feed.id,
            day,
            "NOT_READY",
            None,
            "parts without _manifest.json: not ready, must be ignored",
            level="scenario",
            status=None,
        )


def generate_landing(
    landing: Path,
    *,
    customers: int,
    days: int,
    start: date,
    seed: int,
    faults: bool = False,
    progress: Callable[[str], None] | None = None,
    erasure_requests: bool = True,
) -> GenerationSummary:
    """Write a deterministic synthetic landing zone: every registry feed for ``days`` business days.

    Same arguments, same bytes. ``faults`` plants contract violations and awkward deliveries
    and records them in ``<landing>/_faults.json``. ``erasure_requests=False`` delivers the
    ``erasure_requests`` batches empty (the benchmark's long histories; nothing else changes:
    every other feed draws from its own random streams).
    """
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be >= 1")
    if faults and (days < FAULT_MIN_DAYS or customers < FAULT_MIN_CUSTOMERS):
        raise ValueError(
            f"faults need at least {FAULT_MIN_DAYS} days and {FAULT_MIN_CUSTOMERS} customers"
        )
    landing = Path(landing)
    landing.mkdir(parents=True, exist_ok=True)
    if faults and not erasure_requests:
        raise ValueError("faults need the erasure requests")
    g = _Generator(landing, customers, days, start, seed, faults, progress, erasure_requests)
    g.run()
    wr = g.writer
    missing = [(s.feed, s.kind) for s in g.plan.pending if not s.optional]
    if missing:
        raise RuntimeError(f"faults not planted (batches too small): {missing}")
    unplanted = [f"{s.feed} {s.kind}" for s in g.plan.pending]
    if unplanted and progress:
        progress(f"optional faults not planted (batches too small): {unplanted}")
    return GenerationSummary(
        batches=wr.batches,
        rows=wr.rows,
        files=wr.files,
        landing=landing,
        faults=g.plan.records(),
        people=g.w.customers.people.n,
        start=start,
        days=days,
        rows_per_feed=dict(wr.rows_per_feed),
        unplanted=unplanted,
    )
