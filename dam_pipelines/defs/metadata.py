"""Materialization metadata shared by the layers (no identifiers ever go in here)."""

from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import polars as pl

from dam_pipelines.lib import delta


def table_schema(df_schema: pl.Schema | dict[str, pl.DataType]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=n, type=str(t)) for n, t in dict(df_schema).items()]
    )


def markdown_table(df: pl.DataFrame) -> dg.MetadataValue:
    """``df`` as a markdown table for the asset page."""
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    body = "".join("| " + " | ".join(map(str, row)) + " |\n" for row in df.iter_rows())
    return dg.MetadataValue.md(head + body)


def preview(path: Path, columns: Sequence[str], n: int = 5) -> dg.MetadataValue | None:
    """A few rows of the non-identifying ``columns`` as markdown (for the asset page)."""
    lf = delta.scan(path)
    if lf is None:
        return None
    cols = [c for c in columns if c in lf.collect_schema().names()]
    if not cols:
        return None
    return markdown_table(lf.select(cols).head(n).collect())


def table_metadata(path: Path, *, uri_label: str = "dagster/uri") -> dict[str, object]:
    meta: dict[str, object] = {uri_label: dg.MetadataValue.path(str(path))}
    v = delta.version(path)
    if v is not None:
        meta["delta_version"] = v
    return meta
