"""The trend cells carried forward: ``gold/card_category_trends`` without re-reading every month.

The trends have no lower bound: every night, every month of ``silver/card/transactions_monthly``
counts, with the customers' age bands and the merchants' (sido, category) as of D. Read whole,
the nightly cost grows by a month of the rollup (14 M rows at a million customers) every month.

A cell's counts are sums over persons (``customer_count`` counts distinct gcids), so a month
whose rollup rows did not change since the last build moves by its changed persons only:

    cells(m, D) = cells(m, P)
                - the cells of m of the persons A whose attributes changed, as counted at P
                + the same persons' cells of m now

where P is the build the cached cells reflect, and A holds every card customer whose gcid or
age band changed between P and D (new and vanished customers included), every customer with a
rollup row of m at a merchant whose (sido, category) changed, and every other customer number
of their gcids (so a person is always counted whole). Months whose rollup files changed
(tonight's appends, late events, corrections, erasures: Delta files are immutable, so the
sorted list of a month's live files is its fingerprint) are recomputed, as is every month when
nothing valid is cached.

What the cells were counted with is kept: the merchants beside the state (no person), the
people in ``silver/card/trend_people`` (customer number, gcid, age band), a governed table
of the card affiliate, so an erasure deletes its subjects' rows there and the proof scans it,
like any silver table. Its rows carry the build's token: the cache is used only when the
table and the state agree (a crash between the two writes, or any rewrite, sends the night
to a recompute). Both paths give the same cells (``test_trend_cells``).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from dam_pipelines.lib import asof, delta
from dam_pipelines.lib.silver import ROLLUP, read_state, state_path, write_state
from dam_pipelines.lib.trends import TRENDS_SCHEMA, add_cells, cell_counts

log = logging.getLogger("dam_pipelines")

PEOPLE = "silver/card/trend_people"
#: The state's key: ``_state/gold/card_category_trends.json`` (+ its cells and merchants).
STATE = "gold/card_category_trends"
#: ``business_date``: of the customers record (lineage: an erasure deletes the rows of batches
#: on or before its date, and its proof accepts a row from a later record).
PEOPLE_SCHEMA = pl.Schema(
    {
        "customer_no": pl.Utf8(),
        "gcid": pl.Utf8(),
        "age_band": pl.Utf8(),
        "business_date": pl.Date(),
        "build": pl.Utf8(),
    }
)
#: No identifier in the log statistics; no dictionary for the near-unique keys.
PEOPLE_CONFIG = delta.table_config(["age_band", "business_date", "build"])
PEOPLE_WRITER = delta.bulk_writer(["customer_no", "gcid"])
#: A month whose changed persons exceed this share of the card customers (and this number)
#: is recomputed: filtered passes over that many customers cost more than one whole pass.
REFILE_SHARE = 0.1
REFILE_MIN = 10_000


@dataclass
class Cache:
    """What the last build counted with."""

    months: dict[str, str]
    cells: pl.DataFrame
    people: pl.DataFrame
    shops: pl.DataFrame


@dataclass
class Build:
    """The cells as of D and how each month was obtained (for the run's metadata)."""

    cells: pl.DataFrame
    recomputed: list[str] = field(default_factory=list)
    carried: list[str] = field(default_factory=list)
    refiled_customers: int = 0


def month_fingerprints(warehouse: Path) -> dict[str, str]:
    """month -> fingerprint of its live rollup files (any rewrite of the month changes it)."""
    return {
        month: asof.fingerprint(files)
        for month, files in delta.partition_files(warehouse / ROLLUP, "month").items()
    }


def _side_file(warehouse: Path, token: str, what: str) -> Path:
    return state_path(warehouse, STATE).with_suffix(f".{token}.{what}.parquet")


def load_cache(warehouse: Path) -> Cache | None:
    """The cached cells and what they were counted with, or None when any part is missing or
    the people table is not the one the state was saved with."""
    state = read_state(warehouse, STATE)
    if state is None:
        return None
    token = state["token"]
    cells_file, shops_file = (_side_file(warehouse, token, w) for w in ("cells", "shops"))
    people = delta.read(warehouse / PEOPLE)
    if people is None or not cells_file.exists() or not shops_file.exists():
        return None
    builds = people["build"].unique().to_list()
    if builds != [token]:
        log.info("%s: the people table is not the state's (%s): recomputing", STATE, builds[:2])
        return None
    return Cache(
        months=state["months"],
        cells=pl.read_parquet(cells_file),
        people=people.drop("build"),
        shops=pl.read_parquet(shops_file),
    )


def save_cache(
    warehouse: Path,
    as_of_iso: str,
    build: Build,
    people: pl.DataFrame,
    shops: pl.DataFrame,
    months: dict[str, str],
) -> None:
    """Persist the cells and what they were counted with (side files, the people table, then
    the state that names them: a crash in between leaves a state that does not match)."""
    token = uuid.uuid4().hex
    base = state_path(warehouse, STATE)
    base.parent.mkdir(parents=True, exist_ok=True)
    build.cells.write_parquet(_side_file(warehouse, token, "cells"))
    shops.write_parquet(_side_file(warehouse, token, "shops"))
    delta.overwrite(
        warehouse / PEOPLE,
        people.with_columns(pl.lit(token).alias("build")).select(PEOPLE_SCHEMA.names()),
        configuration=PEOPLE_CONFIG,
        metadata={"dam.as_of": as_of_iso},
        writer_properties=PEOPLE_WRITER,
    )
    write_state(
        warehouse,
        STATE,
        {
            "as_of": as_of_iso,
            "token": token,
            "months": months,
            # how the night got its months, for operators and tests
            "carried": build.carried,
            "recomputed": build.recomputed,
            "refiled_customers": build.refiled_customers,
        },
    )
    for old in base.parent.glob(f"{base.stem}.*.parquet"):
        if f".{token}." not in old.name:
            os.remove(old)


def _differing(old: pl.DataFrame, new: pl.DataFrame, key: str, values: list[str]) -> pl.Series:
    """Keys whose ``values`` differ between ``old`` and ``new`` (a key in one only included)."""
    both = old.select(key, *values).join(
        new.select(key, *values), on=key, how="full", coalesce=True, suffix="_new"
    )
    same = pl.all_horizontal(pl.col(v).eq_missing(pl.col(f"{v}_new")) for v in values)
    return both.filter(~same)[key]


def changed_customers(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Customer numbers whose gcid or age band differ between the people ``old`` and ``new``
    (present in one only included)."""
    return _differing(old, new, "customer_no", ["gcid", "age_band"]).to_frame()


def whole_persons(customers: pl.DataFrame, old: pl.DataFrame, new: pl.DataFrame) -> pl.Series:
    """``customers`` plus every customer number sharing a gcid with one of them, at P or now."""
    gcids = pl.concat(
        [p.join(customers, on="customer_no", how="semi")["gcid"] for p in (old, new)]
    ).unique()
    return pl.concat(
        [
            customers["customer_no"],
            *(p.filter(pl.col("gcid").is_in(gcids.implode()))["customer_no"] for p in (old, new)),
        ]
    ).unique()


def changed_merchants(old: pl.DataFrame, new: pl.DataFrame) -> pl.Series:
    """Merchants whose (sido, category) differ between ``old`` and ``new`` (or known in one)."""
    return _differing(old, new, "merchant_id", ["sido_code", "category"])


def _month(warehouse: Path, month: str) -> pl.LazyFrame:
    lf = delta.scan_partitions(warehouse / ROLLUP, "month", [month])
    assert lf is not None
    return lf


def _carried(
    warehouse: Path,
    month: str,
    cache: Cache,
    people: pl.DataFrame,
    shops: pl.DataFrame,
    changed: pl.DataFrame,
    moved: pl.Series,
) -> tuple[pl.DataFrame, int] | None:
    """Month ``month``'s cells moved from the cache by its changed persons; None when so many
    changed that a recompute is cheaper, or when the cached cells do not add up (never
    trusted)."""
    cached = cache.cells.filter(pl.col("month") == month)
    rollup = _month(warehouse, month)
    if moved.len():
        at_moved = (
            rollup.filter(pl.col("merchant_id").is_in(moved.implode()))
            .select("customer_no")
            .unique()
            .collect()
        )
        changed = pl.concat([changed, at_moved]).unique()
    if changed.height == 0:
        return cached, 0
    persons = whole_persons(changed, cache.people, people)
    if persons.len() > max(REFILE_MIN, REFILE_SHARE * people.height):
        return None
    rows = rollup.filter(pl.col("customer_no").is_in(persons.implode())).collect().lazy()

    def counted(ppl: pl.DataFrame, shp: pl.DataFrame) -> pl.DataFrame:
        mine = ppl.lazy().filter(pl.col("customer_no").is_in(persons.implode()))
        return cell_counts(rows, mine, shp.lazy()).collect()

    try:
        cells = add_cells(cached, counted(people, shops), counted(cache.people, cache.shops))
    except ValueError as exc:
        log.warning("%s %s: %s; the month is recomputed", STATE, month, exc)
        return None
    return cells, persons.len()


def _cells(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The months' cells as one frame of :data:`TRENDS_SCHEMA`."""
    return pl.concat([pl.DataFrame(schema=TRENDS_SCHEMA), *frames], how="vertical").select(
        [pl.col(c).cast(t) for c, t in TRENDS_SCHEMA.items()]
    )


def forget(warehouse: Path, until: Mapping[str, date]) -> dict[str, int] | None:
    """Take erased card customers out of the cache before their people rows go.

    ``until``: customer number -> the erasure's date; their rows of the people table from
    records dated on or before it are deleted. A carried month re-files only the persons whose
    gcid or age band differ between the cached people and today's, and an erased customer is in
    neither, so the cached cells must lose the customer here, while the people table still says
    where they were counted. Every month whose rollup files are those the cells were counted
    from is moved as a night moves it (the customers' cells at P subtracted, their persons'
    other customer numbers re-filed); a month the erasure rewrote, or one that cannot be moved,
    leaves the cache and the next build recomputes it. The cells, the people table without the
    rows and the state are saved under a new token, so a crash in between sends the next build
    to a recompute, and a second call finds nothing left to take out.

    Returns the rows deleted per customer number, or None when there is no cache to keep in step
    (the caller deletes the rows as from any table).
    """
    cache = load_cache(warehouse)
    state = read_state(warehouse, STATE)
    if cache is None or state is None:
        return None
    limits = pl.DataFrame(
        {"customer_no": list(until), "_until": list(until.values())},
        schema={"customer_no": pl.Utf8, "_until": pl.Date},
    )
    gone = cache.people.join(limits, on="customer_no", how="inner").filter(
        pl.col("business_date") <= pl.col("_until")
    )
    if gone.height == 0:
        return {}
    after = cache.people.join(gone.select("customer_no"), on="customer_no", how="anti")
    changed = gone.select("customer_no").unique()
    no_moves = pl.Series("merchant_id", [], pl.Utf8)
    now = month_fingerprints(warehouse)
    out = Build(pl.DataFrame(schema=TRENDS_SCHEMA))
    frames, months = [], {}
    for month, fingerprint in sorted(cache.months.items()):
        # A month rewritten since (by this erasure too), or one that cannot be moved, leaves
        # the cache: the next build recomputes it.
        got = (
            _carried(warehouse, month, cache, after, cache.shops, changed, no_moves)
            if now.get(month) == fingerprint
            else None
        )
        if got is not None:
            frames.append(got[0])
            months[month] = fingerprint
            out.carried.append(month)
            out.refiled_customers += got[1]
    out.cells = _cells(frames)
    save_cache(warehouse, state["as_of"], out, after, cache.shops, months)
    log.info(
        "%s: %d erased customers taken out of %d cached months", STATE, changed.height, len(months)
    )
    return dict(gone.group_by("customer_no").agg(pl.len()).iter_rows())


def build_cells(
    warehouse: Path, people: pl.DataFrame, shops: pl.DataFrame, as_of_iso: str
) -> Build:
    """Every month's cells (before k-anonymity) as of the given people and merchants, carried
    forward where the cache allows, recomputed elsewhere; the cache is then saved."""
    months = month_fingerprints(warehouse)
    cache = load_cache(warehouse)
    out = Build(pl.DataFrame(schema=TRENDS_SCHEMA))
    frames = []
    changed = moved = None
    if cache is not None:
        changed = changed_customers(cache.people, people)
        moved = changed_merchants(cache.shops, shops)
    for month, fingerprint in sorted(months.items()):
        got = None
        if cache is not None and cache.months.get(month) == fingerprint:
            assert changed is not None and moved is not None
            got = _carried(warehouse, month, cache, people, shops, changed, moved)
        if got is None:
            cells = cell_counts(_month(warehouse, month), people.lazy(), shops.lazy()).collect(
                engine="streaming"
            )
            out.recomputed.append(month)
        else:
            cells, n = got
            out.carried.append(month)
            out.refiled_customers += n
        frames.append(cells)
    out.cells = _cells(frames)
    save_cache(warehouse, as_of_iso, out, people, shops, months)
    log.info(
        "%s: %d months carried forward (%d customers re-filed), %d recomputed",
        STATE,
        len(out.carried),
        out.refiled_customers,
        len(out.recomputed),
    )
    return out
