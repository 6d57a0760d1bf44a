"""The operator's summary printed after `dam run`, `dam backfill` and `dam demo`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from dam_pipelines.lib import delta
from dam_pipelines.lib.ingest import read_ledger
from dam_pipelines.lib.tables import find_tables
from dam_pipelines.settings import Settings


def night_counts(settings: Settings, run_id: str) -> str:
    """One line: what a run did to the batches it saw."""
    led = read_ledger(settings).filter(pl.col("run_id") == run_id)
    if led.height == 0:
        return "no new batches"
    by = dict(led.group_by("status").agg(pl.len()).iter_rows())
    parts = [
        f"{by[s]} {s.lower()}" for s in ("LOADED", "REJECTED", "SKIPPED", "REPLACED") if s in by
    ]
    loaded = led.filter(pl.col("status") == "LOADED")
    rows = int(loaded["rows_loaded"].sum() or 0)
    bad = int(loaded["rows_quarantined"].sum() or 0)
    return f"batches: {', '.join(parts)}; rows loaded {rows:,}, quarantined {bad:,}"


def print_summary(
    settings: Settings, *, run_ids: Sequence[str] | None, out: Callable[[str], None] = print
) -> None:
    ledger = read_ledger(settings)
    if run_ids is not None:
        ledger = ledger.filter(pl.col("run_id").is_in(list(run_ids)))
    out("")
    scope = "these runs" if run_ids is not None else "all runs"
    out(f"batches ({scope}):")
    if ledger.height == 0:
        out("  none")
    else:
        by = ledger.group_by("status").agg(pl.len().alias("n")).sort("status")
        out("  " + ", ".join(f"{r['status'].lower()} {r['n']}" for r in by.iter_rows(named=True)))
        rej = ledger.filter(pl.col("status") == "REJECTED").sort(
            "affiliate", "feed", "business_date"
        )
        for r in rej.iter_rows(named=True):
            out(
                f"  rejected {r['affiliate']}/{r['feed']} {r['business_date']} r{r['revision']}: "
                f"{r['reason']} - {r['detail']}"
            )
        per = (
            ledger.filter(pl.col("status") == "LOADED")
            .group_by("affiliate", "feed")
            .agg(pl.col("rows_loaded").sum(), pl.col("rows_quarantined").sum())
            .sort("affiliate", "feed")
        )
        out("rows per table (loaded / quarantined):")
        for r in per.iter_rows(named=True):
            out(
                f"  bronze/{r['affiliate']}/{r['feed']:<18} {r['rows_loaded']:>10,} / {r['rows_quarantined']:,}"
            )
    tables = find_tables(settings.warehouse_dir)
    out(f"tables under {settings.warehouse_dir}:")
    for key, path in tables.items():
        lf = delta.scan(path)
        n = lf.select(pl.len()).collect().item() if lf is not None else 0
        out(f"  {key:<40} {n:>10,} rows")
