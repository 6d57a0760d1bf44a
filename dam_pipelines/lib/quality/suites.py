"""The expectation suites of every silver and gold table, declared from the feed registry.

Nothing here is copied per table: a silver suite is derived from its :class:`Feed` (key,
required columns, enums, ranges, conditions, identifier roles), the gold suites from the column
rules of contract §6 below. The ingestion checks (row reconciliation, volume, freshness) are
suites over frames derived from ``audit/batches`` whose results are attached to the silver
table of each feed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache

import polars as pl

from dam_pipelines.lib.card_window import SCHEMA as WINDOW_SPEND_SCHEMA
from dam_pipelines.lib.profile import CATEGORY_EVENTS
from dam_pipelines.lib.quality import checks as ck
from dam_pipelines.lib.quality.checks import RunContext
from dam_pipelines.lib.quality.model import QualityConfig
from dam_pipelines.lib.quality.rules import Op, Rule, Severity
from dam_pipelines.lib.registry import (
    AFFILIATES,
    FEEDS,
    LEGACY_SIDO,
    MERCHANT_CATEGORIES,
    SIDO_CODES,
    DType,
    Feed,
    Kind,
    Role,
)
from dam_pipelines.lib.silver import ROLLUP, WINDOW_SPEND
from dam_pipelines.lib.trends import ROLLUP_SCHEMA

ERROR, WARN = Severity.ERROR, Severity.WARN
IDENTIFIER_ROLES = (Role.DIRECT, Role.PAN, Role.CUSTOMER_KEY, Role.RECORD_KEY)
#: Columns that identify a person or a record without a role in the registry.
EXTRA_IDENTIFIERS = frozenset({"gcid"})
PROFILE = "gold/customer_profile"
TRENDS = "gold/card_category_trends"


@dataclass(frozen=True)
class TableSpec:
    """What is expected of one table (or audit frame) and how to derive its helper columns."""

    key: str  # "silver/card/transactions"; the table path under the warehouse
    columns: tuple[str, ...]
    ordered: bool
    identifiers: frozenset[str]
    context: tuple[str, ...]  # non-identifying columns shown with every offending row
    rules: Callable[[date, QualityConfig], list[Rule]]
    derive: tuple[ck.Derivation, ...] = ()
    #: audit frames: built from other tables; outcomes attach per feed to silver tables
    source: Callable[[RunContext], tuple[object, dict[str, int | None]]] | None = None
    #: audit frames: (check, the table's rows of the frame) -> a sentence naming the feed
    describe: Callable[[str, pl.DataFrame], str] | None = None
    description: str = ""

    @property
    def suite_name(self) -> str:
        return self.key.replace("/", ".")

    @property
    def is_audit(self) -> bool:
        return self.source is not None


def _schema_rules(columns: tuple[str, ...], ordered: bool) -> list[Rule]:
    return [
        Rule(
            "schema",
            Op.EXISTS,
            c,
            index=i if ordered else None,
            description=f"column {c} exists" + (f" at position {i}" if ordered else ""),
        )
        for i, c in enumerate(columns)
    ]


# --- silver ---------------------------------------------------------------------------------


def silver_columns(feed: Feed) -> tuple[str, ...]:
    from dam_pipelines.lib.conform import silver_schema

    return tuple(silver_schema(feed).names())


def _date_column(feed: Feed) -> str:
    return {Kind.EVENT: "event_date", Kind.SNAPSHOT: "snapshot_date"}.get(
        feed.kind, "business_date"
    )


def _silver_values(name: str, values: tuple[str, ...]) -> tuple[str, ...]:
    # Silver normalizes legacy province codes (42 -> 51, 45 -> 52).
    return tuple(v for v in values if v not in LEGACY_SIDO) if name == "sido_code" else values


def _customer_master(feed: Feed) -> bool:
    return feed.has_customer and feed.name not in ("customers", "erasure_requests")


def silver_rules(feed: Feed, as_of: date, cfg: QualityConfig) -> list[Rule]:
    cols = silver_columns(feed)
    dcol = _date_column(feed)
    rules = _schema_rules(cols, ordered=False)
    rules.append(
        Rule(
            "keys",
            Op.KEY,
            feed.key[0],
            columns=feed.key,
            show=(dcol,),
            description=f"key ({', '.join(feed.key)}) is unique and never null",
        )
    )
    rules.append(Rule("as_of", Op.NOT_NULL, dcol, description=f"{dcol} is set"))
    rules.append(
        Rule(
            "as_of",
            Op.BETWEEN,
            dcol,
            max=as_of,
            description=f"{dcol} is not after D (silver is as of D)",
        )
    )
    for c in feed.columns:
        if c.is_direct_identifier or c.name not in cols:
            continue
        if c.required and c.name not in feed.key:
            rules.append(
                Rule(
                    "not_null",
                    Op.NOT_NULL,
                    c.name,
                    show=(dcol,),
                    description=f"{c.name} is required",
                )
            )
        if c.required_when:
            other, value = c.required_when
            rules.append(
                Rule(
                    "conditional",
                    Op.TRUE,
                    f"_dq_{c.name}_when_{other}",
                    show=(other, dcol),
                    description=f"{c.name} is set exactly when {other} = {value}",
                )
            )
        if c.dtype is DType.ENUM:
            rules.append(
                Rule(
                    "enums",
                    Op.IN_SET,
                    c.name,
                    values=_silver_values(c.name, c.values),
                    show=(dcol,),
                    description=f"{c.name} is one of the contract values",
                )
            )
        if c.allowed_ints:
            rules.append(
                Rule(
                    "ranges",
                    Op.IN_SET,
                    c.name,
                    values=c.allowed_ints,
                    show=(dcol,),
                    description=f"{c.name} is one of the allowed values",
                )
            )
        if c.min is not None or c.max is not None:
            rules.append(
                Rule(
                    "ranges",
                    Op.BETWEEN,
                    c.name,
                    min=c.min,
                    max=c.max,
                    strict_min=c.exclusive_min,
                    show=(dcol,),
                    description=f"{c.name} within the contract range",
                )
            )
        if c.role is Role.PAN:
            rules.append(
                Rule(
                    "pseudonymization",
                    Op.TRUE,
                    f"_dq_{c.name}_format",
                    show=(dcol,),
                    description=f"{c.name} is masked (first 6 and last 4 digits only)",
                )
            )
    if "gcid" in cols:
        rules.append(Rule("not_null", Op.NOT_NULL, "gcid", description="gcid is set"))
        rules.append(
            Rule(
                "pseudonymization",
                Op.TRUE,
                "_dq_gcid_format",
                description="gcid is 64 lowercase hex characters",
            )
        )
    if _customer_master(feed):
        rules.append(
            Rule(
                "referential_customer",
                Op.TRUE,
                "_dq_customer_known",
                severity=WARN,
                mostly=1 - cfg.max_unknown_customer_share,
                show=(dcol,),
                description=f"customer_no is known in silver/{feed.affiliate}/customers "
                f"(unknown share at most {cfg.max_unknown_customer_share:.0%})",
            )
        )
    if feed.id == "card/transactions":
        rules.append(
            Rule(
                "referential_merchant",
                Op.TRUE,
                "_dq_merchant_known",
                severity=WARN,
                mostly=1 - cfg.max_unknown_merchant_share,
                show=(dcol, "txn_type"),
                description="merchant_id is known in silver/card/merchants "
                f"(unknown share at most {cfg.max_unknown_merchant_share:.0%})",
            )
        )
    return rules


def silver_spec(feed: Feed) -> TableSpec:
    derive: list[ck.Derivation] = [ck.conditional_flags(feed), ck.format_flag("gcid", ck.GCID_RE)]
    derive += [ck.format_flag(c.name, ck.MASKED_PAN_RE) for c in feed.columns if c.role is Role.PAN]
    if feed.kind is Kind.EVENT:
        derive.append(ck.key_beyond_scope(feed))
    if _customer_master(feed):
        derive.append(
            ck.known_flag(
                feed,
                "customer_no",
                f"silver/{feed.affiliate}/customers",
                "customer_no",
                "_dq_customer_known",
            )
        )
    if feed.id == "card/transactions":
        derive.append(
            ck.known_flag(
                feed, "merchant_id", "silver/card/merchants", "merchant_id", "_dq_merchant_known"
            )
        )
    return TableSpec(
        key=f"silver/{feed.affiliate}/{feed.name}",
        columns=silver_columns(feed),
        ordered=False,
        identifiers=frozenset(c.name for c in feed.columns if c.role in IDENTIFIER_ROLES)
        | EXTRA_IDENTIFIERS,
        context=(_date_column(feed),),
        rules=lambda as_of, cfg: silver_rules(feed, as_of, cfg),
        derive=tuple(derive),
        description=f"silver {feed.kind.value} table of {feed.id}",
    )


#: silver/card/transactions_monthly, the columns its builder writes
ROLLUP_COLUMNS = tuple(ROLLUP_SCHEMA.names())


def rollup_rules(as_of: date, cfg: QualityConfig) -> list[Rule]:
    cols = ROLLUP_COLUMNS
    rules = _schema_rules(cols, ordered=False)
    rules.append(
        Rule(
            "keys",
            Op.KEY,
            "month",
            columns=("month", "customer_no", "merchant_id", "business_date"),
            show=("month",),
            description="one row per (month, customer, merchant, delivering batch)",
        )
    )
    rules.append(
        Rule(
            "ranges",
            Op.REGEX,
            "month",
            pattern=r"^\d{4}-(?:0[1-9]|1[0-2])$",
            description="month is YYYY-MM",
        )
    )
    rules += [
        Rule("ranges", Op.BETWEEN, c, min=0, show=("month",), description=f"{c} >= 0")
        for c in cols[cols.index("purchase_count") :]
    ]
    return rules


ROLLUP_SPEC = TableSpec(
    key=ROLLUP,
    columns=ROLLUP_COLUMNS,
    ordered=False,
    identifiers=frozenset({"customer_no", "merchant_id"}),
    context=("month",),
    rules=rollup_rules,
    derive=(ck.rollup_reconciliation,),
    description="monthly card rollup feeding the trends",
)


#: silver/card/window_spend, the columns its builder writes
WINDOW_SPEND_COLUMNS = tuple(WINDOW_SPEND_SCHEMA.names())


def window_spend_rules(as_of: date, cfg: QualityConfig) -> list[Rule]:
    rules = _schema_rules(WINDOW_SPEND_COLUMNS, ordered=False)
    rules.append(
        Rule(
            "keys",
            Op.KEY,
            "customer_no",
            columns=("customer_no",),
            description="one row per customer number",
        )
    )
    rules += [
        Rule("ranges", Op.BETWEEN, c, min=0, description=f"{c} >= 0")
        for c in (
            "purchase_count_90d",
            "cash_advance_90d",
            "overseas_purchase_90d",
            "purchase_amount_90d",
            "net_events_90d",
            *CATEGORY_EVENTS,
        )
    ]
    rules.append(
        Rule(
            "ranges",
            Op.BETWEEN,
            "events_90d",
            min=1,
            description="a row has at least one event in the 90-day window",
        )
    )
    rules.append(
        Rule(
            "ranges",
            Op.BETWEEN,
            "first_business_date",
            max=as_of,
            description="first_business_date <= D",
        )
    )
    return rules


WINDOW_SPEND_SPEC = TableSpec(
    key=WINDOW_SPEND,
    columns=WINDOW_SPEND_COLUMNS,
    ordered=False,
    identifiers=frozenset({"customer_no"}),
    context=("first_business_date",),
    rules=window_spend_rules,
    derive=(ck.window_spend_reconciliation,),
    description="card window sums feeding the profile, carried forward night by night",
)


# --- gold -----------------------------------------------------------------------------------

#: contract §6, in table order
PROFILE_COLUMNS = (
    "gcid",
    "as_of_date",
    "age",
    "age_band",
    "gender",
    "sido_code",
    "bank_status",
    "card_status",
    "securities_status",
    "life_status",
    "active_affiliate_count",
    "marketing_consent",
    "card_spend_30d",
    "card_spend_90d",
    "card_purchase_count_90d",
    "card_cash_advance_90d",
    "card_overseas_share_90d",
    "card_top_category_90d",
    "deposit_balance",
    "deposit_account_count",
    "loan_outstanding",
    "loan_max_days_past_due",
    "securities_market_value",
    "securities_trade_count_90d",
    "securities_trade_amount_90d",
    "risk_grade",
    "insurance_active_policy_count",
    "insurance_monthly_premium",
    "insurance_sum_assured",
    "insurance_lapsed_policy_count",
    "premium_failed_count_90d",
    "total_assets",
    "net_assets",
    "life_stage",
)
PROFILE_REQUIRED = (
    "as_of_date",
    "age",
    "age_band",
    "gender",
    "sido_code",
    "active_affiliate_count",
    "marketing_consent",
    "total_assets",
    "net_assets",
    "life_stage",
)
#: counts and amounts that can never be negative (spend can: a cancel of an older purchase)
PROFILE_NON_NEGATIVE = (
    "card_purchase_count_90d",
    "card_cash_advance_90d",
    "deposit_balance",
    "deposit_account_count",
    "loan_outstanding",
    "loan_max_days_past_due",
    "securities_market_value",
    "securities_trade_count_90d",
    "securities_trade_amount_90d",
    "insurance_active_policy_count",
    "insurance_monthly_premium",
    "insurance_sum_assured",
    "insurance_lapsed_policy_count",
    "premium_failed_count_90d",
    "total_assets",
)
STATUSES = ("ACTIVE", "DORMANT", "CLOSED")
TRENDS_COLUMNS = (
    "month",
    "sido_code",
    "category",
    "age_band",
    "customer_count",
    "purchase_count",
    "net_amount",
)


@cache
def _life_stages() -> tuple[str, ...]:
    from dam_pipelines.lib.life_stage import LIFE_STAGES

    return tuple(LIFE_STAGES)


def profile_rules(as_of: date, cfg: QualityConfig) -> list[Rule]:
    rules = _schema_rules(PROFILE_COLUMNS, ordered=True)
    rules.append(
        Rule("keys", Op.KEY, "gcid", columns=("gcid",), description="one row per gcid, never null")
    )
    rules.append(
        Rule(
            "pseudonymization",
            Op.TRUE,
            "_dq_gcid_format",
            description="gcid is 64 lowercase hex characters",
        )
    )
    rules.append(
        Rule("as_of", Op.BETWEEN, "as_of_date", min=as_of, max=as_of, description="as_of_date is D")
    )
    rules += [Rule("not_null", Op.NOT_NULL, c, description=f"{c} is set") for c in PROFILE_REQUIRED]
    enums: dict[str, tuple[object, ...]] = {
        "age_band": ck.AGE_BANDS,
        "gender": ("M", "F"),
        "sido_code": SIDO_CODES,
        **{f"{a}_status": STATUSES for a in AFFILIATES},
        "card_top_category_90d": MERCHANT_CATEGORIES,
        "life_stage": _life_stages(),
    }
    rules += [
        Rule("enums", Op.IN_SET, c, values=v, description=f"{c} is one of the allowed values")
        for c, v in enums.items()
    ]
    rules += [
        Rule("ranges", Op.BETWEEN, "age", min=0, max=150, description="age in 0..150"),
        Rule(
            "ranges",
            Op.BETWEEN,
            "active_affiliate_count",
            min=0,
            max=len(AFFILIATES),
            description="active_affiliate_count in 0..4",
        ),
        Rule(
            "ranges",
            Op.BETWEEN,
            "card_overseas_share_90d",
            min=0,
            max=1,
            description="card_overseas_share_90d is a share in [0, 1]",
        ),
        Rule("ranges", Op.BETWEEN, "risk_grade", min=1, max=5, description="risk_grade in 1..5"),
    ]
    rules += [
        Rule("ranges", Op.BETWEEN, c, min=0, description=f"{c} >= 0") for c in PROFILE_NON_NEGATIVE
    ]
    consistency = [
        ("_dq_age_band_matches_age", ("age", "age_band"), "age_band is the band of age"),
        ("_dq_has_relationship", (), "the customer has a relationship with some affiliate"),
        (
            "_dq_active_count_matches_statuses",
            ("active_affiliate_count",),
            "active_affiliate_count counts the statuses that are not CLOSED",
        ),
        (
            "_dq_net_assets_formula",
            ("total_assets", "net_assets"),
            "net_assets = total_assets - loan_outstanding",
        ),
        *[
            (
                f"_dq_{a}_metrics_match_relationship",
                (f"{a}_status",),
                f"{a} metrics are null exactly when there is no {a} relationship",
            )
            for a in ck.AFFILIATE_METRICS
        ],
    ]
    rules += [
        Rule("consistency", Op.TRUE, col, show=show, description=text)
        for col, show, text in consistency
    ]
    return rules


def trends_rules(as_of: date, cfg: QualityConfig) -> list[Rule]:
    rules = _schema_rules(TRENDS_COLUMNS, ordered=True)
    cell = ("month", "sido_code", "category", "age_band")
    rules.append(
        Rule(
            "keys",
            Op.KEY,
            "month",
            columns=cell,
            show=cell,
            description="one row per (month, sido_code, category, age_band)",
        )
    )
    rules += [
        Rule("enums", Op.IN_SET, "sido_code", values=SIDO_CODES, description="normalized sido"),
        Rule(
            "enums",
            Op.IN_SET,
            "category",
            values=MERCHANT_CATEGORIES,
            description="a contract merchant category",
        ),
        Rule("enums", Op.IN_SET, "age_band", values=ck.AGE_BANDS, description="an age band"),
        Rule(
            "ranges",
            Op.REGEX,
            "month",
            pattern=r"^\d{4}-(?:0[1-9]|1[0-2])$",
            description="month is YYYY-MM",
        ),
        Rule(
            "ranges",
            Op.TRUE,
            "_dq_month_not_after_d",
            show=("month",),
            description="month is not after D's month",
        ),
        Rule("ranges", Op.BETWEEN, "purchase_count", min=0, description="purchase_count >= 0"),
        Rule(
            "k_anonymity",
            Op.BETWEEN,
            "customer_count",
            min=cfg.k_anonymity,
            show=cell,
            description=f"every published cell has at least k = {cfg.k_anonymity} customers",
        ),
    ]
    return rules


PROFILE_SPEC = TableSpec(
    key=PROFILE,
    columns=PROFILE_COLUMNS,
    ordered=True,
    identifiers=frozenset({"gcid"}),
    context=(),
    rules=profile_rules,
    derive=(
        ck.format_flag("gcid", ck.GCID_RE),
        ck.profile_consistency,
        ck.card_spend_reconciliation,
    ),
    description="gold customer profile (contract §6)",
)
TRENDS_SPEC = TableSpec(
    key=TRENDS,
    columns=TRENDS_COLUMNS,
    ordered=True,
    identifiers=frozenset(),
    context=(),
    rules=trends_rules,
    derive=(ck.month_not_after,),
    description="gold card category trends, k-anonymous (contract §6)",
)


# --- ingestion (audit/batches), attached to each feed's silver table ------------------------


def batches_rules(as_of: date, cfg: QualityConfig) -> list[Rule]:
    return [
        Rule(
            "batch_row_reconciliation",
            Op.BETWEEN,
            "_dq_unaccounted_rows",
            min=0,
            max=0,
            show=(
                "business_date",
                "revision",
                "rows_read",
                "rows_loaded",
                "rows_quarantined",
                "rows_suppressed",
                "_dq_unaccounted_rows",
            ),
            description="rows_read = rows_loaded + rows_quarantined (+ rows_suppressed) for every "
            "loaded batch",
        )
    ]


def feed_status_rules(as_of: date, cfg: QualityConfig) -> list[Rule]:
    return [
        Rule(
            "freshness",
            Op.TRUE,
            "_dq_fresh",
            severity=WARN,
            show=("affiliate", "feed", "latest_loaded_date", "d_status"),
            description="the feed's latest loaded business date is D",
        ),
        Rule(
            "volume_anomaly",
            Op.TRUE,
            "_dq_volume_in_range",
            severity=WARN,
            show=(
                "affiliate",
                "feed",
                "rows_loaded_d",
                "history_days",
                "history_median",
                "expected_low",
                "expected_high",
            ),
            description=f"D's loaded rows within median ± {cfg.volume_mad_factor:g}×MAD of the "
            f"last {cfg.volume_history_days} loaded days (at least {cfg.volume_min_history})",
        ),
    ]


def describe_ingestion(check: str, rows: pl.DataFrame) -> str:
    """Name the feed, and say what is wrong with it, for a failed ingestion check."""
    if check == "batch_row_reconciliation":
        bad = rows.filter(pl.col("_dq_unaccounted_rows") != 0).head(3)
        return "; ".join(
            f"{r['affiliate']}/{r['feed']} {r['business_date']} r{r['revision']}: read "
            f"{r['rows_read']:,}, loaded {r['rows_loaded']:,}, quarantined "
            f"{r['rows_quarantined']:,}, suppressed {r['rows_suppressed']:,} -> "
            f"{r['_dq_unaccounted_rows']:+,} unaccounted"
            for r in bad.iter_rows(named=True)
        )
    for r in rows.iter_rows(named=True):
        feed = f"{r['affiliate']}/{r['feed']}"
        if check == "freshness" and not r["_dq_fresh"]:
            return (
                f"{feed}: latest loaded business date {r['latest_loaded_date'] or 'none'}, "
                f"not D; D's batch: {r['d_status']}"
            )
        if check == "volume_anomaly" and r["_dq_volume_in_range"] is False:
            return (
                f"{feed}: {r['rows_loaded_d']:,} rows loaded on D, expected "
                f"{r['expected_low']:,.0f}..{r['expected_high']:,.0f} (median "
                f"{r['history_median']:,.0f} of the last {r['history_days']} loaded days)"
            )
    return ""


BATCHES_SPEC = TableSpec(
    key="audit/batches",
    columns=(),
    ordered=False,
    identifiers=frozenset(),
    context=(),
    rules=batches_rules,
    source=ck.batches_frame,
    describe=describe_ingestion,
    description="loaded batches: every data row loaded, quarantined or suppressed",
)
FEED_STATUS_SPEC = TableSpec(
    key="audit/feed_status",
    columns=(),
    ordered=False,
    identifiers=frozenset(),
    context=(),
    rules=feed_status_rules,
    source=ck.feed_status_frame,
    describe=describe_ingestion,
    description="per feed: latest loaded business date and D's volume against its history",
)

SILVER_SPECS: dict[str, TableSpec] = {s.key: s for s in map(silver_spec, FEEDS)}
SILVER_SPECS[ROLLUP] = ROLLUP_SPEC
SILVER_SPECS[WINDOW_SPEND] = WINDOW_SPEND_SPEC
GOLD_SPECS: dict[str, TableSpec] = {PROFILE: PROFILE_SPEC, TRENDS: TRENDS_SPEC}
TABLE_SPECS: dict[str, TableSpec] = {**SILVER_SPECS, **GOLD_SPECS}
AUDIT_SPECS: tuple[TableSpec, ...] = (BATCHES_SPEC, FEED_STATUS_SPEC)
#: silver tables that carry the ingestion checks (one per registry feed)
FEED_TABLES = tuple(f"silver/{f.affiliate}/{f.name}" for f in FEEDS)


#: What each check means (Dagster shows it next to the check).
CHECK_DESCRIPTIONS: dict[str, str] = {
    "schema": "every expected column is present (gold: in contract order)",
    "keys": "the table key is unique and never null",
    "as_of": "the table is as of D: its business/event/snapshot dates are set and not after D",
    "not_null": "required columns are set",
    "conditional": "columns required under a condition are set exactly then (contract §2)",
    "enums": "coded columns hold contract values only",
    "ranges": "values within the contract ranges (counts >= 0, shares in [0, 1], ...)",
    "pseudonymization": "gcids are HMAC hex digests and card numbers are masked",
    "consistency": "profile columns agree with each other (age band, statuses, null vs 0)",
    "referential_customer": "share of rows whose customer_no is unknown stays within the limit",
    "referential_merchant": "share of transactions whose merchant is unknown stays within the limit",
    "card_spend_reconciliation": "card spend in the profile equals the silver card transactions",
    "rollup_reconciliation": "the monthly rollup sums equal the silver card transactions",
    "window_spend_reconciliation": "the card window sums equal the silver card transactions",
    "k_anonymity": "every published trend cell has at least k distinct customers",
    "batch_row_reconciliation": "every data row of every loaded batch was loaded or quarantined",
    "volume_anomaly": "D's loaded rows are within the feed's trailing history",
    "freshness": "the feed's latest loaded business date is D",
}


@dataclass(frozen=True)
class PlannedCheck:
    table: str
    name: str
    severity: Severity
    description: str


def _rules_for_planning(spec: TableSpec) -> list[Rule]:
    rules = spec.rules(date(2000, 1, 1), QualityConfig())
    if spec.key == PROFILE:
        rules.append(
            Rule(
                "card_spend_reconciliation",
                Op.SUM_EQUALS,
                "card_spend_90d",
                description="card_spend_30d/90d reconcile with silver card transactions",
            )
        )
    if spec.key == WINDOW_SPEND:
        rules.append(
            Rule(
                "window_spend_reconciliation",
                Op.SUM_EQUALS,
                "spend_90d",
                description="window sums reconcile with silver card transactions",
            )
        )
    if spec.key == ROLLUP:
        rules.append(
            Rule(
                "rollup_reconciliation",
                Op.SUM_EQUALS,
                "purchase_amount",
                description="purchase/cancel sums reconcile with silver transactions",
            )
        )
    return rules


@cache
def planned_checks(table: str) -> tuple[PlannedCheck, ...]:
    """The checks :func:`~.runner.run_quality` reports for ``table`` (static, for Dagster)."""
    if table not in TABLE_SPECS:
        raise KeyError(f"no quality suite for {table}; known: {sorted(TABLE_SPECS)}")
    rules = _rules_for_planning(TABLE_SPECS[table])
    if table in FEED_TABLES:
        for spec in AUDIT_SPECS:
            rules += spec.rules(date(2000, 1, 1), QualityConfig())
    severity: dict[str, Severity] = {}
    for r in rules:
        # A check is blocking when any of its rules is.
        severity[r.check] = ERROR if ERROR in (r.severity, severity.get(r.check)) else r.severity
    return tuple(
        PlannedCheck(table, name, sev, CHECK_DESCRIPTIONS.get(name, name))
        for name, sev in severity.items()
    )
