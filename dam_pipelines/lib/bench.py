"""`dam bench`: time every stage of the dam at a given scale (docs/performance.md).

Everything runs in this process through the library functions, in the order the nightly Dagster
job runs them (in-process executor): ingestion, the night's erasures, silver, gold (profile,
trends, write), the quality checks, the marketing audience. Nothing here is a timed test: the
test only checks the structure of the JSON.

Measuring: wall = ``time.perf_counter``; CPU = user + system of ``resource.getrusage`` for this
process and its children; peak RSS = the highest resident set size of this process sampled by a
psutil thread every 20 ms during the stage (the process keeps the memory allocators hold, so a
stage's peak includes what earlier stages left resident: that is what the machine has to hold).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import resource
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.profile import CATEGORY_COLUMNS, CATEGORY_SUMS
from dam_pipelines.lib.registry import FEEDS, get_feed

AFFILIATES = ("bank", "card", "securities", "life")
START = date(2026, 1, 1)
GROWTH_BASE_DAY = 10  # the growth ratio compares the last night with the night of day 10
MARKER = ".dam-bench"  # only a folder holding it is ever cleared
#: Issue 7's night: "all feeds of one business day, silver and gold, checks" (+ the audience,
#: a gold table). The night's erasure step is timed too but reported on its own
#: (``night_erasure_s``, ``night_with_erasures_s``): it only works on nights with requests and
#: its cost is that of the copy-on-write rewrite of the subjects' files (docs/performance.md).
NIGHT_STAGES = ("ingestion", "silver", "gold", "quality", "audience")
ERASURE_STAGE = "night_erasures"
#: --catch-up: the history between the measured nights is brought up this many days at a time
CATCH_UP_CHUNK_DAYS = 7


@dataclass
class Stage:
    wall_s: float = 0.0
    cpu_s: float = 0.0
    rows_in: int = 0
    rows_out: int = 0
    peak_rss_bytes: int = 0

    @property
    def rows_per_s(self) -> float:
        return self.rows_out / self.wall_s if self.wall_s > 0 else 0.0


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


@contextmanager
def measure(interval: float = 0.02) -> Iterator[Stage]:
    """Time the block: wall, CPU (self + children) and the peak RSS sampled every ``interval``."""
    import psutil

    proc = psutil.Process()
    st = Stage(peak_rss_bytes=proc.memory_info().rss)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            st.peak_rss_bytes = max(st.peak_rss_bytes, proc.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu0, t0 = _cpu(), time.perf_counter()
    try:
        yield st
    finally:
        st.wall_s = time.perf_counter() - t0
        st.cpu_s = _cpu() - cpu0
        done.set()
        sampler.join()
        st.peak_rss_bytes = max(st.peak_rss_bytes, proc.memory_info().rss)


def _rows(path: Path) -> int:
    lf = delta.scan(path)
    return 0 if lf is None else int(lf.select(pl.len()).collect().item())


def _night(settings: Any, d: date, run: str) -> dict[str, Stage]:
    """One night D through the library, stage by stage (what the nightly job runs)."""
    from dam_pipelines.lib.gold import card_category_trends, profile_inputs, write_gold
    from dam_pipelines.lib.governance import apply_night_rules, make_suppressor
    from dam_pipelines.lib.governance.erasure import scrub_gold
    from dam_pipelines.lib.governance.marketing import build_marketing_audience
    from dam_pipelines.lib.ingest import ingest_feeds
    from dam_pipelines.lib.profile import customer_profile
    from dam_pipelines.lib.quality.model import QualityConfig
    from dam_pipelines.lib.quality.runner import run_quality
    from dam_pipelines.lib.silver import build_silver

    wh, now, k = settings.warehouse_dir, datetime.now(UTC), settings.k_anonymity
    out: dict[str, Stage] = {}
    with measure() as st:
        reports = ingest_feeds(
            settings, FEEDS, d.isoformat(), run_id=run, now=now, suppress=make_suppressor(settings)
        )
        st.rows_in = sum(o.rows_read or 0 for r in reports.values() for o in r.outcomes)
        st.rows_out = sum(r.rows_loaded for r in reports.values())
    out["ingestion"] = st
    with measure() as st:
        er, expired = apply_night_rules(settings, d, run_id=run, now=now)
        st.rows_out = er.rows_deleted + (expired.rows_deleted if expired else 0)
    out["night_erasures"] = st
    with measure() as st:
        res = build_silver(wh, d)
        st.rows_in = out["ingestion"].rows_out
        st.rows_out = sum(r.rows for r in res.values())
    out["silver"] = st
    with measure() as st:
        t0 = time.perf_counter()
        profile = customer_profile(profile_inputs(wh, d), d).collect(engine="streaming").rechunk()
        st.profile_s = time.perf_counter() - t0  # type: ignore[attr-defined]
        trends = card_category_trends(wh, profile.select("gcid", "age_band"), d, k=k)
        write_gold(wh, d, profile, trends, k=k)
        st.rows_in = out["silver"].rows_out
        st.rows_out = profile.height + trends.height
        del profile, trends
    out["gold"] = st
    with measure() as st:
        outcomes = run_quality(wh, d, config=QualityConfig(k_anonymity=k), run_id=run, now=now)
        st.rows_in = out["silver"].rows_out + out["gold"].rows_out
        st.rows_out = len(outcomes)
    out["quality"] = st
    with measure() as st:
        aud = build_marketing_audience(wh, d)
        scrub_gold(settings, d)
        st.rows_in, st.rows_out = out["gold"].rows_out, aud.rows
    out["audience"] = st
    return out


def _catch_up(settings: Any, d: date, run: str, *, gold: bool = False) -> Stage:
    """Bring the history up to D without timing it night by night: ingest every batch dated
    up to D, apply the erasures and the event expiry effective up to D, build silver as of D
    (what a backfill does; the checks of the skipped nights are not needed by later nights).
    With ``gold``, gold is built as of D too, as the night of D would have: the night after it
    then finds the trend cells it would find in production (``lib/trend_cells``)."""
    from dam_pipelines.lib.gold import build_gold
    from dam_pipelines.lib.governance import apply_night_rules, make_suppressor
    from dam_pipelines.lib.ingest import ingest_feeds
    from dam_pipelines.lib.silver import build_silver

    now = datetime.now(UTC)
    with measure() as st:
        reports = ingest_feeds(
            settings, FEEDS, d.isoformat(), run_id=run, now=now, suppress=make_suppressor(settings)
        )
        st.rows_in = st.rows_out = sum(r.rows_loaded for r in reports.values())
        apply_night_rules(settings, d, run_id=run, now=now)
        build_silver(settings.warehouse_dir, d)
        if gold:
            build_gold(settings.warehouse_dir, d, k=settings.k_anonymity, refresh_silver=False)
    return st


def _night_child(work_dir: str, warehouse: str | None, day: str, run: str, conn: Any) -> None:
    try:
        settings = _settings(Path(work_dir), warehouse=Path(warehouse) if warehouse else None)
        conn.send(("ok", _night(settings, date.fromisoformat(day), run)))
    except BaseException:
        conn.send(("failed", traceback.format_exc()))
    finally:
        conn.close()


def night_in_fresh_process(
    work_dir: Path, d: date, run: str, *, warehouse: Path | None = None
) -> dict[str, Stage]:
    """:func:`_night` in a new process, as the nightly Dagster run is (its run worker starts
    afresh every night): the night's figures are its own, imports included, and its peak RSS
    is not what earlier nights or the catch-up left in this process's allocators."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_night_child,
        args=(str(work_dir), str(warehouse) if warehouse else None, d.isoformat(), run, send),
    )
    child.start()
    send.close()
    try:
        status, payload = receive.recv()
    except EOFError:
        status, payload = "died", f"exit code {child.exitcode}"
    child.join()
    if status != "ok":
        raise RuntimeError(f"night {d} failed in its own process: {payload}")
    return payload


def settle_disk() -> float:
    """Write out what earlier stages left in the page cache (``os.sync``), untimed; returns
    the seconds it took.

    A catch-up writes about 7 GB at a million customers; a production night starts hours
    after the last one ended, so every timed night, the erasure and the purge start with
    nothing of an earlier stage left to write; the writes of the stage itself stay in its time.
    (Measured at ``30bcdf8``: 0.28 s before night 10, 0.13 s before night 90, so little was
    pending; it does not explain why ``a694963``'s night 10 was slow, docs/performance.md.)
    """
    t0 = time.perf_counter()
    os.sync()
    return time.perf_counter() - t0


def _night_sums(stages: dict[str, Stage], names: tuple[str, ...]) -> tuple[float, float]:
    return sum(stages[k].wall_s for k in names), sum(stages[k].cpu_s for k in names)


def measured_days(days: int, catch_up: bool) -> list[int]:
    """The 1-based days run as full, timed nights (all of them unless ``catch_up``)."""
    if not catch_up:
        return list(range(1, days + 1))
    return sorted({d for d in (GROWTH_BASE_DAY, days) if 1 <= d <= days})


# --- the engine floor and the naive peer, over the same silver tables --------------------------

#: The card part of the floor from the same silver table the profile reads: the window sums
#: ``silver/card/window_spend`` (what the published profile costs over the same inputs), one
#: row per customer with the category sums in columns, unpivoted for the category metrics.
_CARD_FROM_WINDOW = (
    """card AS (SELECT c.gcid, sum(spend_30d) s30, sum(spend_90d) s90,
    sum(purchase_count_90d) pc, sum(cash_advance_90d) ca, sum(overseas_purchase_90d) ov,
    sum(purchase_amount_90d) pa
  FROM win w JOIN c_card c USING (customer_no) GROUP BY 1),
catnet AS (SELECT c.gcid, u.category, sum(u.net) net
  FROM ("""
    + "\n    UNION ALL ".join(
        f"SELECT customer_no, '{cat}' category, {net} net, {events} ev FROM win"
        for cat, (net, events) in CATEGORY_COLUMNS.items()
    )
    + """) u JOIN c_card c USING (customer_no)
  WHERE u.ev > 0 GROUP BY ALL),
"""
)

#: The card part from 90 days of transactions: what computing the window from scratch costs
#: (the window's first build, or a night after a correction).
_CARD_FROM_TRANSACTIONS = """tc AS (SELECT t.txn_type, t.amount, t.is_overseas, t.merchant_id, t.event_date, c.gcid
  FROM txn t JOIN c_card c USING (customer_no)
  WHERE t.event_date BETWEEN $day - 89 AND $day),
card AS (SELECT gcid,
    sum(CASE WHEN txn_type = 'PURCHASE' THEN amount WHEN txn_type = 'CANCEL' THEN -amount ELSE 0 END)
      FILTER (WHERE event_date >= $day - 29) s30,
    sum(CASE WHEN txn_type = 'PURCHASE' THEN amount WHEN txn_type = 'CANCEL' THEN -amount ELSE 0 END) s90,
    count(*) FILTER (WHERE txn_type = 'PURCHASE') pc,
    sum(amount) FILTER (WHERE txn_type = 'CASH_ADVANCE') ca,
    sum(amount) FILTER (WHERE txn_type = 'PURCHASE' AND is_overseas) ov,
    sum(amount) FILTER (WHERE txn_type = 'PURCHASE') pa
  FROM tc GROUP BY gcid),
catnet AS (SELECT gcid, m.category,
    sum(CASE WHEN txn_type = 'PURCHASE' THEN amount ELSE -amount END) net
  FROM tc JOIN merch m USING (merchant_id) WHERE txn_type IN ('PURCHASE', 'CANCEL') GROUP BY ALL),
"""

#: The profile columns of contract §6, written once as one DuckDB query over silver as of $day
#: (silver is already "as of D": latest master rows, latest snapshot, deduplicated events).
FLOOR_SQL = """
WITH cust AS (
  SELECT 'bank' aff, 1 r, customer_no, gcid, birth_date, gender, sido_code, status,
         marketing_consent, risk_grade, updated_at FROM c_bank
  UNION ALL SELECT 'card', 2, customer_no, gcid, birth_date, gender, sido_code, status,
         marketing_consent, risk_grade, updated_at FROM c_card
  UNION ALL SELECT 'securities', 3, customer_no, gcid, birth_date, gender, sido_code, status,
         marketing_consent, risk_grade, updated_at FROM c_securities
  UNION ALL SELECT 'life', 4, customer_no, gcid, birth_date, gender, sido_code, status,
         marketing_consent, risk_grade, updated_at FROM c_life),
demo AS (SELECT gcid, birth_date, gender, sido_code FROM cust
  QUALIFY row_number() OVER (PARTITION BY gcid ORDER BY updated_at DESC, r) = 1),
rel AS (SELECT gcid,
    arg_max(status, updated_at) FILTER (WHERE aff = 'bank') bank_status,
    arg_max(status, updated_at) FILTER (WHERE aff = 'card') card_status,
    arg_max(status, updated_at) FILTER (WHERE aff = 'securities') securities_status,
    arg_max(status, updated_at) FILTER (WHERE aff = 'life') life_status,
    count(*) FILTER (WHERE status <> 'CLOSED') active,
    count(*) FILTER (WHERE status <> 'CLOSED') > 0
      AND count(*) FILTER (WHERE status <> 'CLOSED' AND NOT coalesce(marketing_consent, false)) = 0
      consent,
    arg_max(risk_grade, updated_at) FILTER (WHERE aff = 'securities') risk_grade
  FROM cust GROUP BY gcid),
$card_ctes
top AS (SELECT gcid, category FROM catnet WHERE net > 0
  QUALIFY row_number() OVER (PARTITION BY gcid ORDER BY net DESC, category) = 1),
edu AS (SELECT gcid, net edu_net FROM catnet WHERE category = 'EDUCATION'),
bank AS (SELECT c.gcid, sum(balance) bal, count(*) n FROM dep d JOIN c_bank c USING (customer_no)
  WHERE d.status IN ('ACTIVE', 'DORMANT') GROUP BY 1),
ln AS (SELECT c.gcid, sum(outstanding_balance) o, max(days_past_due) dpd,
    bool_or(loan_type IN ('MORTGAGE', 'JEONSE')) housing
  FROM loan l JOIN c_bank c USING (customer_no)
  WHERE l.status IN ('NORMAL', 'DELINQUENT', 'DEFAULTED') GROUP BY 1),
hv AS (SELECT c.gcid, sum(market_value) mv FROM hold h JOIN c_securities c USING (customer_no)
  GROUP BY 1),
tv AS (SELECT c.gcid, count(*) n, sum(amount) a FROM trade tr JOIN c_securities c USING (customer_no)
  WHERE event_date BETWEEN $day - 89 AND $day GROUP BY 1),
pv AS (SELECT c.gcid, count(*) FILTER (WHERE p.status = 'ACTIVE') act,
    sum(monthly_premium) FILTER (WHERE p.status = 'ACTIVE') mp,
    sum(sum_assured) FILTER (WHERE p.status = 'ACTIVE') sa,
    count(*) FILTER (WHERE p.status = 'LAPSED') lapsed,
    sum(surrender_value) FILTER (WHERE p.status = 'ACTIVE') sv,
    bool_or(p.status = 'ACTIVE' AND p.product_type = 'ANNUITY') annuity
  FROM pol p JOIN c_life c USING (customer_no) GROUP BY 1),
fv AS (SELECT c.gcid, count(*) FILTER (WHERE result = 'FAILED') f
  FROM prem pp JOIN c_life c USING (customer_no)
  WHERE event_date BETWEEN $day - 89 AND $day GROUP BY 1),
p AS (SELECT gcid, $day as_of_date,
  year($day) - year(birth_date)
    - CASE WHEN month(birth_date) * 100 + day(birth_date) > month($day) * 100 + day($day)
      THEN 1 ELSE 0 END age,
  gender, sido_code, bank_status, card_status, securities_status, life_status,
  active active_affiliate_count, consent marketing_consent,
  CASE WHEN card_status IS NOT NULL THEN coalesce(s30, 0) END card_spend_30d,
  CASE WHEN card_status IS NOT NULL THEN coalesce(s90, 0) END card_spend_90d,
  CASE WHEN card_status IS NOT NULL THEN coalesce(pc, 0) END card_purchase_count_90d,
  CASE WHEN card_status IS NOT NULL THEN coalesce(ca, 0) END card_cash_advance_90d,
  CASE WHEN coalesce(pa, 0) > 0 THEN coalesce(ov, 0)::DOUBLE / pa END card_overseas_share_90d,
  top.category card_top_category_90d,
  CASE WHEN bank_status IS NOT NULL THEN coalesce(bal, 0) END deposit_balance,
  CASE WHEN bank_status IS NOT NULL THEN coalesce(bank.n, 0) END deposit_account_count,
  CASE WHEN bank_status IS NOT NULL THEN coalesce(o, 0) END loan_outstanding,
  CASE WHEN bank_status IS NOT NULL THEN coalesce(dpd, 0) END loan_max_days_past_due,
  CASE WHEN securities_status IS NOT NULL THEN coalesce(mv, 0) END securities_market_value,
  CASE WHEN securities_status IS NOT NULL THEN coalesce(tv.n, 0) END securities_trade_count_90d,
  CASE WHEN securities_status IS NOT NULL THEN coalesce(tv.a, 0) END securities_trade_amount_90d,
  rel.risk_grade,
  CASE WHEN life_status IS NOT NULL THEN coalesce(act, 0) END insurance_active_policy_count,
  CASE WHEN life_status IS NOT NULL THEN coalesce(mp, 0) END insurance_monthly_premium,
  CASE WHEN life_status IS NOT NULL THEN coalesce(sa, 0) END insurance_sum_assured,
  CASE WHEN life_status IS NOT NULL THEN coalesce(lapsed, 0) END insurance_lapsed_policy_count,
  CASE WHEN life_status IS NOT NULL THEN coalesce(f, 0) END premium_failed_count_90d,
  coalesce(bal, 0) + coalesce(mv, 0) + coalesce(sv, 0) total_assets,
  coalesce(bal, 0) + coalesce(mv, 0) + coalesce(sv, 0) - coalesce(o, 0) net_assets,
  coalesce(housing, false) housing, coalesce(annuity, false) annuity, coalesce(edu_net, 0) edu
FROM demo JOIN rel USING (gcid) LEFT JOIN card USING (gcid) LEFT JOIN top USING (gcid)
LEFT JOIN edu USING (gcid) LEFT JOIN bank USING (gcid) LEFT JOIN ln USING (gcid)
LEFT JOIN hv USING (gcid) LEFT JOIN tv USING (gcid) LEFT JOIN pv USING (gcid)
LEFT JOIN fv USING (gcid))
SELECT * EXCLUDE (housing, annuity, edu),
  CASE WHEN age < 20 THEN '0-19' WHEN age >= 70 THEN '70+'
    ELSE (age // 10 * 10)::VARCHAR || '-' || (age // 10 * 10 + 9)::VARCHAR END age_band,
  CASE WHEN age < 20 THEN 'YOUTH' WHEN age >= 65 THEN 'RETIRED'
    WHEN age >= 50 OR (age >= 45 AND annuity) THEN 'PRE_RETIREMENT'
    WHEN age >= 30 AND edu > 0 THEN 'FAMILY_WITH_CHILDREN'
    WHEN housing THEN 'HOME_BUILDER' WHEN age < 35 THEN 'YOUNG_ADULT'
    ELSE 'ESTABLISHED' END life_stage
FROM p ORDER BY gcid
"""

_SILVER = {f"c_{a}": (a, "customers") for a in AFFILIATES} | {
    "merch": ("card", "merchants"),
    "txn": ("card", "transactions"),
    "win": ("card", "window_spend"),
    "dep": ("bank", "deposit_accounts"),
    "loan": ("bank", "loans"),
    "hold": ("securities", "holdings"),
    "trade": ("securities", "trades"),
    "pol": ("life", "policies"),
    "prem": ("life", "premium_payments"),
}
_EVENTS = {"txn", "trade", "prem"}


def profile_ratios(
    warehouse: Path,
    as_of: date,
    profile_s: float,
    gold_s: float,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The engine floor and the pandas peer on silver as of ``as_of``, against the profile's
    ``profile_s`` (and the whole gold stage's ``gold_s``). ``floor_s`` reads the tables the
    profile reads; ``floor_txn_s`` computes the card columns from 90 days of transactions
    instead, which is what the window sums spare the night."""
    with measure() as st_floor:
        rows = floor_profile(warehouse, as_of).height
    with measure() as st_txn:
        floor_profile(warehouse, as_of, card="transactions")
    with measure() as st_pd:
        pandas_profile(warehouse, as_of)
    out(
        f"profile: polars {profile_s:.2f} s, duckdb floor {st_floor.wall_s:.2f} s "
        f"({rows:,} rows; {st_txn.wall_s:.2f} s from the transactions), "
        f"pandas {st_pd.wall_s:.2f} s"
    )
    return {
        "profile_s": profile_s,
        "floor_s": st_floor.wall_s,
        "floor_peak_rss_bytes": st_floor.peak_rss_bytes,
        "floor_ratio": profile_s / st_floor.wall_s if st_floor.wall_s else None,
        "gold_floor_ratio": gold_s / st_floor.wall_s if st_floor.wall_s else None,
        "floor_txn_s": st_txn.wall_s,
        "floor_txn_peak_rss_bytes": st_txn.peak_rss_bytes,
        "pandas_s": st_pd.wall_s,
        "pandas_peak_rss_bytes": st_pd.peak_rss_bytes,
        "pandas_ratio": st_pd.wall_s / profile_s if profile_s else None,
    }


def floor_profile(warehouse: Path, as_of: date, *, card: str = "window") -> pl.DataFrame:
    """The profile as one DuckDB query over the silver Delta tables (pyarrow datasets, so
    DuckDB prunes event-date partitions and pushes projections itself). ``card``: the card
    columns from ``window`` (``silver/card/window_spend``, the inputs of the published
    profile) or from ``transactions`` (90 days of them, as if there were no window sums)."""
    import duckdb
    from deltalake import DeltaTable

    ctes = {"window": _CARD_FROM_WINDOW, "transactions": _CARD_FROM_TRANSACTIONS}[card]
    con = duckdb.connect()
    for name, (aff, feed) in _SILVER.items():
        con.register(name, DeltaTable(str(warehouse / "silver" / aff / feed)).to_pyarrow_dataset())
    return con.execute(FLOOR_SQL.replace("$card_ctes", ctes), {"day": as_of}).pl()


def pandas_profile(warehouse: Path, as_of: date):  # -> pandas.DataFrame
    """The profile written the way a pandas user would: read each silver table the published
    profile reads (the card window sums included), merge, groupby."""
    import pandas as pd
    from deltalake import DeltaTable

    def read(aff: str, feed: str, cols: list[str]) -> pd.DataFrame:
        return DeltaTable(str(warehouse / "silver" / aff / feed)).to_pandas(columns=cols)

    day = pd.Timestamp(as_of)
    ccols = [
        "customer_no",
        "gcid",
        "birth_date",
        "gender",
        "sido_code",
        "status",
        "marketing_consent",
        "risk_grade",
        "updated_at",
    ]
    custs = {a: read(a, "customers", ccols).assign(aff=a, r=i) for i, a in enumerate(AFFILIATES)}
    cust = pd.concat(custs.values(), ignore_index=True)
    demo = cust.sort_values(["updated_at", "r"], ascending=[False, True]).drop_duplicates("gcid")[
        ["gcid", "birth_date", "gender", "sido_code"]
    ]
    latest = cust.sort_values("updated_at").drop_duplicates(["gcid", "aff"], keep="last")
    rel = latest.pivot(index="gcid", columns="aff", values="status")
    rel = rel.reindex(columns=list(AFFILIATES)).add_suffix("_status")
    open_ = cust[cust["status"] != "CLOSED"]
    rel["active_affiliate_count"] = open_.groupby("gcid").size().reindex(rel.index).fillna(0)
    no = open_[~open_["marketing_consent"].fillna(False).astype(bool)].groupby("gcid").size()
    rel["marketing_consent"] = (rel["active_affiliate_count"] > 0) & ~rel.index.isin(no.index)
    sec = latest[latest["aff"] == "securities"].set_index("gcid")["risk_grade"]
    rel["risk_grade"] = sec.reindex(rel.index)
    out = demo.set_index("gcid").join(rel, how="inner")
    bd = pd.to_datetime(out["birth_date"])
    out["age"] = (
        day.year
        - bd.dt.year
        - ((bd.dt.month * 100 + bd.dt.day) > (day.month * 100 + day.day)).astype(int)
    )

    def gmap(aff: str) -> pd.DataFrame:
        return custs[aff][["customer_no", "gcid"]]

    lo = pd.Timestamp(as_of - timedelta(days=89))
    sums = {
        "spend_30d": "s30",
        "spend_90d": "signed",
        "purchase_count_90d": "pc",
        "cash_advance_90d": "ca",
        "purchase_amount_90d": "pa",
        "overseas_purchase_90d": "ov",
    }
    w = read("card", "window_spend", ["customer_no", *sums, *CATEGORY_SUMS.names()])
    w = w.rename(columns=sums).merge(gmap("card"), on="customer_no")
    card = w.groupby("gcid")[list(sums.values())].sum()
    cn = pd.concat(
        [
            w.loc[w[ev] > 0, ["gcid", spend]].rename(columns={spend: "signed"}).assign(category=cat)
            for cat, (spend, ev) in CATEGORY_COLUMNS.items()
        ],
        ignore_index=True,
    )
    net = cn.groupby(["gcid", "category"], as_index=False)["signed"].sum()
    top = (
        net[net["signed"] > 0]
        .sort_values(["signed", "category"], ascending=[False, True])
        .drop_duplicates("gcid")
        .set_index("gcid")["category"]
    )
    edu = net[net["category"] == "EDUCATION"].set_index("gcid")["signed"]
    dep = read("bank", "deposit_accounts", ["customer_no", "status", "balance"])
    dep = dep[dep["status"].isin(["ACTIVE", "DORMANT"])].merge(gmap("bank"), on="customer_no")
    bank = dep.groupby("gcid")["balance"].agg(["sum", "size"])
    ln = read(
        "bank",
        "loans",
        ["customer_no", "status", "outstanding_balance", "days_past_due", "loan_type"],
    )
    ln = ln[ln["status"].isin(["NORMAL", "DELINQUENT", "DEFAULTED"])].merge(
        gmap("bank"), on="customer_no"
    )
    ln["housing"] = ln["loan_type"].isin(["MORTGAGE", "JEONSE"])
    loans = ln.groupby("gcid").agg(
        o=("outstanding_balance", "sum"), dpd=("days_past_due", "max"), housing=("housing", "any")
    )
    h = (
        read("securities", "holdings", ["customer_no", "market_value"])
        .merge(gmap("securities"), on="customer_no")
        .groupby("gcid")["market_value"]
        .sum()
    )
    tr = read("securities", "trades", ["customer_no", "amount", "event_date"])
    tr["event_date"] = pd.to_datetime(tr["event_date"])
    tr = tr[(tr["event_date"] >= lo) & (tr["event_date"] <= day)].merge(
        gmap("securities"), on="customer_no"
    )
    trades = tr.groupby("gcid")["amount"].agg(["size", "sum"])
    pol = read(
        "life",
        "policies",
        [
            "customer_no",
            "status",
            "product_type",
            "monthly_premium",
            "sum_assured",
            "surrender_value",
        ],
    ).merge(gmap("life"), on="customer_no")
    act = pol[pol["status"] == "ACTIVE"]
    pols = act.groupby("gcid").agg(
        act=("status", "size"),
        mp=("monthly_premium", "sum"),
        sa=("sum_assured", "sum"),
        sv=("surrender_value", "sum"),
    )
    pols["annuity"] = (
        act[act["product_type"] == "ANNUITY"].groupby("gcid").size().reindex(pols.index) > 0
    )
    lapsed = pol[pol["status"] == "LAPSED"].groupby("gcid").size()
    pp = read("life", "premium_payments", ["customer_no", "result", "event_date"])
    pp["event_date"] = pd.to_datetime(pp["event_date"])
    pp = pp[(pp["event_date"] >= lo) & (pp["event_date"] <= day)].merge(
        gmap("life"), on="customer_no"
    )
    failed = pp[pp["result"] == "FAILED"].groupby("gcid").size()

    def put(col: str, s: pd.Series, when: str | None) -> None:
        v = s.reindex(out.index)
        out[col] = v.fillna(0).where(out[when].notna()) if when else v

    for col, s in {
        "card_spend_30d": card["s30"],
        "card_spend_90d": card["signed"],
        "card_purchase_count_90d": card["pc"],
        "card_cash_advance_90d": card["ca"],
    }.items():
        put(col, s, "card_status")
    pa = card["pa"].reindex(out.index).fillna(0)
    out["card_overseas_share_90d"] = (card["ov"].reindex(out.index).fillna(0) / pa).where(pa > 0)
    put("card_top_category_90d", top, None)
    put("deposit_balance", bank["sum"], "bank_status")
    put("deposit_account_count", bank["size"], "bank_status")
    put("loan_outstanding", loans["o"], "bank_status")
    put("loan_max_days_past_due", loans["dpd"], "bank_status")
    put("securities_market_value", h, "securities_status")
    put("securities_trade_count_90d", trades["size"], "securities_status")
    put("securities_trade_amount_90d", trades["sum"], "securities_status")
    put("insurance_active_policy_count", pols["act"], "life_status")
    put("insurance_monthly_premium", pols["mp"], "life_status")
    put("insurance_sum_assured", pols["sa"], "life_status")
    put("insurance_lapsed_policy_count", lapsed, "life_status")
    put("premium_failed_count_90d", failed, "life_status")
    assets = (
        bank["sum"].reindex(out.index).fillna(0)
        + h.reindex(out.index).fillna(0)
        + pols["sv"].reindex(out.index).fillna(0)
    )
    out["total_assets"] = assets
    out["net_assets"] = assets - loans["o"].reindex(out.index).fillna(0)
    age = out["age"]
    out["age_band"] = (
        (age // 10 * 10).astype(int).astype(str)
        + "-"
        + (age // 10 * 10 + 9).astype(int).astype(str)
    )
    out.loc[age < 20, "age_band"] = "0-19"
    out.loc[age >= 70, "age_band"] = "70+"
    annuity = pols["annuity"].reindex(out.index).eq(True)
    housing = loans["housing"].reindex(out.index).eq(True)
    educ = edu.reindex(out.index).fillna(0) > 0
    stage = pd.Series("ESTABLISHED", index=out.index)
    for cond, label in reversed(
        [
            (age < 20, "YOUTH"),
            (age >= 65, "RETIRED"),
            ((age >= 50) | ((age >= 45) & annuity), "PRE_RETIREMENT"),
            ((age >= 30) & educ, "FAMILY_WITH_CHILDREN"),
            (housing, "HOME_BUILDER"),
            (age < 35, "YOUNG_ADULT"),
        ]
    ):
        stage = stage.mask(cond, label)
    out["life_stage"] = stage
    out["as_of_date"] = day
    return out.sort_index().reset_index()


# --- erasure planting --------------------------------------------------------------------------


def plant_erasures(settings: Any, d: date, count: int, seed: int) -> int:
    """Add ``count`` erasure requests (spread over the affiliates) to the erasure_requests
    batches of day ``d`` as a new revision that keeps the delivered requests. Returns the number
    planted (fewer when the population is smaller)."""
    import io

    from dam_pipelines.lib.generate.formats import DELIVERY
    from dam_pipelines.lib.landing import MANIFEST, batch_folder, write_batch

    rng = random.Random(seed)
    planted = 0
    for i, aff in enumerate(AFFILIATES):
        want = count // len(AFFILIATES) + (1 if i < count % len(AFFILIATES) else 0)
        custs = delta.scan(settings.warehouse_dir / "bronze" / aff / "customers")
        if custs is None or want == 0:
            continue
        nos = custs.select(pl.col("customer_no").unique().sort()).collect().to_series().to_list()
        chosen = rng.sample(nos, min(want, len(nos)))
        spec = DELIVERY[f"{aff}/erasure_requests"]
        folder = batch_folder(settings.landing_dir, aff, "erasure_requests", d.isoformat())
        old: list[pl.DataFrame] = []
        revision = 1
        if (folder / MANIFEST).exists():
            man = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            revision = int(man["revision"]) + 1
            for f in man["files"]:
                text = (folder / f["name"]).read_bytes().decode(man.get("encoding", "utf-8"))
                old.append(pl.read_csv(io.StringIO(text.lstrip("\ufeff")), infer_schema=False))
        at = f"{d.isoformat()}T{'11' if spec.offset == '+00:00' else '20'}:00:00{spec.offset}"
        new = pl.DataFrame(
            {
                "request_id": [f"BENCH-{aff}-{d:%Y%m%d}-{j:06d}" for j in range(len(chosen))],
                "customer_no": chosen,
                "requested_at": [at] * len(chosen),
            }
        )
        cols = get_feed(aff, "erasure_requests").column_names
        frame = pl.concat([o.select(cols) for o in old] + [new.select(cols)], how="vertical")
        write_batch(
            settings.landing_dir,
            aff,
            "erasure_requests",
            d.isoformat(),
            [frame],
            revision=revision,
            encoding=spec.encoding,
            bom=spec.bom,
            crlf=spec.crlf,
        )
        planted += len(chosen)
    return planted


# --- the benchmark -----------------------------------------------------------------------------


def _fmt_bytes(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'stage':<16}{'wall s':>9}{'cpu s':>9}{'rows in':>13}{'rows out':>13}{'rows/s':>13}{'peak RSS':>11}"
    ]
    for name, s in result["stages"].items():
        rps = s["rows_out"] / s["wall_s"] if s["wall_s"] > 0 else 0
        lines.append(
            f"{name:<16}{s['wall_s']:>9.2f}{s['cpu_s']:>9.2f}{s['rows_in']:>13,}{s['rows_out']:>13,}"
            f"{rps:>13,.0f}{_fmt_bytes(s['peak_rss_bytes']):>11}"
        )
    return "\n".join(lines)


def summary_line(r: dict[str, Any]) -> str:
    def f(v: float | None, spec: str = ".2f") -> str:
        return "n/a" if v is None else format(v, spec)

    return (
        f"bench {r['customers']:,} customers x {r['days']} days: night {f(r['night_s'])} s "
        f"(+ erasures {f(r.get('night_erasure_s'))} s), "
        f"peak {_fmt_bytes(r['night_peak_rss_bytes'])}, growth x{f(r['growth_ratio'])}, "
        f"floor x{f(r['floor_ratio'])}, pandas x{f(r['pandas_ratio'])}, "
        f"ingest {f(r['ingest_rows_per_s'], ',.0f')} rows/s, erasure {f(r['erasure_s'])} s"
    )


def _fresh_work_dir(work_dir: Path) -> Path:
    """``work_dir`` emptied (only if a bench created it: it holds :data:`MARKER`) and marked."""
    work_dir = Path(work_dir).resolve()
    if work_dir.exists() and any(work_dir.iterdir()):
        if not (work_dir / MARKER).exists():
            raise ValueError(
                f"{work_dir} is not empty and not a bench work dir: refusing to clear it"
            )
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / MARKER).touch()
    return work_dir


def _settings(work_dir: Path, warehouse: Path | None = None) -> Any:
    """Settings confined to ``work_dir`` (never the configured landing zone or warehouse)."""
    from dam_pipelines.settings import load_settings

    return load_settings(
        env={
            "DAM_ENV": "dev",
            "DAM_LANDING_DIR": str(work_dir / "landing"),
            "DAM_WAREHOUSE_DIR": str(warehouse or work_dir / "warehouse"),
            "DAM_PSEUDONYM_KEY": "bench-pseudonym-key-not-a-secret",
            "DAM_DAGSTER_HOME": str(work_dir / "dagster"),
        }
    )


def _generate(
    settings: Any,
    customers: int,
    days: int,
    seed: int,
    daily_erasures: bool,
    out: Callable[[str], None],
) -> Stage:
    """Generate the landing zone (timed; ``rows_out`` is the rows generated)."""
    from dam_pipelines.lib.generate import generate_landing

    with measure() as st:
        gen = generate_landing(
            settings.landing_dir,
            customers=customers,
            days=days,
            start=START,
            seed=seed,
            erasure_requests=daily_erasures,
        )
        st.rows_in, st.rows_out = customers, gen.rows
    out(f"generated {gen.rows:,} rows in {gen.batches} batches: {st.wall_s:.1f} s")
    return st


def _catch_up_days(
    settings: Any, done: int, upto: int, out: Callable[[str], None]
) -> Iterator[dict[str, Any]]:
    """Bring days ``done + 1 .. upto`` up a week at a time (gold built on the last); one
    record per chunk."""
    while done < upto:
        last = min(done + CATCH_UP_CHUNK_DAYS, upto)
        d = START + timedelta(days=last - 1)
        cu = _catch_up(settings, d, f"bench-catch-up-{d.isoformat()}", gold=last == upto)
        out(f"caught up days {done + 1}..{last}: {cu.rows_out:,} rows, {cu.wall_s:.1f} s")
        yield {
            "day": last,
            "date": d.isoformat(),
            "kind": "catch_up",
            "from_day": done + 1,
            "wall_s": cu.wall_s,
            "cpu_s": cu.cpu_s,
            "peak_rss_bytes": cu.peak_rss_bytes,
            "rows_ingested": cu.rows_out,
        }
        done = last


def _night_record(n: int, d: date, stages: dict[str, Stage]) -> dict[str, Any]:
    """A timed night: issue 7's stages summed, the erasure step beside them, the peak of all."""
    wall, cpu = _night_sums(stages, NIGHT_STAGES)
    return {
        "day": n,
        "date": d.isoformat(),
        "kind": "night",
        "wall_s": wall,
        "cpu_s": cpu,
        "erasure_s": stages[ERASURE_STAGE].wall_s,
        "with_erasures_s": wall + stages[ERASURE_STAGE].wall_s,
        "peak_rss_bytes": max(s.peak_rss_bytes for s in stages.values()),
        "rows_ingested": stages["ingestion"].rows_out,
        "stages_s": {k: round(s.wall_s, 3) for k, s in stages.items()},
        "stages_cpu_s": {k: round(s.cpu_s, 3) for k, s in stages.items()},
    }


def _stage_fields(stages: dict[str, Stage]) -> dict[str, dict[str, Any]]:
    return {
        k: {f: getattr(s, f) for f in ("wall_s", "cpu_s", "rows_in", "rows_out", "peak_rss_bytes")}
        for k, s in stages.items()
    }


def run_bench(
    customers: int,
    days: int,
    *,
    seed: int = 42,
    work_dir: Path,
    json_path: Path | None = None,
    erasures: int = 1000,
    keep: bool = False,
    catch_up: bool = False,
    daily_erasures: bool = True,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate ``days`` of feeds for ``customers`` people under ``work_dir``, run every night
    through the library, then the ratios, an erasure of ``erasures`` customers and a purge.

    With ``catch_up`` only the nights of day 10 and of the last day run (and are timed) in
    full; the history before each is brought up in chunks of :data:`CATCH_UP_CHUNK_DAYS` days
    (ingestion, erasures, silver), which makes a 90-day history at 1M customers affordable.
    Without ``daily_erasures`` the generator delivers no erasure requests (the erasure of
    ``erasures`` customers at the end is still measured).

    Returns (and writes to ``json_path``) the figures: ``stages`` are those of the last night
    plus generation, erasure and purge; see docs/performance.md.
    """
    from dam_pipelines.lib.governance import make_suppressor
    from dam_pipelines.lib.governance.erasure import apply_erasures
    from dam_pipelines.lib.governance.retention import run_purge
    from dam_pipelines.lib.ingest import ingest_feeds

    work_dir = _fresh_work_dir(work_dir)
    settings = _settings(work_dir)
    load_before = os.getloadavg()
    stages: dict[str, Stage] = {
        "generation": _generate(settings, customers, days, seed, daily_erasures, out)
    }

    nights: list[dict[str, Any]] = []
    last: dict[str, Stage] = {}
    done = 0  # days brought up so far
    for n in measured_days(days, catch_up):
        nights += _catch_up_days(settings, done, n - 1, out)
        d = START + timedelta(days=n - 1)
        settle_s = settle_disk()
        last = night_in_fresh_process(work_dir, d, f"bench-{d.isoformat()}")
        nights.append({**_night_record(n, d, last), "settle_s": round(settle_s, 2)})
        out(
            f"night {n:>3} {d}: {nights[-1]['wall_s']:6.2f} s "
            f"(+ erasures {last[ERASURE_STAGE].wall_s:.2f})  "
            + "  ".join(f"{k} {s.wall_s:.2f}" for k, s in last.items())
        )
        done = n
        if json_path:  # progress survives an interrupted run
            Path(json_path).write_text(
                json.dumps(
                    {"partial": True, "customers": customers, "days": days, "nights": nights},
                    indent=2,
                    default=str,
                ),
                encoding="utf-8",
            )
    stages.update(last)
    d_last = START + timedelta(days=days - 1)
    profile_s = getattr(last["gold"], "profile_s", last["gold"].wall_s)

    ratios = profile_ratios(settings.warehouse_dir, d_last, profile_s, last["gold"].wall_s, out)

    n_erase = 0
    with measure() as st:
        n_erase = plant_erasures(settings, d_last, erasures, seed)
    plant_s = st.wall_s
    settle_disk()
    with measure() as st:
        erasure_feeds = [get_feed(a, "erasure_requests") for a in AFFILIATES]
        ingest_feeds(
            settings,
            erasure_feeds,
            d_last.isoformat(),
            run_id="bench-erasure",
            now=datetime.now(UTC),
            # As the nightly job does: requests of customers already erased are not reloaded.
            suppress=make_suppressor(settings),
        )
        rep = apply_erasures(settings, d_last, run_id="bench-erasure", now=datetime.now(UTC))
        st.rows_in, st.rows_out = n_erase, rep.rows_deleted
    stages["erasure"] = st
    touched = {k: asdict(c) for k, c in rep.changes.items() if c.rows_deleted}
    out(
        f"erasure of {rep.subjects} customers ({n_erase} planted, {plant_s:.1f} s to plant): "
        f"{st.wall_s:.2f} s, {rep.rows_deleted:,} rows deleted, verified={rep.verified}"
    )

    settle_disk()
    with measure() as st:
        pr = run_purge(settings, d_last, run_id="bench-purge", now=datetime.now(UTC))
        st.rows_out = sum(c.rows_deleted for c in pr.changes.values())
    stages["purge"] = st
    out(f"purge: {st.wall_s:.2f} s, verified={pr.verified}")

    full = {n["day"]: n for n in nights if n["kind"] == "night"}
    base = full.get(GROWTH_BASE_DAY) if days > GROWTH_BASE_DAY else None
    final = full[days]
    ing = stages["ingestion"]
    result: dict[str, Any] = {
        "customers": customers,
        "days": days,
        "seed": seed,
        "as_of": d_last.isoformat(),
        "machine": _machine(),
        "stages": _stage_fields(stages),
        "catch_up": catch_up,
        "daily_erasures": daily_erasures,
        "night_stages": list(NIGHT_STAGES),
        "night_s": final["wall_s"],
        "night_cpu_s": final["cpu_s"],
        "night_peak_rss_bytes": final["peak_rss_bytes"],
        "night_erasure_s": final["erasure_s"],
        "night_with_erasures_s": final["with_erasures_s"],
        "growth_ratio": (final["wall_s"] / base["wall_s"]) if base else None,
        "growth_base_day": GROWTH_BASE_DAY if base else None,
        # CPU seconds are far less sensitive than wall time to other load on a shared machine.
        "growth_ratio_cpu": (final["cpu_s"] / base["cpu_s"]) if base else None,
        "growth_ratio_with_erasures": (final["with_erasures_s"] / base["with_erasures_s"])
        if base
        else None,
        **ratios,
        "ingest_rows_per_s": ing.rows_out / ing.wall_s if ing.wall_s else None,
        "erasure_s": stages["erasure"].wall_s,
        "erasure_customers": rep.subjects,
        "erasure_verified": rep.verified,
        "erasure_tables": touched,
        "purge_verified": pr.verified,
        # The machine may be shared: a load above the core count inflates wall times.
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "nights": nights,
    }
    out(table(result))
    out(summary_line(result))
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    if not keep:
        shutil.rmtree(work_dir, ignore_errors=True)
    return result


def _machine() -> dict[str, Any]:
    import platform
    import sys

    import deltalake
    import duckdb
    import pandas
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "polars": pl.__version__,
        "deltalake": deltalake.__version__,
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
    }


# --- a prepared warehouse: night N timed again and again ----------------------------------------

PREPARED = "prepared.json"


def prepare_warehouse(
    customers: int,
    days: int,
    *,
    seed: int = 42,
    work_dir: Path,
    daily_erasures: bool = True,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate ``days`` of feeds and bring the history up to the day before the last, a week
    at a time as ``--catch-up`` does, then keep it under ``work_dir``. Night ``days`` can then
    be timed on it as often as needed (:func:`time_prepared_night`), for example before and
    after a change, without generating and catching up again."""
    work_dir = _fresh_work_dir(work_dir)
    settings = _settings(work_dir)
    gen = _generate(settings, customers, days, seed, daily_erasures, out)
    chunks = list(_catch_up_days(settings, 0, days - 1, out))
    meta = {
        "customers": customers,
        "days": days,
        "seed": seed,
        "daily_erasures": daily_erasures,
        "prepared_as_of": (START + timedelta(days=days - 2)).isoformat(),
        "night": (START + timedelta(days=days - 1)).isoformat(),
        "generation_s": gen.wall_s,
        "generated_rows": gen.rows_out,
        "catch_up_s": sum(c["wall_s"] for c in chunks),
    }
    (work_dir / PREPARED).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def _link_copy(src: Path, dst: Path) -> None:
    """A copy of a warehouse whose data files are hard links: Delta never rewrites a data
    file in place, so the copy's night cannot change the original. Everything else (logs,
    state, locks) is copied."""

    def link_or_copy(a: str, b: str) -> None:
        if a.endswith(".parquet"):
            os.link(a, b)
        else:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link_or_copy)


def time_prepared_night(
    work_dir: Path,
    *,
    json_path: Path | None = None,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run and time the last night on a copy of the warehouse :func:`prepare_warehouse` kept
    (the kept one is left as it was). The gold stage's profile is timed apart (``profile_s``)."""
    work_dir = Path(work_dir).resolve()
    if not (work_dir / PREPARED).exists():
        raise ValueError(f"{work_dir} holds no prepared warehouse ({PREPARED} is missing)")
    meta = json.loads((work_dir / PREPARED).read_text(encoding="utf-8"))
    run = work_dir / "runs" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    _link_copy(work_dir / "warehouse", run)
    try:
        night = date.fromisoformat(meta["night"])
        settle_disk()  # the copy's links and any earlier run's writes
        stages = night_in_fresh_process(
            work_dir, night, f"bench-{night.isoformat()}", warehouse=run
        )
        gold = stages["gold"]
        ratios = profile_ratios(
            run, night, getattr(gold, "profile_s", gold.wall_s), gold.wall_s, out
        )
    finally:
        shutil.rmtree(run, ignore_errors=True)
    record = _night_record(meta["days"], night, stages)
    result: dict[str, Any] = {
        **meta,
        "machine": _machine(),
        "stages": _stage_fields(stages),
        "night_stages": list(NIGHT_STAGES),
        # the same definitions as run_bench's night figures
        "night_s": record["wall_s"],
        "night_cpu_s": record["cpu_s"],
        "night_peak_rss_bytes": record["peak_rss_bytes"],
        "night_erasure_s": record["erasure_s"],
        "night_with_erasures_s": record["with_erasures_s"],
        **ratios,
        "loadavg_after": os.getloadavg(),
    }
    out(table(result))
    out(
        f"night {night} on the prepared warehouse: {record['wall_s']:.2f} s "
        f"({record['cpu_s']:.2f} CPU s; erasure step {record['erasure_s']:.2f} s), "
        f"peak {_fmt_bytes(record['peak_rss_bytes'])} (erasure step included)"
    )
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return result
