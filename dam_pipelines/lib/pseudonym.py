"""Pseudonymization (contract §3): the group customer id and masking of identifiers.

``gcid`` is HMAC-SHA256 keyed with the pseudonymization key over the 13 digits of the resident
registration number (rrn). Masking keeps at most what the contract allows in clear: the first
seven rrn digits (``YYMMDD-G******``) and the first six and last four card-number digits.
"""

from __future__ import annotations

import hashlib
import re

import polars as pl

#: ``YYMMDD-GNNNNNN`` with G in 1..8 (ASCII digits only: polars' ``\d`` is Unicode-aware).
RRN_PATTERN = r"^[0-9]{6}-[1-8][0-9]{6}$"
#: A masked card number as the contract delivers it: ``NNNNNN******NNNN``.
MASKED_PAN_PATTERN = r"^[0-9]{6}\*{6}[0-9]{4}$"
#: A full card number: 13-19 digits, possibly separated by spaces or hyphens.
FULL_PAN_PATTERN = r"^[\s-]*(?:[0-9][\s-]*){13,19}$"
#: Separators a producer may put inside a card number.
PAN_SEPARATORS = r"[\s-]"

_RRN_DIGITS = re.compile(r"[0-9]{13}", re.ASCII)
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_BLOCK = 64  # SHA-256 block size


def _digits(rrn: str) -> bytes:
    """The 13 ASCII digits of an rrn given as ``YYMMDD-GNNNNNN`` or as 13 digits."""
    digits = rrn[:6] + rrn[7:] if len(rrn) == 14 and rrn[6] == "-" else rrn
    if not _RRN_DIGITS.fullmatch(digits):
        raise ValueError("not a resident registration number (13 digits, optional hyphen)")
    return digits.encode("ascii")


def _pads(key: str) -> tuple[hashlib._Hash, hashlib._Hash]:
    """HMAC-SHA256 inner and outer states after the key block (RFC 2104), ready to copy."""
    k = key.encode("utf-8")
    if len(k) > _BLOCK:
        k = hashlib.sha256(k).digest()
    k = k.ljust(_BLOCK, b"\0")
    return hashlib.sha256(k.translate(_IPAD)), hashlib.sha256(k.translate(_OPAD))


def gcid(rrn_digits: str, key: str) -> str:
    """Lowercase hex HMAC-SHA256(key as UTF-8, the rrn's 13 ASCII digits): 64 characters."""
    if not key:
        raise ValueError("the pseudonymization key is empty")
    inner, outer = _pads(key)
    inner.update(_digits(rrn_digits))
    outer.update(inner.digest())
    return outer.hexdigest()


def gcid_series(rrn: pl.Series, key: str) -> pl.Series:
    """gcids of a series of rrns (``YYMMDD-GNNNNNN`` or 13 digits); null stays null.

    Raises ValueError if a non-null value is not an rrn (callers validate first).
    """
    if not key:
        raise ValueError("the pseudonymization key is empty")
    digits = rrn.cast(pl.Utf8).str.replace(r"^([0-9]{6})-", "${1}")
    bad = digits.is_not_null() & ~digits.str.contains(r"^[0-9]{13}$")
    if bad.any():
        raise ValueError(f"{int(bad.sum())} value(s) are not resident registration numbers")
    inner, outer = _pads(key)
    icopy, ocopy = inner.copy, outer.copy
    out: list[str | None] = []
    append = out.append
    # The hot loop: two state copies and three C calls per value (about 1M values/s).
    for msg in digits.cast(pl.Binary).to_list():
        if msg is None:
            append(None)
            continue
        i = icopy()
        i.update(msg)
        o = ocopy()
        o.update(i.digest())
        append(o.hexdigest())
    return pl.Series("gcid", out, dtype=pl.Utf8)


def mask_rrn(value: str | None) -> str | None:
    """``YYMMDD-G******`` from the digits present; never more than the first 7 digits.

    Missing digits (a short, malformed value) are shown as ``*``: the shape is always the same.
    """
    if value is None or value == "":
        return None
    head = "".join(ch for ch in value if "0" <= ch <= "9")[:7].ljust(7, "*")
    return f"{head[:6]}-{head[6]}******"


def mask_rrn_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorized :func:`mask_rrn`."""
    head = expr.str.replace_all(r"[^0-9]", "").str.slice(0, 7).str.pad_end(7, "*")
    masked = pl.concat_str(
        [head.str.slice(0, 6), pl.lit("-"), head.str.slice(6, 1), pl.lit("******")]
    )
    return pl.when(expr.str.len_bytes() > 0).then(masked)


def mask_pan(value: str | None) -> str | None:
    """Card number with only its first 6 and last 4 characters kept, ``*`` in between.

    Spaces and hyphens are removed first; an already masked ``NNNNNN******NNNN`` is unchanged.
    A value of 10 characters or fewer cannot be a card number and is returned as it is.
    """
    if value is None or value == "":
        return None
    s = re.sub(r"[\s-]", "", value)
    if len(s) <= 10:
        return s or None
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


def mask_pan_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorized :func:`mask_pan`."""
    s = expr.str.replace_all(PAN_SEPARATORS, "")
    n = s.str.len_chars()
    middle = s.str.slice(6, (n - 10).clip(lower_bound=0)).str.replace_all(r"(?s).", "*")
    masked = pl.concat_str([s.str.slice(0, 6), middle, s.str.slice(n - 4, 4)])
    return pl.when(n > 10).then(masked).otherwise(pl.when(n > 0).then(s))


def rrn_birth_date_expr(expr: pl.Expr) -> pl.Expr:
    """Birth date encoded in a well-formed rrn (null when malformed or not a real date).

    G 1, 2, 5, 6: born 1900-1999; 3, 4, 7, 8: born 2000-2099.
    """
    g = expr.str.slice(7, 1)
    century = pl.when(g.is_in(["1", "2", "5", "6"])).then(pl.lit("19")).otherwise(pl.lit("20"))
    text = pl.concat_str([century, expr.str.slice(0, 6)])
    return pl.when(expr.str.contains(RRN_PATTERN)).then(text.str.to_date("%Y%m%d", strict=False))


def rrn_gender_expr(expr: pl.Expr) -> pl.Expr:
    """``M`` (odd G) or ``F`` (even G) of a well-formed rrn, else null."""
    g = expr.str.slice(7, 1)
    return pl.when(expr.str.contains(RRN_PATTERN)).then(
        pl.when(g.is_in(["1", "3", "5", "7"])).then(pl.lit("M")).otherwise(pl.lit("F"))
    )
