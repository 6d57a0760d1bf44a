"""The declared feed registry: every feed of the contract, its kind, key, columns and rules.

One registry drives the generator, validation, the bronze assets, silver and the checks.
Adding an affiliate or a public/reference source is a new entry in :data:`FEEDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    CHANGE = "change"
    SNAPSHOT = "snapshot"
    EVENT = "event"


class DType(StrEnum):
    STRING = "string"
    INT = "int"
    DECIMAL = "decimal"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOL = "bool"  # Y/N in csv
    ENUM = "enum"


class Role(StrEnum):
    """Privacy classification of a column (drives masking, landing and the catalog)."""

    DIRECT = "direct_identifier"  # never lands (rrn, name, phone)
    PAN = "masked_card_number"  # must be masked; a full PAN never lands
    CUSTOMER_KEY = "affiliate_customer_key"  # affiliate customer number (pseudonymous)
    RECORD_KEY = "record_key"  # account/loan/policy/approval numbers
    QUASI = "quasi_identifier"  # birth date, gender, province
    FINANCIAL = "financial"
    ATTRIBUTE = "attribute"


#: Province (sido) codes in force; legacy codes are accepted and normalized in silver.
SIDO_CODES = (
    "11",
    "26",
    "27",
    "28",
    "29",
    "30",
    "31",
    "36",
    "41",
    "43",
    "44",
    "46",
    "47",
    "48",
    "50",
    "51",
    "52",
)
LEGACY_SIDO = {"42": "51", "45": "52"}

MERCHANT_CATEGORIES = (
    "GROCERY",
    "RESTAURANT",
    "CAFE",
    "FUEL",
    "TRANSPORT",
    "ONLINE_SHOPPING",
    "DEPARTMENT_STORE",
    "EDUCATION",
    "MEDICAL",
    "TRAVEL",
    "ENTERTAINMENT",
    "UTILITIES",
)

AFFILIATES = ("bank", "card", "securities", "life")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    required: bool = True
    #: ("other_column", "value"): required when other_column == value, must be null otherwise.
    required_when: tuple[str, str] | None = None
    values: tuple[str, ...] = ()  # ENUM members (also accepted values for a STRING code)
    min: float | None = None  # inclusive lower bound
    exclusive_min: bool = False  # True: value must be > min
    max: float | None = None  # inclusive upper bound
    allowed_ints: tuple[int, ...] = ()  # INT restricted to this set (installment months)
    role: Role = Role.ATTRIBUTE
    description: str = ""

    @property
    def is_direct_identifier(self) -> bool:
        return self.role is Role.DIRECT


@dataclass(frozen=True)
class Feed:
    affiliate: str
    name: str
    kind: Kind
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    #: event feeds: the column whose KST calendar date is the event date
    event_time: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.affiliate}/{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.id} has no column {name!r}")

    @property
    def header_required(self) -> tuple[str, ...]:
        """Columns that must be in a batch's header (explicitly optional ones may be absent)."""
        return tuple(c.name for c in self.columns if c.required or c.required_when)

    @property
    def direct_identifiers(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.is_direct_identifier)

    @property
    def has_customer(self) -> bool:
        return any(c.name == "customer_no" for c in self.columns)


def _customers(affiliate: str) -> Feed:
    cols = [
        Column("customer_no", DType.STRING, role=Role.CUSTOMER_KEY),
        Column(
            "rrn",
            DType.STRING,
            role=Role.DIRECT,
            description="resident registration number; replaced by gcid",
        ),
        Column("name", DType.STRING, role=Role.DIRECT),
        Column("phone", DType.STRING, required=False, role=Role.DIRECT),
        Column("birth_date", DType.DATE, role=Role.QUASI),
        Column("gender", DType.ENUM, values=("M", "F"), role=Role.QUASI),
        Column("sido_code", DType.ENUM, values=SIDO_CODES + tuple(LEGACY_SIDO), role=Role.QUASI),
        Column("joined_on", DType.DATE),
        Column("status", DType.ENUM, values=("ACTIVE", "DORMANT", "CLOSED")),
        Column("closed_on", DType.DATE, required=False, required_when=("status", "CLOSED")),
        Column("marketing_consent", DType.BOOL),
    ]
    if affiliate == "securities":
        cols.append(Column("risk_grade", DType.INT, required=False, min=1, max=5))
    cols.append(Column("updated_at", DType.TIMESTAMP))
    return Feed(
        affiliate,
        "customers",
        Kind.CHANGE,
        ("customer_no",),
        tuple(cols),
        description=f"{affiliate} customer master (change feed)",
    )


def _erasure(affiliate: str) -> Feed:
    return Feed(
        affiliate,
        "erasure_requests",
        Kind.EVENT,
        ("request_id",),
        (
            Column("request_id", DType.STRING, role=Role.RECORD_KEY),
            Column("customer_no", DType.STRING, role=Role.CUSTOMER_KEY),
            Column("requested_at", DType.TIMESTAMP),
        ),
        event_time="requested_at",
        description=f"{affiliate} requests to erase a customer's data from the dam",
    )


_CARD = (
    Feed(
        "card",
        "merchants",
        Kind.CHANGE,
        ("merchant_id",),
        (
            Column("merchant_id", DType.STRING, role=Role.RECORD_KEY),
            Column("merchant_name", DType.STRING),
            Column("category", DType.ENUM, values=MERCHANT_CATEGORIES),
            Column("sido_code", DType.ENUM, values=SIDO_CODES + tuple(LEGACY_SIDO)),
            Column("updated_at", DType.TIMESTAMP),
        ),
        description="card merchant master (change feed)",
    ),
    Feed(
        "card",
        "transactions",
        Kind.EVENT,
        ("approval_no",),
        (
            Column("approval_no", DType.STRING, role=Role.RECORD_KEY),
            Column("customer_no", DType.STRING, role=Role.CUSTOMER_KEY),
            Column("card_no", DType.STRING, role=Role.PAN),
            Column("approved_at", DType.TIMESTAMP),
            Column("txn_type", DType.ENUM, values=("PURCHASE", "CANCEL", "CASH_ADVANCE")),
            Column(
                "original_approval_no",
                DType.STRING,
                required=False,
                required_when=("txn_type", "CANCEL"),
                role=Role.RECORD_KEY,
            ),
            Column("amount", DType.INT, min=0, exclusive_min=True, role=Role.FINANCIAL),
            Column("installment_months", DType.INT, allowed_ints=(0, *range(2, 37))),
            Column("merchant_id", DType.STRING, role=Role.RECORD_KEY),
            Column("channel", DType.ENUM, values=("ONLINE", "OFFLINE")),
            Column("is_overseas", DType.BOOL),
        ),
        event_time="approved_at",
        description="card approvals: purchases, cancels, cash advances",
    ),
)

_BANK = (
    Feed(
        "bank",
        "deposit_accounts",
        Kind.SNAPSHOT,
        ("account_no",),
        (
            Column("account_no", DType.STRING, role=Role.RECORD_KEY),
            Column("customer_no", DType.STRING, role=Role.CUSTOMER_KEY),
            Column(
                "product_type",
                DType.ENUM,
                values=("DEMAND", "SAVINGS", "TIME_DEPOSIT", "INSTALLMENT_SAVINGS"),
            ),
            Column("opened_on", DType.DATE),
            Column("closed_on", DType.DATE, required=False),
            Column("status", DType.ENUM, values=("ACTIVE", "DORMANT", "CLOSED")),
            Column("balance", DType.INT, min=0, role=Role.FINANCIAL),
            Column("interest_rate", DType.DECIMAL, role=Role.FINANCIAL),
        ),
        description="daily snapshot of deposit accounts",
    ),
    Feed(
        "bank",
        "loans",
        Kind.SNAPSHOT,
        ("loan_no",),
        (
            Column("loan_no", DType.STRING, role=Role.RECORD_KEY),
            Column("customer_no", DType.STRING, role=Role.CUSTOMER_KEY),
            Column("loan_type", DType.ENUM, values=("MORTGAGE", "JEONSE", "CREDIT", "AUTO")),
            Column("principal", DType.INT, min=0, exclusive_min=True, role=Role.FINANCIAL),
            Column("outstanding_balance", DType.INT, min=0, role=Role.FINANCIAL),
            Column("interest_rate", DType.DECIMAL, role=Role.FINANCIAL),
            Column("opened_on", DType.DATE),
            Column("maturity_on", DType.DATE),
            Column("days_past_due", DType.INT, min=0, role=Role.FINANCIAL),
            Column(
                "status",
                DType.ENUM,
                values=("NORMAL", "DELINQUENT", "DEFAULTED", "REPAID", "WRITTEN_OFF"),
            ),
        ),
        description="daily snapshot of loans",
    ),
)

_SECURITIES = (
    Feed(
        "securities",
        "trades",
        Kind.EVENT,
        ("trade_id",),
        (
            Column("trade_id", DType.STRING, role=Role.RECORD_KEY),
            Column("customer_no", DType.STRING, role=Role.CUSTOMER_KEY),
            Column("account_no", DType.STRING, role=Role.RECORD_KEY),
            Column("executed_at", DType.TIMESTAMP),
            Column("market", DType.ENUM, values=("KOSPI", "KOSDAQ", "NASDAQ", "NYSE")),
            Column("symbol", DType.STRING),
            Column("side", DType.ENUM, values=("BUY", "SELL")),
            Column("quantity", DType.INT, min=0, exclusive_min=True),
            Column("price", DType.DECIMAL, min=0, exclusive_min=True, role=Role.FINANCIAL),
            Column("amount", DType.INT, min=0, exclusive_min=True, role=Role.FINANCIAL),
            Column("fee", DType.INT, min=0, role=Role.FINANCIAL),
        ),
        event_time="executed_at",
        description="executed trades",
    ),
    Feed(
        "securities",
        "holdings",
        Kind.SNAPSHOT,
        ("account_no", "symbol"),
        (
            Column("account_no", DType.STRING, role=Role.RECORD_KEY),
            Column("customer_no", DType.STRING, role=Role.CUSTOMER_KEY),
            Column("symbol", DType.STRING),
            Column("market", DType.ENUM, values=("KOSPI", "KOSDAQ", "NASDAQ", "NYSE")),
            Column("quantity", DType.INT, min=0, exclusive_min=True),
            Column("avg_cost", DType.DECIMAL, role=Role.FINANCIAL),
            Column("market_value", DType.INT, min=0, role=Role.FINANCIAL),
        ),
        description="daily snapshot of holdings",
    ),
)

_LIFE = (
    Feed(
        "life",
        "policies",
        Kind.SNAPSHOT,
        ("policy_no",),
        (
            Column("policy_no", DType.STRING, role=Role.RECORD_KEY),
            Column("customer_no", DType.STRING, role=Role.CUSTOMER_KEY),
            Column(
                "product_type",
                DType.ENUM,
                values=("WHOLE_LIFE", "TERM", "HEALTH", "ANNUITY", "VARIABLE", "SAVINGS"),
            ),
            Column("contracted_on", DType.DATE),
            Column("status", DType.ENUM, values=("ACTIVE", "LAPSED", "SURRENDERED", "MATURED")),
            Column("monthly_premium", DType.INT, min=0, role=Role.FINANCIAL),
            Column("sum_assured", DType.INT, min=0, role=Role.FINANCIAL),
            Column("paid_months", DType.INT, min=0),
            Column("lapsed_on", DType.DATE, required=False, required_when=("status", "LAPSED")),
            Column("surrender_value", DType.INT, min=0, role=Role.FINANCIAL),
        ),
        description="daily snapshot of life policies",
    ),
    Feed(
        "life",
        "premium_payments",
        Kind.EVENT,
        ("payment_id",),
        (
            Column("payment_id", DType.STRING, role=Role.RECORD_KEY),
            Column("policy_no", DType.STRING, role=Role.RECORD_KEY),
            Column("customer_no", DType.STRING, role=Role.CUSTOMER_KEY),
            Column("due_on", DType.DATE),
            Column("paid_at", DType.TIMESTAMP, required=False, required_when=("result", "PAID")),
            Column("amount", DType.INT, min=0, exclusive_min=True, role=Role.FINANCIAL),
            Column("method", DType.ENUM, values=("AUTO_DEBIT", "CARD", "TRANSFER")),
            Column("result", DType.ENUM, values=("PAID", "FAILED")),
        ),
        event_time="due_on",
        description="premium payments (event date = due date)",
    ),
)


def _build() -> tuple[Feed, ...]:
    feeds: list[Feed] = []
    for affiliate in AFFILIATES:
        feeds.append(_customers(affiliate))
        feeds.append(_erasure(affiliate))
    feeds.extend(_CARD + _BANK + _SECURITIES + _LIFE)
    return tuple(sorted(feeds, key=lambda f: (AFFILIATES.index(f.affiliate), f.name)))


FEEDS: tuple[Feed, ...] = _build()
_BY_ID = {f.id: f for f in FEEDS}


def get_feed(affiliate: str, name: str) -> Feed:
    try:
        return _BY_ID[f"{affiliate}/{name}"]
    except KeyError:
        raise KeyError(f"unknown feed {affiliate}/{name}; known: {sorted(_BY_ID)}") from None


def feeds_of(affiliate: str) -> tuple[Feed, ...]:
    return tuple(f for f in FEEDS if f.affiliate == affiliate)
