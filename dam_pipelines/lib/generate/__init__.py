"""Seeded, deterministic synthetic producer of the landing zone (``dam generate``).

One population of people holds relationships with the four affiliates; every registry feed is
delivered per business day exactly as the feed contract lays it out. See ``docs/generator.md``.
"""

from __future__ import annotations

from .engine import FAULTS_FILE, GenerationSummary, generate_landing
from .faults import FAULT_MIN_CUSTOMERS, FAULT_MIN_DAYS
from .formats import DELIVERY, Delivery

__all__ = [
    "DELIVERY",
    "FAULTS_FILE",
    "FAULT_MIN_CUSTOMERS",
    "FAULT_MIN_DAYS",
    "Delivery",
    "GenerationSummary",
    "generate_landing",
]
