"""The project's life-stage estimate for ``gold/customer_profile.life_stage``.

A small, fixed set of labels from integrated data, applied as ordered rules (the first that
matches wins), so that every customer gets exactly one label:

====================== ======================================================================
label                  rule (in this order)
====================== ======================================================================
YOUTH                  age < 20
RETIRED                age >= 65
PRE_RETIREMENT         age >= 50, or age >= 45 with an ACTIVE annuity policy
FAMILY_WITH_CHILDREN   age >= 30 and a positive net card spend on EDUCATION in the last 90 days
HOME_BUILDER           an outstanding mortgage or jeonse loan (status NORMAL/DELINQUENT/DEFAULTED)
YOUNG_ADULT            age < 35
ESTABLISHED            everyone else (35..49)
====================== ======================================================================

The signals are only as complete as the customer's relationships: someone without a card
has no education spending we can see, so the estimate errs towards the age-based labels.
"""

from __future__ import annotations

import polars as pl

LIFE_STAGES = (
    "YOUTH",
    "YOUNG_ADULT",
    "FAMILY_WITH_CHILDREN",
    "HOME_BUILDER",
    "ESTABLISHED",
    "PRE_RETIREMENT",
    "RETIRED",
)


def life_stage(
    age: str = "age",
    housing_loan: str = "has_housing_loan",
    annuity: str = "has_annuity",
    education_net_90d: str = "education_net_90d",
) -> pl.Expr:
    """One label of :data:`LIFE_STAGES` per row; missing signals (no relationship) count as no."""
    a = pl.col(age)
    housing = pl.col(housing_loan).fill_null(False)
    has_annuity = pl.col(annuity).fill_null(False)
    education = pl.col(education_net_90d).fill_null(0) > 0
    return (
        pl.when(a < 20)
        .then(pl.lit("YOUTH"))
        .when(a >= 65)
        .then(pl.lit("RETIRED"))
        .when((a >= 50) | ((a >= 45) & has_annuity))
        .then(pl.lit("PRE_RETIREMENT"))
        .when((a >= 30) & education)
        .then(pl.lit("FAMILY_WITH_CHILDREN"))
        .when(housing)
        .then(pl.lit("HOME_BUILDER"))
        .when(a < 35)
        .then(pl.lit("YOUNG_ADULT"))
        .otherwise(pl.lit("ESTABLISHED"))
        .alias("life_stage")
    )
