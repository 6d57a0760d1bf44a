"""Discovery of the warehouse's Delta tables (for SQL views, reports and scans)."""

from __future__ import annotations

from pathlib import Path

from dam_pipelines.lib import delta

LAYERS = ("bronze", "silver", "gold", "audit")


def find_tables(warehouse: Path, layers: tuple[str, ...] = LAYERS) -> dict[str, Path]:
    """Map ``layer/rest/of/path`` -> table folder for every Delta table under the layers."""
    found: dict[str, Path] = {}
    for layer in layers:
        root = warehouse / layer
        if not root.is_dir():
            continue
        for log in sorted(root.rglob("_delta_log")):
            table = log.parent
            if delta.exists(table):
                found[table.relative_to(warehouse).as_posix()] = table
    return found


def view_name(key: str) -> tuple[str, str]:
    """``silver/card/transactions`` -> (``silver``, ``card_transactions``)."""
    layer, _, rest = key.partition("/")
    return layer, rest.replace("/", "_")
