from __future__ import annotations

import hashlib
import hmac
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_series_equal

from dam_pipelines.lib.pseudonym import (
    gcid,
    gcid_series,
    mask_pan,
    mask_pan_expr,
    mask_rrn,
    mask_rrn_expr,
    rrn_birth_date_expr,
    rrn_gender_expr,
)

KEY = "test-pseudonym-key-0123456789"


def _reference(digits: str, key: str) -> str:
    return hmac.new(key.encode("utf-8"), digits.encode("ascii"), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("key", [KEY, "키-한글-🔑", "k" * 200])  # short, non-ASCII, > block size
def test_gcid_is_hmac_sha256_of_the_13_digits(key: str) -> None:
    expected = _reference("9001011234567", key)
    assert gcid("9001011234567", key) == expected
    assert gcid("900101-1234567", key) == expected  # the hyphen is not part of the message
    assert len(expected) == 64 and expected == expected.lower()


def test_gcid_depends_on_the_key() -> None:
    assert gcid("9001011234567", "a") != gcid("9001011234567", "b")


@pytest.mark.parametrize(
    "bad", ["900101-123456", "90010112345678", "９００１０１１２３４５６７", "90010a1234567"]
)
def test_gcid_refuses_what_is_not_13_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        gcid(bad, KEY)


def test_gcid_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError):
        gcid("9001011234567", "")


def test_gcid_series_matches_the_scalar_and_keeps_nulls() -> None:
    rrns = pl.Series(["900101-1234567", None, "0502283123456", "851231-2000000"])
    out = gcid_series(rrns, KEY)
    expected = [
        _reference("9001011234567", KEY),
        None,
        _reference("0502283123456", KEY),
        _reference("8512312000000", KEY),
    ]
    assert out.to_list() == expected
    assert out.name == "gcid" and out.dtype == pl.Utf8


def test_gcid_series_refuses_non_rrn_values() -> None:
    with pytest.raises(ValueError):
        gcid_series(pl.Series(["900101-1234567", "nope"]), KEY)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("900101-1234567", "900101-1******"),
        ("9001011234567", "900101-1******"),
        ("900101-12", "900101-1******"),
        ("9001", "9001**-*******"),
        ("x", "******-*******"),
        ("", None),
        (None, None),
    ],
)
def test_mask_rrn_keeps_at_most_the_first_seven_digits(
    value: str | None, masked: str | None
) -> None:
    assert mask_rrn(value) == masked
    frame = pl.DataFrame({"rrn": [value]}, schema={"rrn": pl.Utf8})
    assert frame.select(mask_rrn_expr(pl.col("rrn")))["rrn"].to_list() == [masked]


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("4111111111111111", "411111******1111"),
        ("4111 1111 1111 1111", "411111******1111"),
        ("4111-1111-1111-1111", "411111******1111"),
        ("411111******1111", "411111******1111"),
        ("4111111111111111111", "411111*********1111"),
        ("123", "123"),
        ("", None),
        (None, None),
    ],
)
def test_mask_pan_keeps_first_six_and_last_four(value: str | None, masked: str | None) -> None:
    assert mask_pan(value) == masked
    frame = pl.DataFrame({"card_no": [value]}, schema={"card_no": pl.Utf8})
    assert frame.select(mask_pan_expr(pl.col("card_no")))["card_no"].to_list() == [masked]


def test_rrn_birth_date_and_gender_follow_the_century_digit() -> None:
    rrn = pl.Series(
        "rrn",
        [
            "900101-1234567",
            "900101-2234567",
            "000229-3234567",
            "000229-4234567",
            "000229-1234567",
            "851231-5000000",
            "050505-8000000",
            "900101-9234567",
            "garbage",
            None,
        ],
    )
    out = rrn.to_frame().select(
        b=rrn_birth_date_expr(pl.col("rrn")), g=rrn_gender_expr(pl.col("rrn"))
    )
    assert out["b"].to_list() == [
        date(1990, 1, 1),
        date(1990, 1, 1),
        date(2000, 2, 29),
        date(2000, 2, 29),
        None,  # 1900-02-29 does not exist
        date(1985, 12, 31),
        date(2005, 5, 5),
        None,
        None,
        None,
    ]
    assert_series_equal(
        out["g"], pl.Series("g", ["M", "F", "M", "F", "M", "M", "F", None, None, None])
    )
