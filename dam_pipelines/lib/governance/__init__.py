"""Data governance of the dam (contract §5): erasure, retention, proof, catalog, consent."""

from dam_pipelines.lib.governance.catalog import asset_metadata, catalog, catalog_markdown
from dam_pipelines.lib.governance.erasure import (
    ErasureReport,
    affected_gcids,
    apply_erasures,
    scrub_gold,
    unbacked_profiles,
)
from dam_pipelines.lib.governance.marketing import build_marketing_audience
from dam_pipelines.lib.governance.retention import PurgeReport, apply_night_rules, run_purge
from dam_pipelines.lib.governance.suppression import make_suppressor

__all__ = [
    "ErasureReport",
    "PurgeReport",
    "affected_gcids",
    "apply_erasures",
    "apply_night_rules",
    "asset_metadata",
    "build_marketing_audience",
    "catalog",
    "catalog_markdown",
    "make_suppressor",
    "run_purge",
    "scrub_gold",
    "unbacked_profiles",
]
