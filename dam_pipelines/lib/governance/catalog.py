"""The data catalog: every table and column of the dam classified, with owner and retention.

Generated from the feed registry (bronze, silver) and the published schemas (gold, audit);
a table found in the warehouse that nothing declares is classified by column-name rules.
Exported by ``dam catalog`` and attached to the Dagster assets as metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from dam_pipelines.lib.registry import FEEDS, Feed, Kind, Role
from dam_pipelines.settings import Settings

# Classifications (one per column).
PSEUDONYMIZED_KEY = "pseudonymized_key"  # gcid, affiliate customer numbers, subject hashes
RECORD_KEY = "record_key"  # account, loan, policy, approval, trade numbers
MASKED_PAN = "masked_card_number"
QUASI = "quasi_identifier"
FINANCIAL = "financial"
AGGREGATE = "aggregate"
LINEAGE = "lineage"
ATTRIBUTE = "attribute"
CLASSES = (
    PSEUDONYMIZED_KEY,
    RECORD_KEY,
    MASKED_PAN,
    QUASI,
    FINANCIAL,
    AGGREGATE,
    LINEAGE,
    ATTRIBUTE,
)

#: Direct identifiers of the contract: dropped at validation, stored nowhere (gcid replaces rrn).
DIRECT_IDENTIFIERS = ("rrn", "name", "phone")

_ROLE_CLASS = {
    Role.CUSTOMER_KEY: PSEUDONYMIZED_KEY,
    Role.RECORD_KEY: RECORD_KEY,
    Role.PAN: MASKED_PAN,
    Role.QUASI: QUASI,
    Role.FINANCIAL: FINANCIAL,
    Role.ATTRIBUTE: ATTRIBUTE,
}
_KEYS = {"gcid", "customer_no", "subject_hash"}
_LINEAGE = {
    "_batch_id",
    "_revision",
    "_source_file",
    "_row_number",
    "_ingested_at",
    "business_date",
    "snapshot_date",
    "as_of_date",
    "batch_id",
    "revision",
    "row_number",
    "source_file",
    "run_id",
    "first_seen_at",
    "updated_at",
    "recorded_at",
    "quarantined_at",
    "manifest_sha256",
    "manifest_mtime_ns",
    "record_id",
}
_QUASI = {"birth_date", "gender", "sido_code", "age", "age_band", "life_stage"}
_MONEY = (
    "amount",
    "balance",
    "spend",
    "assets",
    "premium",
    "value",
    "outstanding",
    "principal",
    "fee",
    "price",
    "cost",
    "sum_assured",
    "rate",
    "days_past_due",
    "risk_grade",
)
#: Per-person behaviour metrics of the profile (spend, counts, shares) are financial data.
_METRIC_PREFIXES = (
    "card_",
    "deposit_",
    "loan_",
    "securities_",
    "insurance_",
    "premium_",
    "total_",
    "net_",
)


def classify(column: str, *, aggregate_table: bool = False, feed: Feed | None = None) -> str:
    """Classification of one column: from the registry role, else by name."""
    if feed is not None and column in feed.column_names and column not in _KEYS:
        return _ROLE_CLASS[feed.column(column).role]
    if column in _KEYS:
        return PSEUDONYMIZED_KEY
    if column in _LINEAGE:
        return LINEAGE
    if aggregate_table and column not in {"month", "sido_code", "category", "age_band"}:
        return AGGREGATE
    if column in _QUASI:
        return QUASI
    if column.endswith(("_no", "_id")) and column not in {"request_id"}:
        return RECORD_KEY
    if column.endswith("_status") or column in {"status", "marketing_consent"}:
        return ATTRIBUTE
    if any(m in column for m in _MONEY) or column.startswith(_METRIC_PREFIXES):
        return FINANCIAL
    return ATTRIBUTE


@dataclass(frozen=True)
class _Table:
    key: str
    owner: str
    description: str
    retention: str
    schema: dict[str, Any]
    feed: Feed | None = None
    aggregate: bool = False


def _feed_retention(feed: Feed, s: Settings) -> str:
    r = s.retention
    erase = (
        f"erased on request and {r.closed_relationship_years} years after a relationship "
        "closed (contract §5)"
    )
    if feed.kind is Kind.EVENT:
        return f"events kept {r.event_years} years by event date; {erase}"
    if feed.kind is Kind.SNAPSHOT:
        return f"snapshot history kept {r.snapshot_history_days} days (the latest is kept); {erase}"
    if feed.has_customer:
        return f"kept while the relationship lasts; {erase}"
    return "reference data: kept (no personal data)"


def _schemas() -> tuple[Any, Any]:
    from dam_pipelines.lib.conform import silver_schema
    from dam_pipelines.lib.validate import bronze_schema

    return bronze_schema, silver_schema


def _declared(s: Settings) -> list[_Table]:
    bronze_schema, silver_schema = _schemas()
    out: list[_Table] = []
    for f in FEEDS:
        ret = _feed_retention(f, s)
        out.append(
            _Table(
                f"bronze/{f.affiliate}/{f.name}",
                f.affiliate,
                f"{f.description}: validated, pseudonymized deliveries, one partition "
                "per business date (current revision)",
                ret,
                dict(bronze_schema(f)),
                f,
            )
        )
        out.append(
            _Table(
                f"silver/{f.affiliate}/{f.name}",
                f.affiliate,
                f"{f.description}: conformed state as of D",
                ret,
                dict(silver_schema(f)),
                f,
            )
        )
    try:
        from dam_pipelines.lib.profile import PROFILE_SCHEMA
        from dam_pipelines.lib.trends import ROLLUP_SCHEMA, TRENDS_SCHEMA
    except ImportError:  # pragma: no cover
        PROFILE_SCHEMA = TRENDS_SCHEMA = ROLLUP_SCHEMA = {}  # noqa: N806
    from dam_pipelines.lib.card_window import SCHEMA as WINDOW_SPEND_SCHEMA
    from dam_pipelines.lib.governance.marketing import AUDIENCE_SCHEMA
    from dam_pipelines.lib.silver import ROLLUP, WINDOW_SPEND
    from dam_pipelines.lib.trend_cells import PEOPLE, PEOPLE_SCHEMA

    out += [
        _Table(
            ROLLUP,
            "card",
            "card PURCHASE/CANCEL per month, customer, merchant and delivering batch "
            "(business_date; feeds the trends)",
            "built from silver/card/transactions, a night appending its batches' rows; "
            "follows its retention and erasures (by batch lineage)",
            dict(ROLLUP_SCHEMA),
        ),
        _Table(
            WINDOW_SPEND,
            "card",
            "card sums of the profile's 30d/90d windows per customer (merchant categories as of "
            "D in columns)",
            "carried forward from silver/card/transactions every night; follows its erasures",
            dict(WINDOW_SPEND_SCHEMA),
        ),
        _Table(
            PEOPLE,
            "card",
            "card customers with the gcid and age band the trend cells were last counted with",
            "rewritten by every gold build; follows the card erasures",
            dict(PEOPLE_SCHEMA),
        ),
        _Table(
            "gold/customer_profile",
            "group",
            "unified customer profile, one row per gcid as of D",
            "rebuilt every night as of D; previous versions removed by the purge vacuum",
            dict(PROFILE_SCHEMA),
        ),
        _Table(
            "gold/card_category_trends",
            "group",
            f"shareable k-anonymous card spend aggregates (k = {s.k_anonymity})",
            "rebuilt every night; aggregates only",
            dict(TRENDS_SCHEMA),
            aggregate=True,
        ),
        _Table(
            "gold/marketing_audience",
            "group",
            "customers who may be contacted: marketing_consent true, minimal columns",
            "rebuilt every night from gold/customer_profile",
            dict(AUDIENCE_SCHEMA),
        ),
    ]
    from dam_pipelines.lib.governance.audit import ERASURES_SCHEMA
    from dam_pipelines.lib.governance.suppression import SUPPRESSIONS_SCHEMA
    from dam_pipelines.lib.ingest import BATCHES_SCHEMA
    from dam_pipelines.lib.validate import quarantine_schema

    out += [
        _Table(
            "audit/batches",
            "dam",
            "every batch revision seen and its latest status",
            "kept: no personal data",
            dict(BATCHES_SCHEMA),
        ),
        _Table(
            "audit/quarantine",
            "dam",
            "rows that failed a row check; direct identifiers masked or dropped",
            "follows the retention of the batch's feed; erased with its customer",
            dict(quarantine_schema()),
        ),
        _Table(
            "audit/erasures",
            "dam",
            "proof of every erasure and purge: what was removed, and the verification scan",
            "kept: the proof itself, stores no identifier in clear",
            dict(ERASURES_SCHEMA),
        ),
        _Table(
            "governance/suppressions",
            "dam",
            "keyed hashes of erased customers and their effective date (replay protection)",
            "kept for as long as a batch dated on or before the erasure could be replayed",
            dict(SUPPRESSIONS_SCHEMA),
        ),
    ]
    return out


def _undeclared(s: Settings, known: set[str]) -> list[_Table]:
    from dam_pipelines.lib import delta
    from dam_pipelines.lib.tables import find_tables

    out = []
    for key, path in find_tables(
        s.warehouse_dir, ("bronze", "silver", "gold", "audit", "governance")
    ).items():
        if key in known:
            continue
        lf = delta.scan(path)
        schema = dict(lf.collect_schema()) if lf is not None else {}
        parts = key.split("/")
        owner = parts[1] if parts[0] in ("bronze", "silver") and len(parts) > 2 else "group"
        out.append(
            _Table(
                key,
                owner,
                "undeclared table: classified by column-name rules",
                "not declared: review",
                schema,
                aggregate=parts[0] == "gold",
            )
        )
    return out


def _column_description(t: _Table, name: str) -> str:
    if t.feed is not None and name in t.feed.column_names:
        return t.feed.column(name).description
    return {
        "gcid": "group customer id: HMAC-SHA256 of the rrn with the pseudonymization key",
        "customer_no": "the affiliate's own customer number (pseudonymous outside the affiliate)",
        "subject_hash": "HMAC-SHA256 of 'affiliate|customer_no': an erased customer, unreadable",
        "event_date": "KST calendar date of the event time",
        "build": "token of the gold build that wrote the row (ties it to the trend cells' cache)",
    }.get(name, "")


def catalog(settings: Settings, *, include_undeclared: bool = True) -> list[dict[str, Any]]:
    """One entry per table: key, layer, owner, description, retention and its columns.

    With ``include_undeclared``, tables found in the warehouse that nothing declares are added,
    classified by column-name rules.
    """
    tables = _declared(settings)
    if include_undeclared:
        tables += _undeclared(settings, {t.key for t in tables})
    out = []
    for t in tables:
        cols = [
            {
                "name": n,
                "type": str(dt),
                "classification": classify(n, aggregate_table=t.aggregate, feed=t.feed),
                "description": _column_description(t, n),
            }
            for n, dt in t.schema.items()
        ]
        classes = {c["classification"] for c in cols}
        out.append(
            {
                "table": t.key,
                "layer": t.key.split("/")[0],
                "owner": t.owner,
                "description": t.description,
                "retention": t.retention,
                "personal_data": bool(
                    classes & {PSEUDONYMIZED_KEY, QUASI, FINANCIAL, RECORD_KEY, MASKED_PAN}
                )
                and not t.aggregate,
                "direct_identifiers_stored": sorted(set(t.schema) & set(DIRECT_IDENTIFIERS)),
                "columns": cols,
            }
        )
    return out


def default_settings() -> Settings:
    """Settings with the contract's default periods, read from no environment (for metadata
    attached at definition time)."""
    from pathlib import Path

    return Settings(
        landing_dir=Path("landing"),
        warehouse_dir=Path("warehouse"),
        dagster_home=Path("dagster_home"),
        pseudonym_key="",
    )


def table_entry(table: str, settings: Settings | None = None) -> dict[str, Any] | None:
    """The catalog entry of one declared table (``bronze/card/transactions``), or None."""
    entries = catalog(settings or default_settings(), include_undeclared=False)
    return next((e for e in entries if e["table"] == table), None)


def asset_metadata(table: str, settings: Settings | None = None) -> dict[str, Any]:
    """Plain metadata of one table for its Dagster asset: owner, retention, classifications."""
    entry = table_entry(table, settings)
    if entry is None:
        return {}
    return {
        "dam/owner": entry["owner"],
        "dam/retention": entry["retention"],
        "dam/personal_data": entry["personal_data"],
        "dam/classification": {c["name"]: c["classification"] for c in entry["columns"]},
    }


def catalog_frame(settings: Settings) -> pl.DataFrame:
    """The catalog flat, one row per column (for SQL or csv export)."""
    rows = [
        {"table": e["table"], "owner": e["owner"], "retention": e["retention"], **c}
        for e in catalog(settings)
        for c in e["columns"]
    ]
    return pl.DataFrame(rows)


def catalog_markdown(settings: Settings) -> str:
    """The governance report of ``dam catalog``."""
    entries = catalog(settings)
    r = settings.retention
    lines = [
        "# Data dam catalog",
        "",
        "Direct identifiers (`" + "`, `".join(DIRECT_IDENTIFIERS) + "`) are dropped at validation "
        "and stored in no table; the rrn survives only as the keyed `gcid`. Card numbers are "
        "stored masked.",
        "",
        f"Retention: events {r.event_years} years, closed relationships {r.closed_relationship_years} "
        f"years after closing, snapshot history {r.snapshot_history_days} days, landing batches "
        f"{r.landing_days} days after ingestion; erasure on request (contract §5).",
        "",
        "| classification | meaning |",
        "|---|---|",
        f"| {PSEUDONYMIZED_KEY} | keys a person without naming them (gcid, customer numbers, hashes) |",
        f"| {RECORD_KEY} | keys an account, contract or event of a person |",
        f"| {MASKED_PAN} | card number, first 6 and last 4 digits only |",
        f"| {QUASI} | could help re-identify in combination (birth date, gender, province, age) |",
        f"| {FINANCIAL} | amounts, balances, rates, grades of a person |",
        f"| {AGGREGATE} | counts and sums over several people (k-anonymous where published) |",
        f"| {LINEAGE} | where and when a row came from |",
        f"| {ATTRIBUTE} | anything else (codes, statuses, dates) |",
        "",
    ]
    for e in entries:
        lines += [
            f"## `{e['table']}`",
            "",
            f"{e['description']}. Owner: **{e['owner']}**. Retention: {e['retention']}. "
            f"Personal data: {'yes' if e['personal_data'] else 'no'}.",
            "",
            "| column | type | classification | description |",
            "|---|---|---|---|",
            *[
                f"| {c['name']} | {c['type']} | {c['classification']} | {c['description']} |"
                for c in e["columns"]
            ],
            "",
        ]
    return "\n".join(lines)
