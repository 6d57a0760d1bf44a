"""``silver/card/window_spend``: the card sums of the profile's 30- and 90-day windows as of D,
one row per customer_no (totals, and per merchant category as of D the net and its events:
:data:`~dam_pipelines.lib.profile.WIDE_SUMS`), carried forward night by night.

The profile's card columns are window sums over up to 90 days of transactions (43 M rows at
a million customers). Every sum of :func:`~dam_pipelines.lib.profile.card_window_sums` is
additive over rows, so the usual night moves the window instead of recomputing it:

    window(D) = window(P)
              - window sums as of P of the rows that changed category (old categories)
              + the same rows' sums as of P under the categories as of D
              - window sums as of P of the rows leaving the 90-day window (dated P-89..D-90)
              - spend_30d as of P of the rows leaving only the 30-day one (P-29..D-30, after D-90)
              + window sums as of D of the rows the transactions build appended tonight

where P is the night the table reflects. That is exact only when the transactions table
holds what it held at P plus tonight's appended rows, which is checked, not assumed: the
table's state records the transactions version it reflects, silver's append records the
version it started from, and an erasure that changes both tables re-derives its subjects'
rows and moves the recorded version on (:func:`follow`; the purge too). Anything else (a
correction, a removed stale copy, a full rebuild, a purge that deleted events the window
counts, a crash between writes) makes the night recompute the window from the transactions, as a first build does.
Both paths give the same table (``test_card_window``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.profile import (
    CATEGORY_EVENTS,
    WIDE_SUMS,
    WINDOW_SUMS,
    card_window_sums,
    widen,
    window,
)
from dam_pipelines.lib.silver import (
    WINDOW_SPEND,
    TableResult,
    read_state,
    state_path,
    write_state,
)

log = logging.getLogger("dam_pipelines")

TRANSACTIONS = "silver/card/transactions"
MERCHANTS = "silver/card/merchants"
KEY = ["customer_no"]
#: One row per customer: a tenth of the rows of one per (customer, category) at a million
#: customers (4.5 M), which silver moves, the profile reads and quality checks every night.
SCHEMA = pl.Schema({"customer_no": pl.Utf8(), **WIDE_SUMS, "first_business_date": pl.Date()})
#: PURCHASE/CANCEL event counts, which can never fall below zero
COUNTS = ["purchase_count_90d", "net_events_90d", "events_90d", *CATEGORY_EVENTS]
#: zstd-1, no dictionary on the (unique) customer number; no key in the log statistics.
WRITER = delta.bulk_writer(["customer_no"])
CONFIG = delta.table_config(["first_business_date"])


def categories(warehouse: Path) -> pl.DataFrame:
    """merchant_id -> category as of the silver merchants (sorted, for a stable digest)."""
    lf = delta.scan(warehouse / MERCHANTS)
    if lf is None:
        return pl.DataFrame(schema={"merchant_id": pl.Utf8, "category": pl.Utf8})
    return lf.select("merchant_id", "category").collect().sort("merchant_id")


def _digest(df: pl.DataFrame) -> str:
    h = hashlib.sha256()
    for mid, cat in df.iter_rows():
        h.update(f"{mid}\x1f{cat}\x1e".encode())
    return h.hexdigest()[:32]


def _categories_path(warehouse: Path) -> Path:
    """The categories the table was built with (merchants only, no person): beside its state."""
    return state_path(warehouse, WINDOW_SPEND).with_suffix(".categories.parquet")


def _save_categories(warehouse: Path, cats: pl.DataFrame) -> None:
    path = _categories_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    cats.write_parquet(tmp)
    os.replace(tmp, path)


def _saved_categories(warehouse: Path, digest: str) -> pl.DataFrame | None:
    path = _categories_path(warehouse)
    if not path.exists():
        return None
    cats = pl.read_parquet(path)
    return cats if _digest(cats) == digest else None


def _negated(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.with_columns(
        *[-pl.col(c) for c in WINDOW_SUMS.names()],
        pl.lit(None, pl.Date).alias("first_business_date"),
    )


def _combine(table: pl.LazyFrame, parts: list[pl.LazyFrame]) -> pl.DataFrame | None:
    """The table plus the parts (window sums per customer and category, see the module's
    formula), per customer; rows left without events go. ``None`` when the result is
    inconsistent (a negative count, or sums left on a row without events): the caller then
    recomputes instead of publishing a drifted window.

    The parts (a night's rows leaving and entering the windows) are summed and widened first,
    then joined to the table on the customer number.
    """
    sums = WIDE_SUMS.names()
    moves = widen(
        pl.concat(
            [
                p.select(*KEY, "category", *WINDOW_SUMS.names(), "first_business_date")
                for p in parts
            ],
            how="vertical",
        )
    )
    out = (
        table.select(SCHEMA.names())
        .join(moves, on=KEY, how="full", coalesce=True, suffix="_moved")
        .select(
            *KEY,
            *[(pl.col(c).fill_null(0) + pl.col(f"{c}_moved").fill_null(0)).alias(c) for c in sums],
            pl.min_horizontal("first_business_date", "first_business_date_moved").alias(
                "first_business_date"
            ),
        )
        .collect(engine="streaming")
    )
    bad = out.filter(
        pl.any_horizontal(pl.col(COUNTS) < 0)
        | ((pl.col("events_90d") == 0) & pl.any_horizontal(pl.col(sums) != 0))
    )
    if bad.height:
        return None
    return out.filter(pl.col("events_90d") > 0).select(SCHEMA.names())


def _typed(df: pl.DataFrame) -> pl.DataFrame:
    return df.select([pl.col(c).cast(t) for c, t in SCHEMA.items()])


def _full(warehouse: Path, as_of: date, cats: pl.DataFrame) -> pl.DataFrame:
    lf = delta.scan(warehouse / TRANSACTIONS)
    if lf is None:
        return pl.DataFrame(schema=SCHEMA)
    return _typed(widen(card_window_sums(lf, cats.lazy(), as_of)).collect(engine="streaming"))


def _moved(warehouse: Path, state: dict, as_of: date, cats: pl.DataFrame) -> pl.DataFrame | None:
    """The window as of ``as_of`` carried forward from the table (see the module's formula),
    or ``None`` when the transactions changed otherwise than by tonight's append."""
    txn_state = read_state(warehouse, TRANSACTIONS) or {}
    now = delta.version(warehouse / TRANSACTIONS)
    app = txn_state.get("append")
    if now == state["txn_version"]:
        batches: list[str] = []  # nothing written since: only the window and categories move
        new = None
    elif (
        app
        and txn_state.get("as_of") == as_of.isoformat()
        and app.get("version_before") == state["txn_version"]
        and app["version"] == now
        and not app["removed"]
    ):
        batches = list(app["batches"])
        new = delta.scan_partitions(warehouse / TRANSACTIONS, "event_date", app["event_dates"])
    else:
        return None
    then = _saved_categories(warehouse, state["categories"])
    table = delta.scan(warehouse / WINDOW_SPEND)
    txns = delta.scan(warehouse / TRANSACTIONS)
    if then is None or table is None or txns is None:
        return None
    p = date.fromisoformat(state["as_of"])
    batch_dates = [date.fromisoformat(b) for b in batches]
    # The rows the table reflects: all but tonight's (an append removing nothing).
    old = txns.filter(~pl.col("business_date").is_in(batch_dates)) if batch_dates else txns
    parts: list[pl.LazyFrame] = []
    changed = (
        then.join(cats, on="merchant_id", how="full", coalesce=True, suffix="_now")
        .filter(pl.col("category").ne_missing(pl.col("category_now")))
        .get_column("merchant_id")
    )
    if changed.len():
        recat = old.filter(window(p, 90) & pl.col("merchant_id").is_in(changed.implode()))
        parts += [
            _negated(card_window_sums(recat, then.lazy(), p)),
            card_window_sums(recat, cats.lazy(), p),
        ]
    # Rows leaving a window, summed once as the difference they make: those dated before D's
    # 90-day window leave every sum; those still in it but before its 30 days leave spend_30d
    # only (the one 30-day sum). Both were counted as of P with today's categories.
    edge90 = as_of - timedelta(days=90)
    gone = old.filter(pl.col("event_date").is_between(p - timedelta(days=89), edge90))
    past_30 = old.filter(
        pl.col("event_date").is_between(p - timedelta(days=29), as_of - timedelta(days=30))
        & (pl.col("event_date") > edge90)
    )
    parts += [
        _negated(card_window_sums(gone, cats.lazy(), p)),
        _negated(card_window_sums(past_30, cats.lazy(), p)).with_columns(
            [pl.lit(0, pl.Int64).alias(c) for c in WINDOW_SUMS.names() if c != "spend_30d"]
        ),
    ]
    if new is not None:
        parts.append(
            card_window_sums(
                new.filter(pl.col("business_date").is_in(batch_dates)), cats.lazy(), as_of
            )
        )
    return _combine(table, parts)


def _current_layout(path: Path) -> bool:
    """The table exists with today's columns (one row per customer): a table of another
    layout is rebuilt whole, as a first build."""
    return delta.exists(path) and delta.empty_frame(path).columns == SCHEMA.names()


def build_window_spend(warehouse: Path, as_of: date, *, full: bool = False) -> TableResult:
    """Bring ``silver/card/window_spend`` to ``as_of`` (``silver/card/transactions`` and
    ``silver/card/merchants`` must be as of D): carried forward when the transactions only
    appended since the night it reflects, recomputed otherwise or when ``full``."""
    path = warehouse / WINDOW_SPEND
    state = read_state(warehouse, WINDOW_SPEND)
    cats = categories(warehouse)
    digest = _digest(cats)
    txn_version = delta.version(warehouse / TRANSACTIONS)
    current = _current_layout(path)
    usable = (
        not full
        and state is not None
        and current
        and state.get("version") == delta.version(path)
        and state["as_of"] <= as_of.isoformat()
    )
    if (
        usable
        and state is not None
        and state["as_of"] == as_of.isoformat()
        and state["txn_version"] == txn_version
        and state["categories"] == digest
    ):
        return _result(warehouse, as_of, "unchanged")
    df = _moved(warehouse, state, as_of, cats) if usable and state is not None else None
    mode = "incremental"
    if df is None:
        if usable:
            log.info(
                "%s: recomputed (the transactions changed otherwise than by an append)",
                WINDOW_SPEND,
            )
        df, mode = _full(warehouse, as_of, cats), "full"
    meta = {"dam.as_of": as_of.isoformat(), "dam.mode": mode}
    if current:
        version = delta.replace_where(
            path, df, "true", configuration=CONFIG, metadata=meta, writer_properties=WRITER
        )
    else:  # new, or of the earlier layout (one row per customer and category): replaced whole
        version = delta.overwrite(
            path, df, configuration=CONFIG, metadata=meta, writer_properties=WRITER
        )
    _save_categories(warehouse, cats)
    write_state(
        warehouse,
        WINDOW_SPEND,
        {
            "as_of": as_of.isoformat(),
            "txn_version": txn_version,
            "categories": digest,
            "version": version,
        },
    )
    return _result(warehouse, as_of, mode)


def _result(warehouse: Path, as_of: date, mode: str) -> TableResult:
    path = warehouse / WINDOW_SPEND
    lf = delta.scan(path)
    rows = 0 if lf is None else int(lf.select(pl.len()).collect().item())
    return TableResult(
        WINDOW_SPEND, rows, delta.version(path), {"as_of": as_of.isoformat(), "mode": mode}
    )


# --- erasure -------------------------------------------------------------------------------


def versions(warehouse: Path) -> tuple[int | None, int | None]:
    """(transactions, window_spend) versions: taken before an erasure or a purge's writes, for
    :func:`follow`."""
    return delta.version(warehouse / TRANSACTIONS), delta.version(warehouse / WINDOW_SPEND)


def restore_subject_rows(warehouse: Path, customer_nos: list[str]) -> int:
    """An erasure deletes every window row of its subjects (the rows mix batches); re-derive
    theirs from the transactions the erasure has already cleared of batches <= R, as of the
    night and with the categories the table reflects. Returns the rows restored."""
    state = read_state(warehouse, WINDOW_SPEND)
    txns = delta.scan(warehouse / TRANSACTIONS)
    if state is None or txns is None:
        return 0
    cats = _saved_categories(warehouse, state["categories"])
    if cats is None:
        return 0  # the table is not usable as it is: the next build recomputes it
    mine = txns.filter(pl.col("customer_no").is_in(customer_nos))
    rows = widen(card_window_sums(mine, cats.lazy(), date.fromisoformat(state["as_of"]))).collect()
    if rows.height:
        delta.append(warehouse / WINDOW_SPEND, _typed(rows))
    return rows.height


def follow(
    warehouse: Path, before: tuple[int | None, int | None], *, deleted_before: date | None = None
) -> None:
    """After writes that kept the window consistent, record the versions they left, so the
    next night can still carry the window forward: an erasure (its subjects' rows deleted and
    re-derived, both tables vacuumed), or the purge (vacuums, and events deleted only when
    dated before ``deleted_before``, which must lie before the window the table reflects).
    Only when the state matched ``before``: a window that was already unusable stays so."""
    state = read_state(warehouse, WINDOW_SPEND)
    if state is None or (state["txn_version"], state.get("version")) != before:
        return
    start = date.fromisoformat(state["as_of"]) - timedelta(days=89)
    if deleted_before is not None and deleted_before > start:
        return  # the purge may have deleted events the window counts
    txn, own = versions(warehouse)
    write_state(warehouse, WINDOW_SPEND, {**state, "txn_version": txn, "version": own})
