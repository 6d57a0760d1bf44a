"""Producer side of the landing zone: write a batch folder exactly as the contract lays it out.

Used by the synthetic generator and by tests to build batches (good and deliberately bad).
The manifest is written last, as a producer must.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

MANIFEST = "_manifest.json"


@dataclass(frozen=True)
class WrittenBatch:
    folder: Path
    manifest: dict[str, Any]


def batch_folder(landing: Path, affiliate: str, feed: str, business_date: str) -> Path:
    return landing / affiliate / feed / business_date


def csv_bytes(
    df: pl.DataFrame, *, encoding: str = "utf-8", bom: bool = False, crlf: bool = False
) -> bytes:
    """RFC 4180 csv of ``df`` (nulls as empty fields) in ``encoding`` (strict)."""
    text = df.write_csv(null_value="", line_terminator="\r\n" if crlf else "\n")
    data = text.encode("cp949" if encoding == "cp949" else "utf-8")
    return (b"\xef\xbb\xbf" + data) if bom and encoding == "utf-8" else data


def parquet_bytes(df: pl.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    df.write_parquet(buf, compression="zstd")
    return buf.getvalue()


def control_sum(frames: Sequence[pl.DataFrame], column: str) -> int:
    """Integer sum of ``column`` over all rows; null or unparseable values count 0."""
    total = 0
    for df in frames:
        if column not in df.columns or df.height == 0:
            continue
        s = df[column]
        if s.dtype != pl.Utf8:
            s = s.cast(pl.Utf8)
        total += int(s.cast(pl.Int64, strict=False).fill_null(0).sum())
    return total


def write_batch(
    landing: Path,
    affiliate: str,
    feed: str,
    business_date: str,
    parts: Sequence[pl.DataFrame],
    *,
    revision: int = 1,
    fmt: str = "csv",
    encoding: str = "utf-8",
    bom: bool = False,
    crlf: bool = False,
    control_total_column: str | None = None,
    created_at: str | None = None,
    manifest_overrides: Mapping[str, Any] | None = None,
    write_manifest: bool = True,
    part_prefix: str = "part",
) -> WrittenBatch:
    """Write ``parts`` (one frame per data file) and then the manifest.

    csv parts should hold strings (Y/N booleans, ISO dates/timestamps); parquet parts may hold
    native types. ``manifest_overrides`` replaces manifest fields (``None`` values delete them),
    which is how tests plant a bad manifest.
    """
    folder = batch_folder(landing, affiliate, feed, business_date)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, df in enumerate(parts, start=1):
        name = f"{part_prefix}-{revision:02d}{i:03d}.{'csv' if fmt == 'csv' else 'parquet'}"
        data = (
            csv_bytes(df, encoding=encoding, bom=bom, crlf=crlf)
            if fmt == "csv"
            else parquet_bytes(df)
        )
        (folder / name).write_bytes(data)
        files.append({"name": name, "rows": df.height, "sha256": hashlib.sha256(data).hexdigest()})
    manifest: dict[str, Any] = {
        "contract_version": 1,
        "affiliate": affiliate,
        "feed": feed,
        "business_date": business_date,
        "revision": revision,
        "format": fmt,
        "encoding": encoding,
        "files": files,
        "created_at": created_at or f"{business_date}T23:30:00+09:00",
    }
    if control_total_column:
        manifest["control_total"] = {
            "column": control_total_column,
            "sum": control_sum(parts, control_total_column),
        }
    for k, v in (manifest_overrides or {}).items():
        if v is None:
            manifest.pop(k, None)
        else:
            manifest[k] = v
    if write_manifest:
        # Written last, atomically: a reader never sees half a manifest.
        tmp = folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(folder / MANIFEST)
    return WrittenBatch(folder, manifest)
