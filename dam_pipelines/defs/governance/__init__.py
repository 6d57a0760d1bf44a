"""Governance definitions: add these lists to ``definitions.py``."""

from dam_pipelines.defs.governance.assets import (
    AUDIENCE_KEY,
    ERASURES_KEY,
    catalog_metadata,
    governance_assets,
)
from dam_pipelines.defs.governance.jobs import governance_jobs, governance_schedules

__all__ = [
    "AUDIENCE_KEY",
    "ERASURES_KEY",
    "catalog_metadata",
    "governance_assets",
    "governance_jobs",
    "governance_schedules",
]
