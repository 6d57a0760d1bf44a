"""Quality layer: asset checks on silver and gold, and the gold publication gate."""

from dam_pipelines.defs.quality.checks import (
    build_all_quality_checks,
    build_quality_checks,
    quality_checks,
)
from dam_pipelines.defs.quality.gate import audit_gold_frames, publish_gold, require_quality_gate

__all__ = [
    "audit_gold_frames",
    "build_all_quality_checks",
    "build_quality_checks",
    "publish_gold",
    "quality_checks",
    "require_quality_gate",
]
