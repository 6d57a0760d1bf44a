"""The `dam` command: help, argument errors, and a night through Dagster on a tiny landing."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from dam_pipelines.cli import build_parser, main
from dam_pipelines_tests.feedkit import deliver, rows, transactions

COMMANDS = ["generate", "run", "backfill", "demo", "sql", "purge", "catalog", "ui"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    assert "usage: dam " + command in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["run"],
        ["run", "--date", "2026-13-01"],
        ["backfill", "--start", "2026-11-02"],
        ["generate", "--customers", "0", "--days", "1", "--start", "2026-11-01"],
        ["generate", "--customers", "x", "--days", "1", "--start", "2026-11-01"],
        ["nosuchcommand"],
    ],
)
def test_bad_arguments_exit_non_zero_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def _env(monkeypatch, settings):
    monkeypatch.setenv("DAM_LANDING_DIR", str(settings.landing_dir))
    monkeypatch.setenv("DAM_WAREHOUSE_DIR", str(settings.warehouse_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))
    monkeypatch.setenv("DAM_PSEUDONYM_KEY", settings.pseudonym_key)


def test_bad_configuration_and_future_dates_are_clear_errors(monkeypatch, settings, capsys):
    _env(monkeypatch, settings)
    monkeypatch.setenv("DAM_ENV", "prod")
    monkeypatch.delenv("DAM_PSEUDONYM_KEY")
    assert main(["run", "--date", "2026-11-24"]) == 2
    assert "DAM_PSEUDONYM_KEY" in capsys.readouterr().err
    monkeypatch.setenv("DAM_ENV", "dev")
    assert main(["run", "--date", "2999-01-01"]) == 2
    assert "outside the nightly partitions" in capsys.readouterr().err
    assert main(["backfill", "--start", "2026-11-05", "--end", "2026-11-01"]) == 2


def test_run_records_the_night_in_the_dagster_instance_and_sql_reads_tables(
    monkeypatch, settings, capsys
):
    import dagster as dg

    _env(monkeypatch, settings)
    deliver(settings.landing_dir, "card", "customers", "2026-11-23", rows("card", "customers", {}))
    deliver(settings.landing_dir, "card", "transactions", "2026-11-24", transactions(4))
    assert main(["run", "--date", "2026-11-24"]) == 0
    out = capsys.readouterr().out
    assert "night 2026-11-24: ok" in out
    assert "bronze/card/transactions" in out
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        runs = instance.get_runs()
        assert [r.job_name for r in runs] == ["nightly"]
        assert runs[0].tags.get("dagster/partition") == "2026-11-24"
    assert (
        main(["sql", "select count(*) as n from bronze.card_transactions", "--format", "csv"]) == 0
    )
    assert capsys.readouterr().out.splitlines() == ["n", "4"]
    out_file = settings.warehouse_dir.parent / "b.parquet"
    assert (
        main(
            [
                "sql",
                "select status, rows_loaded from audit.batches",
                "--format",
                "parquet",
                "--output",
                str(out_file),
            ]
        )
        == 0
    )
    assert sorted(pl.read_parquet(out_file)["rows_loaded"].to_list()) == [1, 4]
    assert main(["purge", "--date", "2026-11-24"]) == 0
    assert "purge as of 2026-11-24: ok, verified" in capsys.readouterr().out
    report = settings.warehouse_dir.parent / "catalog.md"
    assert main(["catalog", "--output", str(report)]) == 0
    assert "`gold/customer_profile`" in report.read_text()


def test_the_installed_command_exits_cleanly(tmp_path):
    """The console script leaves through os._exit after flushing (delta-rs issue 2184)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dam_pipelines.cli import main; main()",
            "sql",
            "select 42 as x",
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        env={"DAM_WAREHOUSE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["x", "42"]
