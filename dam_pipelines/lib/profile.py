"""``gold/customer_profile``: one row per gcid known from any affiliate's customers as of D.

Small pure functions over lazy frames, one per group of columns of contract §6, assembled by
:func:`customer_profile`. Every input is a silver table as of D; events are attributed to a
gcid through the customers of their own affiliate as of D (an unknown customer counts nowhere).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from dam_pipelines.lib.life_stage import life_stage
from dam_pipelines.lib.registry import MERCHANT_CATEGORIES

AFFILIATES = ("bank", "card", "securities", "life")  # also the sido tie order of §6

PROFILE_SCHEMA = pl.Schema(
    {
        "gcid": pl.Utf8(),
        "as_of_date": pl.Date(),
        "age": pl.Int64(),
        "age_band": pl.Utf8(),
        "gender": pl.Utf8(),
        "sido_code": pl.Utf8(),
        "bank_status": pl.Utf8(),
        "card_status": pl.Utf8(),
        "securities_status": pl.Utf8(),
        "life_status": pl.Utf8(),
        "active_affiliate_count": pl.Int64(),
        "marketing_consent": pl.Boolean(),
        "card_spend_30d": pl.Int64(),
        "card_spend_90d": pl.Int64(),
        "card_purchase_count_90d": pl.Int64(),
        "card_cash_advance_90d": pl.Int64(),
        "card_overseas_share_90d": pl.Float64(),
        "card_top_category_90d": pl.Utf8(),
        "deposit_balance": pl.Int64(),
        "deposit_account_count": pl.Int64(),
        "loan_outstanding": pl.Int64(),
        "loan_max_days_past_due": pl.Int64(),
        "securities_market_value": pl.Int64(),
        "securities_trade_count_90d": pl.Int64(),
        "securities_trade_amount_90d": pl.Int64(),
        "risk_grade": pl.Int64(),
        "insurance_active_policy_count": pl.Int64(),
        "insurance_monthly_premium": pl.Int64(),
        "insurance_sum_assured": pl.Int64(),
        "insurance_lapsed_policy_count": pl.Int64(),
        "premium_failed_count_90d": pl.Int64(),
        "total_assets": pl.Int64(),
        "net_assets": pl.Int64(),
        "life_stage": pl.Utf8(),
    }
)

#: Per-affiliate metrics: null without a relationship, 0 with one but no activity.
ZERO_WHEN_RELATED: dict[str, tuple[str, ...]] = {
    "card": (
        "card_spend_30d",
        "card_spend_90d",
        "card_purchase_count_90d",
        "card_cash_advance_90d",
    ),
    "bank": (
        "deposit_balance",
        "deposit_account_count",
        "loan_outstanding",
        "loan_max_days_past_due",
    ),
    "securities": (
        "securities_market_value",
        "securities_trade_count_90d",
        "securities_trade_amount_90d",
    ),
    "life": (
        "insurance_active_policy_count",
        "insurance_monthly_premium",
        "insurance_sum_assured",
        "insurance_lapsed_policy_count",
        "premium_failed_count_90d",
    ),
}

LIVE_DEPOSIT = ("ACTIVE", "DORMANT")
LIVE_LOAN = ("NORMAL", "DELINQUENT", "DEFAULTED")
HOUSING_LOANS = ("MORTGAGE", "JEONSE")


@dataclass(frozen=True)
class ProfileInputs:
    """Silver tables as of D (lazy). ``customers`` maps affiliate -> silver customers;
    ``card_window`` is ``silver/card/window_spend``, the card transactions' window sums."""

    customers: Mapping[str, pl.LazyFrame]
    card_window: pl.LazyFrame  # :func:`widen`-ed :func:`card_window_sums` per customer_no as of D
    deposit_accounts: pl.LazyFrame
    loans: pl.LazyFrame
    holdings: pl.LazyFrame
    trades: pl.LazyFrame
    policies: pl.LazyFrame
    premium_payments: pl.LazyFrame


def window(as_of: date, days: int) -> pl.Expr:
    """Event dates D-(days-1)..D: the 30d window is D-29..D, the 90d window D-89..D."""
    return pl.col("event_date").is_between(as_of - timedelta(days=days - 1), as_of)


def age_years(as_of: date, birth: str = "birth_date") -> pl.Expr:
    """Whole years from birth to D; a birthday not reached yet this year counts one less.

    Compared as (month, day), so a 29 February birthday is reached on 1 March in common years.
    """
    b = pl.col(birth)
    not_yet = (b.dt.month().cast(pl.Int64) * 100 + b.dt.day().cast(pl.Int64)) > (
        as_of.month * 100 + as_of.day
    )
    return (
        pl.lit(as_of.year, pl.Int64) - b.dt.year().cast(pl.Int64) - not_yet.cast(pl.Int64)
    ).alias("age")


def age_band(age: str = "age") -> pl.Expr:
    """``0-19``, ``20-29`` .. ``60-69``, ``70+``."""
    a = pl.col(age)
    decade = (a // 10) * 10
    return (
        pl.when(a < 20)
        .then(pl.lit("0-19"))
        .when(a >= 70)
        .then(pl.lit("70+"))
        .otherwise(decade.cast(pl.Utf8) + "-" + (decade + 9).cast(pl.Utf8))
        .alias("age_band")
    )


def relationships(customers: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """One customers record per (gcid, affiliate), CLOSED ones included.

    Producers guarantee one customer number per person and affiliate; should two ever share a
    gcid, the record with the latest updated_at stands for the relationship.
    """
    cols = [
        "gcid",
        "customer_no",
        "birth_date",
        "gender",
        "sido_code",
        "status",
        "marketing_consent",
        "risk_grade",
        "updated_at",
    ]
    frames = [
        lf.select(cols).with_columns(
            pl.lit(aff).alias("affiliate"),
            pl.lit(AFFILIATES.index(aff), pl.Int64).alias("aff_rank"),
        )
        for aff, lf in customers.items()
    ]
    return (
        pl.concat(frames, how="vertical")
        .sort(
            ["gcid", "aff_rank", "updated_at", "customer_no"],
            descending=[False, False, True, False],
        )
        .unique(subset=["gcid", "affiliate"], keep="first", maintain_order=True)
    )


def demographics(rel: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """gcid, age, age_band, gender, sido_code from the record with the latest updated_at.

    updated_at is stored in UTC, so comparing it compares instants; ties go to bank, card,
    securities, life. Gender and birth date come from that same record.
    """
    return (
        rel.sort(["gcid", "updated_at", "aff_rank"], descending=[False, True, False])
        .unique(subset=["gcid"], keep="first", maintain_order=True)
        .select("gcid", age_years(as_of), "gender", "sido_code")
        .with_columns(age_band())
        .select("gcid", "age", "age_band", "gender", "sido_code")
    )


def affiliate_summary(rel: pl.LazyFrame) -> pl.LazyFrame:
    """Statuses per affiliate, active relationships, marketing consent and risk grade."""
    open_ = pl.col("status") != "CLOSED"
    return rel.group_by("gcid").agg(
        *[
            pl.col("status").filter(pl.col("affiliate") == a).first().alias(f"{a}_status")
            for a in AFFILIATES
        ],
        open_.sum().cast(pl.Int64).alias("active_affiliate_count"),
        # true when some relationship is open and every open one says Y; false otherwise
        (open_.any() & (pl.col("marketing_consent") | ~open_).all()).alias("marketing_consent"),
        pl.col("risk_grade")
        .filter(pl.col("affiliate") == "securities")
        .first()
        .cast(pl.Int64)
        .alias("risk_grade"),
    )


def attribute(events: pl.LazyFrame, customers: pl.LazyFrame) -> pl.LazyFrame:
    """Attach the gcid of the event's customer as of D; events of unknown customers drop."""
    return events.join(customers.select("customer_no", "gcid"), on="customer_no", how="inner")


#: ``card_window_sums`` per (key, category): the card sums of the profile's windows.
WINDOW_SUMS = pl.Schema(
    {
        "spend_30d": pl.Int64(),  # PURCHASE minus CANCEL amounts, 30d
        "spend_90d": pl.Int64(),  # PURCHASE minus CANCEL amounts, 90d (the category's net)
        "purchase_count_90d": pl.Int64(),
        "cash_advance_90d": pl.Int64(),
        "overseas_purchase_90d": pl.Int64(),
        "purchase_amount_90d": pl.Int64(),
        "net_events_90d": pl.Int64(),  # PURCHASE and CANCEL events, 90d
        "events_90d": pl.Int64(),
    }
)


def card_window_sums(
    txns: pl.LazyFrame, merchants: pl.LazyFrame, as_of: date, *, by: str = "customer_no"
) -> pl.LazyFrame:
    """The card sums of the 30d and 90d windows as of D per (``by``, merchant category as of
    D); ``category`` is null for events at merchants unknown as of D.

    Additive over rows, so a night can add and subtract rows instead of recomputing
    (``silver/card/window_spend``, lib/card_window.py). Also ``first_business_date``, the
    earliest batch a row's events came from (None without a ``business_date`` column).
    Plain column sums (no filters inside aggregations) keep the streaming engine's memory flat.
    """
    typ, amount = pl.col("txn_type"), pl.col("amount")
    purchase, cancel = typ == "PURCHASE", typ == "CANCEL"
    signed = pl.when(purchase).then(amount).when(cancel).then(-amount).otherwise(0)

    def when(cond: pl.Expr, value: pl.Expr) -> pl.Expr:
        return pl.when(cond).then(value).otherwise(0)

    first = (
        pl.col("business_date").min().cast(pl.Date)
        if "business_date" in txns.collect_schema()
        else pl.lit(None, pl.Date)
    )
    return (
        txns.filter(window(as_of, 90))
        .join(merchants.select("merchant_id", "category"), on="merchant_id", how="left")
        .group_by(by, "category")
        .agg(
            when(window(as_of, 30), signed).sum().alias("spend_30d"),
            signed.sum().alias("spend_90d"),
            purchase.cast(pl.Int64).sum().alias("purchase_count_90d"),
            when(typ == "CASH_ADVANCE", amount).sum().alias("cash_advance_90d"),
            when(purchase & pl.col("is_overseas"), amount).sum().alias("overseas_purchase_90d"),
            when(purchase, amount).sum().alias("purchase_amount_90d"),
            (purchase | cancel).cast(pl.Int64).sum().alias("net_events_90d"),
            pl.len().alias("events_90d"),
            first.alias("first_business_date"),
        )
        .with_columns([pl.col(c).cast(t) for c, t in WINDOW_SUMS.items()])
    )


def category_columns(category: str) -> tuple[str, str]:
    """The window sums' columns of one merchant category: its 90-day net (PURCHASE minus
    CANCEL amounts) and its PURCHASE and CANCEL events."""
    c = category.lower()
    return f"spend_90d_{c}", f"net_events_90d_{c}"


#: Per merchant category of the contract, what the category metrics need (the top category
#: and the education net): the category's 90-day net and its PURCHASE/CANCEL events.
CATEGORY_COLUMNS = {cat: category_columns(cat) for cat in MERCHANT_CATEGORIES}
CATEGORY_SUMS = pl.Schema({name: pl.Int64() for pair in CATEGORY_COLUMNS.values() for name in pair})
#: The per-category PURCHASE/CANCEL event counts (never below zero)
CATEGORY_EVENTS = [events for _, events in CATEGORY_COLUMNS.values()]
#: The window sums of one customer: :data:`WINDOW_SUMS` over all their events (unknown
#: merchants included), then :data:`CATEGORY_SUMS`.
WIDE_SUMS = pl.Schema({**WINDOW_SUMS, **CATEGORY_SUMS})


def widen(sums: pl.LazyFrame, *, by: str = "customer_no") -> pl.LazyFrame:
    """:func:`card_window_sums` rows (per ``by`` and category) as one row per ``by``:
    :data:`WIDE_SUMS` and the earliest ``first_business_date``. Additive like its input, so
    window moves can be widened before they are added (lib/card_window.py)."""
    cat = pl.col("category")

    def within(category: str, column: str) -> pl.Expr:
        return pl.when(cat == category).then(pl.col(column)).otherwise(0).sum()

    per_category = [
        within(c, source).alias(name)
        for c, names in CATEGORY_COLUMNS.items()
        for source, name in zip(("spend_90d", "net_events_90d"), names, strict=True)
    ]
    return (
        sums.group_by(by)
        .agg(
            *[pl.col(c).sum() for c in WINDOW_SUMS.names()],
            *per_category,
            pl.col("first_business_date").min(),
        )
        .with_columns([pl.col(c).cast(t) for c, t in WIDE_SUMS.items()])
    )


def card_metrics(sums: pl.LazyFrame) -> pl.LazyFrame:
    """Card columns of §6 (plus ``education_net_90d`` for the life stage) per gcid, from
    :func:`widen`-ed window sums attributed to gcids (one row per customer number; a person
    holding two would have two).

    Spend, counts and overseas share include events at unknown merchants (in the totals);
    the category metrics need the merchant's category as of D. A category counts for the
    top category and the education net when it had a PURCHASE or CANCEL event; the top
    category is the largest positive net, ties alphabetical.
    """
    per = sums.group_by("gcid").agg(pl.col(WIDE_SUMS.names()).sum())
    net = {
        c: pl.when(pl.col(events) > 0).then(pl.col(spend))
        for c, (spend, events) in CATEGORY_COLUMNS.items()
    }
    best = pl.max_horizontal(list(net.values()))
    top = pl.when(best > 0).then(
        pl.coalesce([pl.when(net[c] == best).then(pl.lit(c)) for c in sorted(net)])
    )
    purchased = pl.col("purchase_amount_90d")
    return per.select(
        "gcid",
        pl.col("spend_30d").alias("card_spend_30d"),
        pl.col("spend_90d").alias("card_spend_90d"),
        pl.col("purchase_count_90d").alias("card_purchase_count_90d"),
        pl.col("cash_advance_90d").alias("card_cash_advance_90d"),
        pl.when(purchased > 0)
        .then(pl.col("overseas_purchase_90d").cast(pl.Float64) / purchased.cast(pl.Float64))
        .alias("card_overseas_share_90d"),
        top.alias("card_top_category_90d"),
        net["EDUCATION"].alias("education_net_90d"),
    )


def deposit_metrics(accounts: pl.LazyFrame) -> pl.LazyFrame:
    live = accounts.filter(pl.col("status").is_in(LIVE_DEPOSIT))
    return live.group_by("gcid").agg(
        pl.col("balance").sum().cast(pl.Int64).alias("deposit_balance"),
        pl.len().cast(pl.Int64).alias("deposit_account_count"),
    )


def loan_metrics(loans: pl.LazyFrame) -> pl.LazyFrame:
    live = loans.filter(pl.col("status").is_in(LIVE_LOAN))
    return live.group_by("gcid").agg(
        pl.col("outstanding_balance").sum().cast(pl.Int64).alias("loan_outstanding"),
        pl.col("days_past_due").max().cast(pl.Int64).alias("loan_max_days_past_due"),
        pl.col("loan_type").is_in(HOUSING_LOANS).any().alias("has_housing_loan"),
    )


def holding_metrics(holdings: pl.LazyFrame) -> pl.LazyFrame:
    return holdings.group_by("gcid").agg(
        pl.col("market_value").sum().cast(pl.Int64).alias("securities_market_value")
    )


def trade_metrics(trades: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    return (
        trades.filter(window(as_of, 90))
        .group_by("gcid")
        .agg(
            pl.len().cast(pl.Int64).alias("securities_trade_count_90d"),
            pl.col("amount").sum().cast(pl.Int64).alias("securities_trade_amount_90d"),
        )
    )


def policy_metrics(policies: pl.LazyFrame) -> pl.LazyFrame:
    active = pl.col("status") == "ACTIVE"
    return policies.group_by("gcid").agg(
        active.sum().cast(pl.Int64).alias("insurance_active_policy_count"),
        pl.col("monthly_premium")
        .filter(active)
        .sum()
        .cast(pl.Int64)
        .alias("insurance_monthly_premium"),
        pl.col("sum_assured").filter(active).sum().cast(pl.Int64).alias("insurance_sum_assured"),
        (pl.col("status") == "LAPSED").sum().cast(pl.Int64).alias("insurance_lapsed_policy_count"),
        pl.col("surrender_value")
        .filter(active)
        .sum()
        .cast(pl.Int64)
        .alias("surrender_value_active"),
        (active & (pl.col("product_type") == "ANNUITY")).any().alias("has_annuity"),
    )


def premium_metrics(payments: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    return (
        payments.filter(window(as_of, 90))
        .group_by("gcid")
        .agg((pl.col("result") == "FAILED").sum().cast(pl.Int64).alias("premium_failed_count_90d"))
    )


def _zero_when_related() -> list[pl.Expr]:
    return [
        pl.when(pl.col(f"{aff}_status").is_not_null())
        .then(pl.col(c).fill_null(0))
        .otherwise(None)
        .cast(pl.Int64)
        .alias(c)
        for aff, cols in ZERO_WHEN_RELATED.items()
        for c in cols
    ]


def surrogate_ids(customers: Mapping[str, pl.LazyFrame]) -> pl.DataFrame:
    """Every gcid known from any affiliate (sorted) with a dense integer ``gid``.

    The metrics group on the integer instead of the 64-character gcid, which more than halves
    the memory of the 90-day aggregations over a million customers. Materialized once, so
    every join in the plan sees the same numbering.
    """
    known = pl.concat([lf.select("gcid") for lf in customers.values()], how="vertical")
    return known.unique().sort("gcid").collect().with_row_index("gid")


def customer_profile(inputs: ProfileInputs, as_of: date) -> pl.LazyFrame:
    """The whole profile as of ``as_of``, columns and types of :data:`PROFILE_SCHEMA`."""
    ids = surrogate_ids(inputs.customers)
    # Internally "gcid" holds the integer gid; the real gcid is joined back at the end.
    cust = {
        aff: lf.join(ids.lazy(), on="gcid", how="inner").drop("gcid").rename({"gid": "gcid"})
        for aff, lf in inputs.customers.items()
    }
    rel = relationships(cust)
    parts = [
        card_metrics(attribute(inputs.card_window, cust["card"])),
        deposit_metrics(attribute(inputs.deposit_accounts, cust["bank"])),
        loan_metrics(attribute(inputs.loans, cust["bank"])),
        holding_metrics(attribute(inputs.holdings, cust["securities"])),
        trade_metrics(attribute(inputs.trades, cust["securities"]), as_of),
        policy_metrics(attribute(inputs.policies, cust["life"])),
        premium_metrics(attribute(inputs.premium_payments, cust["life"]), as_of),
    ]
    lf = demographics(rel, as_of).join(affiliate_summary(rel), on="gcid", how="left")
    for part in parts:
        # Metrics only for gcids of the profile: a left join keeps the profile's rows.
        lf = lf.join(part, on="gcid", how="left")
    zero = pl.lit(0, pl.Int64)
    return (
        lf.with_columns(_zero_when_related())
        .with_columns(
            total_assets=(
                pl.col("deposit_balance").fill_null(zero)
                + pl.col("securities_market_value").fill_null(zero)
                + pl.col("surrender_value_active").fill_null(zero)
            ).cast(pl.Int64),
            as_of_date=pl.lit(as_of, pl.Date),
        )
        .with_columns(
            net_assets=(pl.col("total_assets") - pl.col("loan_outstanding").fill_null(zero)),
            life_stage=life_stage(),
        )
        .rename({"gcid": "gid"})
        .join(ids.lazy(), on="gid", how="inner")
        .select([pl.col(c).cast(t) for c, t in PROFILE_SCHEMA.items()])
        .sort("gcid")
    )
