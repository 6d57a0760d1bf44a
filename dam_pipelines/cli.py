"""The `dam` command: generate sample feeds, run nights, query tables, operate the dam."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from dam_pipelines.settings import ConfigError, Settings, load_settings


class UsageError(Exception):
    pass


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return n


def _print(msg: str = "") -> None:
    print(msg, flush=True)


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from dam_pipelines.lib.generate import generate_landing

    landing = Path(args.landing).resolve() if args.landing else settings.landing_dir
    t0 = time.perf_counter()
    summary = generate_landing(
        landing,
        customers=args.customers,
        days=args.days,
        start=args.start,
        seed=args.seed,
        faults=args.faults,
        progress=lambda m: _print(f"  {m}"),
    )
    _print(
        f"generated {summary.batches} batches, {summary.rows:,} rows in {summary.files} files "
        f"under {landing} in {time.perf_counter() - t0:.1f}s"
        + (
            f"; {len(summary.faults)} planted faults listed in {landing / '_faults.json'}"
            if args.faults
            else ""
        )
    )
    return 0


def _check_partition(d: date) -> None:
    from dam_pipelines.defs.partitions import PARTITION_START, daily

    last = daily.get_last_partition_key()
    if d.isoformat() < PARTITION_START or (last is not None and d.isoformat() > last):
        raise UsageError(
            f"business date {d} is outside the nightly partitions ({PARTITION_START} .. {last})"
        )


def _night_line(settings: Settings, o) -> str:
    from dam_pipelines.lib.report import night_counts

    status = "ok" if o.success else f"FAILED ({', '.join(o.failed_steps) or 'see the run'})"
    return f"night {o.business_date}: {status}  {night_counts(settings, o.run_id)}  ({o.seconds:.1f}s, run {o.run_id})"


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from dam_pipelines.lib.nightly import run_night
    from dam_pipelines.lib.report import print_summary

    _check_partition(args.date)
    o = run_night(settings, args.date)
    _print(_night_line(settings, o))
    print_summary(settings, run_ids=[o.run_id], out=_print)
    return 0 if o.success else 1


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from dam_pipelines.lib.nightly import backfill
    from dam_pipelines.lib.report import print_summary

    if args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    _check_partition(args.start)
    _check_partition(args.end)
    outcomes = backfill(
        settings, args.start, args.end, progress=lambda o: _print(_night_line(settings, o))
    )
    print_summary(settings, run_ids=[o.run_id for o in outcomes], out=_print)
    return 0 if outcomes and all(o.success for o in outcomes) else 1


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Generate the embedded sample landing zone (if absent) and run every night."""
    from dam_pipelines.lib.generate import generate_landing
    from dam_pipelines.lib.nightly import backfill
    from dam_pipelines.lib.report import print_summary

    landing = settings.landing_dir
    if not (landing.exists() and any(landing.iterdir())):
        _print(
            f"generating sample feeds into {landing} ({args.customers} customers, {args.days} days, faults planted)"
        )
        generate_landing(
            landing,
            customers=args.customers,
            days=args.days,
            start=args.start,
            seed=args.seed,
            faults=True,
            progress=lambda m: _print(f"  {m}"),
        )
    else:
        _print(f"using the existing landing zone {landing}")
    end = date.fromordinal(args.start.toordinal() + args.days - 1)
    outcomes = backfill(
        settings, args.start, end, progress=lambda o: _print(_night_line(settings, o))
    )
    print_summary(settings, run_ids=None, out=_print)
    _print("")
    _print(f"warehouse: {settings.warehouse_dir}")
    _print(f"Dagster instance: {settings.dagster_home}")
    _print("open the UI with:  .venv/bin/dam ui   (then http://127.0.0.1:3000)")
    return 0 if outcomes and all(o.success for o in outcomes) else 1


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    from dam_pipelines.lib.sql import run_sql

    return run_sql(settings, args.query, fmt=args.format, output=args.output, out=_print)


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from dam_pipelines.lib.nightly import run_purge_job

    _check_partition(args.date)
    outcome, records = run_purge_job(settings, args.date)
    for kind, verification in records:
        _print(f"  {kind}: {verification}")
    _print(
        f"purge as of {args.date}: {'ok, verified' if outcome.success else 'FAILED'}  run {outcome.run_id}"
    )
    return 0 if outcome.success else 1


def cmd_catalog(args: argparse.Namespace, settings: Settings) -> int:
    from dam_pipelines.lib.governance import catalog_markdown

    text = catalog_markdown(settings)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        _print(f"governance report written to {args.output}")
    else:
        _print(text)
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    """Time every stage at a scale (docs/performance.md); never touches the configured dirs."""
    from dam_pipelines.lib.bench import prepare_warehouse, run_bench, time_prepared_night

    json_path = Path(args.json) if args.json else None
    if args.night_on:
        time_prepared_night(Path(args.night_on), json_path=json_path, out=_print)
        return 0
    if args.prepare:
        prepare_warehouse(
            args.customers,
            args.days,
            seed=args.seed,
            work_dir=Path(args.work_dir),
            daily_erasures=not args.no_daily_erasures,
            out=_print,
        )
        return 0
    run_bench(
        args.customers,
        args.days,
        seed=args.seed,
        work_dir=Path(args.work_dir),
        json_path=json_path,
        keep=args.keep,
        catch_up=args.catch_up,
        daily_erasures=not args.no_daily_erasures,
        erasures=args.erasures,
        out=_print,
    )
    return 0


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    from dam_pipelines.lib.nightly import ensure_instance_home

    env = dict(os.environ, DAGSTER_HOME=str(ensure_instance_home(settings.dagster_home)))
    exe = Path(sys.executable).with_name("dagster")
    cmd = [
        str(exe),
        "dev",
        "-w",
        str(Path(__file__).resolve().parent.parent / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    _print("starting: " + " ".join(cmd))
    os.execve(cmd[0], cmd, env)
    return 0  # pragma: no cover


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dam", description="The financial group's data dam.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser(
        "generate", help="write a synthetic landing zone that follows the feed contract"
    )
    g.add_argument("--landing", help="landing directory (default: DAM_LANDING_DIR or data/landing)")
    g.add_argument("--customers", type=_positive, required=True, help="number of people")
    g.add_argument("--days", type=_positive, required=True, help="number of business days")
    g.add_argument("--start", type=_date, required=True, help="first business date YYYY-MM-DD")
    g.add_argument("--seed", type=int, default=42, help="random seed (same seed, same bytes)")
    g.add_argument("--faults", action="store_true", help="plant every failure the contract names")
    g.set_defaults(fn=cmd_generate)

    r = sub.add_parser("run", help="run the nightly job for one business date (through Dagster)")
    r.add_argument("--date", type=_date, required=True, help="business date D, YYYY-MM-DD")
    r.set_defaults(fn=cmd_run)

    b = sub.add_parser("backfill", help="run the nightly job for each date in order")
    b.add_argument("--start", type=_date, required=True)
    b.add_argument("--end", type=_date, required=True)
    b.set_defaults(fn=cmd_backfill)

    d = sub.add_parser("demo", help="generate sample feeds (if absent) and run every night of them")
    d.add_argument("--customers", type=_positive, default=3000)
    d.add_argument("--days", type=_positive, default=21)
    d.add_argument("--start", type=_date, default=date(2026, 10, 1))
    d.add_argument("--seed", type=int, default=42)
    d.set_defaults(fn=cmd_demo)

    q = sub.add_parser(
        "sql", help="DuckDB SQL over every published table (views like gold.customer_profile)"
    )
    q.add_argument("query")
    q.add_argument("--format", choices=["table", "csv", "parquet"], default="table")
    q.add_argument("--output", help="file to write (required for parquet; csv defaults to stdout)")
    q.set_defaults(fn=cmd_sql)

    pg = sub.add_parser(
        "purge", help="retention purge and physical removal as of a date (through Dagster)"
    )
    pg.add_argument("--date", type=_date, required=True, help="business date D, YYYY-MM-DD")
    pg.set_defaults(fn=cmd_purge)

    c = sub.add_parser("catalog", help="the governance report: every table and column classified")
    c.add_argument("--output", help="write the markdown report to this file")
    c.set_defaults(fn=cmd_catalog)

    bn = sub.add_parser(
        "bench", help="time every stage at a scale (generation to purge), in-process"
    )
    bn.add_argument("--customers", type=_positive, default=100_000)
    bn.add_argument("--days", type=_positive, default=30)
    bn.add_argument("--seed", type=int, default=42)
    bn.add_argument("--json", help="write the figures to this JSON file")
    bn.add_argument("--work-dir", default="data/bench", help="scratch dir (emptied first)")
    bn.add_argument("--keep", action="store_true", help="keep the landing zone and warehouse")
    bn.add_argument(
        "--catch-up",
        action="store_true",
        help="time only the nights of day 10 and the last day in full; bring the history "
        "between them up a week at a time (ingestion, erasures, silver)",
    )
    bn.add_argument(
        "--no-daily-erasures",
        action="store_true",
        help="generate no erasure requests in the daily feeds (long histories at scale)",
    )
    bn.add_argument(
        "--erasures", type=int, default=1000, help="customers erased at the end (default 1000)"
    )
    bn.add_argument(
        "--prepare",
        action="store_true",
        help="only generate and bring the history up to the day before the last, and keep it "
        "in --work-dir (for --night-on)",
    )
    bn.add_argument(
        "--night-on",
        metavar="DIR",
        help="time the last night on a copy of the warehouse --prepare kept in DIR",
    )
    bn.set_defaults(fn=cmd_bench)

    u = sub.add_parser("ui", help="start the Dagster UI on this project's instance")
    u.add_argument("--host", default="127.0.0.1")
    u.add_argument("--port", type=int, default=3000)
    u.set_defaults(fn=cmd_ui)
    return p


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        code = args.fn(args, settings)
    except (ConfigError, UsageError) as exc:
        print(f"dam: error: {exc}", file=sys.stderr)
        code = 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        code = 0
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    if argv is None:
        # delta-rs' runtime threads can abort the interpreter at exit (delta-rs issue 2184):
        # leave without running finalizers once all output is flushed.
        os._exit(code)
    return code


if __name__ == "__main__":
    main()
