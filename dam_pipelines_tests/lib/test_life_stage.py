"""The life-stage rules: every label, their order, and missing signals."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_series_equal

from dam_pipelines.lib.life_stage import LIFE_STAGES, life_stage

# (age, housing loan, annuity, education net 90d) -> label
CASES = [
    ((19, True, True, 10), "YOUTH"),
    ((20, False, False, 0), "YOUNG_ADULT"),
    ((34, False, None, None), "YOUNG_ADULT"),
    ((35, False, False, 0), "ESTABLISHED"),
    ((49, None, None, None), "ESTABLISHED"),
    ((25, True, False, 0), "HOME_BUILDER"),
    ((29, False, False, 500), "YOUNG_ADULT"),  # their own education, not children's
    ((30, False, False, 500), "FAMILY_WITH_CHILDREN"),
    ((40, True, False, 500), "FAMILY_WITH_CHILDREN"),  # children before housing
    ((40, True, False, -500), "HOME_BUILDER"),  # net refunds are no spending
    ((44, False, True, 0), "ESTABLISHED"),
    ((45, False, True, 0), "PRE_RETIREMENT"),
    ((45, True, False, 500), "FAMILY_WITH_CHILDREN"),
    ((50, True, False, 500), "PRE_RETIREMENT"),
    ((64, False, False, 0), "PRE_RETIREMENT"),
    ((65, True, True, 500), "RETIRED"),
    ((90, None, None, None), "RETIRED"),
]


@pytest.mark.parametrize(("signals", "label"), CASES, ids=[c[1] + str(c[0]) for c in CASES])
def test_each_rule(signals: tuple, label: str) -> None:
    age, housing, annuity, education = signals
    df = pl.DataFrame(
        {
            "age": [age],
            "has_housing_loan": [housing],
            "has_annuity": [annuity],
            "education_net_90d": [education],
        },
        schema={
            "age": pl.Int64,
            "has_housing_loan": pl.Boolean,
            "has_annuity": pl.Boolean,
            "education_net_90d": pl.Int64,
        },
    )
    assert df.select(life_stage()).item() == label


def test_every_label_is_reachable_and_nothing_else_is_produced() -> None:
    df = pl.DataFrame(
        [list(s) for s, _ in CASES],
        schema={
            "age": pl.Int64,
            "has_housing_loan": pl.Boolean,
            "has_annuity": pl.Boolean,
            "education_net_90d": pl.Int64,
        },
        orient="row",
    )
    got = df.select(life_stage()).to_series()
    assert set(got) == set(LIFE_STAGES)
    assert_series_equal(got, pl.Series("life_stage", [label for _, label in CASES]))
