"""``gold/card_category_trends``: shareable, k-anonymous card spending by month and segment.

Cells are (month of event date, merchant sido, merchant category, customer age band) over
PURCHASE and CANCEL events dated up to D. Merchant and customer attributes are those as of D,
so every cell can change any night; the nightly work reads the compact monthly rollup
``silver/card/transactions_monthly`` (one row per month, customer, merchant and delivering
batch) rather than every transaction ever made.
"""

from __future__ import annotations

import polars as pl

ROLLUP_SCHEMA = pl.Schema(
    {
        "month": pl.Utf8(),
        "customer_no": pl.Utf8(),
        "merchant_id": pl.Utf8(),
        # the batch that delivered the events (silver's ``business_date``): a night adds the
        # rows of its own batches and rewrites nothing; an erasure deletes by batch lineage
        "business_date": pl.Date(),
        "purchase_count": pl.Int64(),
        "purchase_amount": pl.Int64(),
        "cancel_count": pl.Int64(),
        "cancel_amount": pl.Int64(),
    }
)

TRENDS_SCHEMA = pl.Schema(
    {
        "month": pl.Utf8(),
        "sido_code": pl.Utf8(),
        "category": pl.Utf8(),
        "age_band": pl.Utf8(),
        "customer_count": pl.Int64(),
        "purchase_count": pl.Int64(),
        "net_amount": pl.Int64(),
    }
)

CELL = ["month", "sido_code", "category", "age_band"]


def monthly_rollup(transactions: pl.LazyFrame) -> pl.LazyFrame:
    """PURCHASE and CANCEL of silver transactions per (month, customer_no, merchant_id,
    business_date): the month of the event, the batch that delivered it.

    A row exists only when the customer had at least one such event there that month, which
    is what "distinct customers having any such event" needs. CASH_ADVANCE is left out.
    The batch keeps the lineage of the rows, so a night appends the rows of its batches
    (their business dates are new) instead of rewriting the month, and an erasure deletes
    the rows of batches up to its date as it does in the transactions. A customer's events
    at one merchant in one month span several rows when several batches delivered them:
    sums and distinct customers are unchanged by that.
    """
    t = pl.col("txn_type")
    purchase, cancel = t == "PURCHASE", t == "CANCEL"
    amount = pl.col("amount")
    # Grouped on the first day of the month (a date, cheap to hash) and formatted YYYY-MM once
    # per output row; rows are not sorted (a month's rollup is as large as its transactions at
    # a million customers, and sorting it cost more than the aggregation).
    return (
        transactions.filter(purchase | cancel)
        .group_by(
            pl.col("event_date").dt.month_start().alias("_month"),
            "customer_no",
            "merchant_id",
            "business_date",
        )
        .agg(
            purchase.sum().cast(pl.Int64).alias("purchase_count"),
            amount.filter(purchase).sum().cast(pl.Int64).alias("purchase_amount"),
            cancel.sum().cast(pl.Int64).alias("cancel_count"),
            amount.filter(cancel).sum().cast(pl.Int64).alias("cancel_amount"),
        )
        .with_columns(pl.col("_month").dt.strftime("%Y-%m").alias("month"))
        .select(ROLLUP_SCHEMA.names())
    )


CELL_COUNTS = ["customer_count", "purchase_count", "net_amount"]


def people(card_customers: pl.LazyFrame, age_bands: pl.LazyFrame) -> pl.LazyFrame:
    """Card customers known as of D (customer_no, gcid and any other column given) with their
    age band as of D: the customer attributes a trend cell depends on."""
    return card_customers.join(age_bands.select("gcid", "age_band"), on="gcid", how="inner")


def shops(merchants: pl.LazyFrame) -> pl.LazyFrame:
    """Merchants known as of D with their (normalized) sido and category: the merchant
    attributes a trend cell depends on."""
    return merchants.select("merchant_id", "sido_code", "category")


def cell_counts(rollup: pl.LazyFrame, people: pl.LazyFrame, shops: pl.LazyFrame) -> pl.LazyFrame:
    """Every trend cell of ``rollup`` with its counts, before k-anonymity.

    ``people``: customer_no -> gcid, age_band (:func:`people`); ``shops``: merchant_id ->
    sido_code, category (:func:`shops`). Events of an unknown customer or at an unknown
    merchant are left out (inner joins). ``customer_count`` counts distinct gcids, so it is a
    sum over persons: the cells of disjoint sets of persons add up (:func:`add_cells`).
    """
    # A dense integer per gcid, so the big join is one on customer_no and the distinct count
    # runs on integers, not 64-char gcids.
    persons = people.select(
        "customer_no", "age_band", pl.col("gcid").rank("dense").alias("_person")
    )
    # Each merchant's (sido_code, category) pair as a dense integer: the aggregation groups on
    # it (and the age band) instead of two strings, and the pair is joined back per cell
    # (about a fifth faster on a month of a million customers' rollup).
    coded = shops.select(
        "merchant_id",
        "sido_code",
        "category",
        pl.struct("sido_code", "category").rank("dense").alias("_shop_cell"),
    )
    pairs = coded.select("_shop_cell", "sido_code", "category").unique("_shop_cell")
    return (
        rollup.join(persons, on="customer_no", how="inner")
        .join(coded.select("merchant_id", "_shop_cell"), on="merchant_id", how="inner")
        .group_by("month", "_shop_cell", "age_band")
        .agg(
            pl.col("_person").n_unique().cast(pl.Int64).alias("customer_count"),
            pl.col("purchase_count").sum().cast(pl.Int64),
            (pl.col("purchase_amount") - pl.col("cancel_amount"))
            .sum()
            .cast(pl.Int64)
            .alias("net_amount"),
        )
        .join(pairs, on="_shop_cell", how="inner")
        .select(TRENDS_SCHEMA.names())
    )


def add_cells(cells: pl.DataFrame, plus: pl.DataFrame, minus: pl.DataFrame) -> pl.DataFrame:
    """``cells`` + ``plus`` - ``minus``, cell by cell; cells left with no customer go.

    Exact when ``minus`` holds the cells of a set of persons as counted in ``cells`` and
    ``plus`` the same persons' cells now. A count that would fall below zero means ``minus``
    was not part of ``cells``: that is an error, never silently clamped.
    """
    parts = [cells, plus, minus.with_columns(-pl.col(c) for c in CELL_COUNTS)]
    out = (
        pl.concat([p.select(TRENDS_SCHEMA.names()) for p in parts], how="vertical")
        .group_by(CELL)
        .agg(pl.col(c).sum().cast(pl.Int64) for c in CELL_COUNTS)
    )
    if out.filter(pl.col("customer_count") < 0).height:
        raise ValueError("trend cells: a subtraction left a negative customer count")
    return out.filter(pl.col("customer_count") > 0).select(TRENDS_SCHEMA.names())


def publish(cells: pl.LazyFrame, *, k: int) -> pl.LazyFrame:
    """The cells with at least ``k`` distinct customers, in cell order."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return cells.filter(pl.col("customer_count") >= k).sort(CELL)


def category_trends(
    rollup: pl.LazyFrame,
    card_customers: pl.LazyFrame,
    age_bands: pl.LazyFrame,
    merchants: pl.LazyFrame,
    *,
    k: int = 5,
) -> pl.LazyFrame:
    """Trend cells with at least ``k`` distinct customers.

    ``card_customers``: customer_no -> gcid of card customers known as of D;
    ``age_bands``: gcid -> age_band as of D; ``merchants``: merchant_id -> sido_code
    (normalized) and category as of D.
    """
    return publish(cell_counts(rollup, people(card_customers, age_bands), shops(merchants)), k=k)
