"""The one place where the dam reads its configuration (environment variables).

Nothing else in the package reads ``os.environ``: modules receive a :class:`Settings`.
Reading happens when :func:`load_settings` is called, never at import time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("dam_pipelines")

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Development-only pseudonymization key. Loudly announced whenever it is used and refused
#: outright with DAM_ENV=prod: a production key comes from the environment (a secret store).
DEV_PSEUDONYM_KEY = "dam-dev-key-NOT-FOR-PRODUCTION"


_warned_dev_key = False


class ConfigError(ValueError):
    """The environment does not describe a usable dam configuration."""


@dataclass(frozen=True)
class Retention:
    """Retention periods (contract §5); all configurable, these are the contract defaults."""

    closed_relationship_years: int = 5
    event_years: int = 5
    snapshot_history_days: int = 90
    landing_days: int = 30


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_dir: Path
    dagster_home: Path
    pseudonym_key: str = field(repr=False)
    env: str = "dev"
    bad_row_threshold: float = 0.10
    k_anonymity: int = 5
    partition_start: str = "2020-01-01"
    retention: Retention = Retention()

    @property
    def uses_dev_key(self) -> bool:
        return self.pseudonym_key == DEV_PSEUDONYM_KEY

    def table_path(self, *key: str) -> Path:
        """Physical location of a table: its asset key joined under the warehouse root."""
        return self.warehouse_dir.joinpath(*key)


def _float(env: dict[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw!r} must be between {lo} and {hi}")
    return value


def _int(env: dict[str, str], name: str, default: int, lo: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    if value < lo:
        raise ConfigError(f"{name}={raw!r} must be >= {lo}")
    return value


def load_settings(
    env: dict[str, str] | None = None, overrides: dict[str, str] | None = None
) -> Settings:
    """Build the settings from ``env`` (default: the process environment).

    ``overrides`` (non-empty values only) win over ``env``: resources and tests use them.

    Raises :class:`ConfigError` with a readable message on anything unusable, including a
    production environment (``DAM_ENV=prod``) without a real pseudonymization key.
    """
    env = dict(os.environ if env is None else env)
    env.update({k: v for k, v in (overrides or {}).items() if v})
    dam_env = env.get("DAM_ENV", "dev").strip().lower() or "dev"
    if dam_env not in {"dev", "test", "prod"}:
        raise ConfigError(f"DAM_ENV={dam_env!r} must be one of dev, test, prod")

    key = env.get("DAM_PSEUDONYM_KEY", "")
    if not key:
        if dam_env == "prod":
            raise ConfigError(
                "DAM_ENV=prod requires DAM_PSEUDONYM_KEY (the HMAC key for gcids); refusing to "
                "start with the development key"
            )
        key = DEV_PSEUDONYM_KEY
    elif dam_env == "prod" and (key == DEV_PSEUDONYM_KEY or len(key) < 16):
        raise ConfigError(
            "DAM_PSEUDONYM_KEY must be a real secret of at least 16 characters in prod"
        )

    def path(name: str, default: Path) -> Path:
        raw = env.get(name)
        return Path(raw).expanduser().resolve() if raw else default

    settings = Settings(
        landing_dir=path("DAM_LANDING_DIR", REPO_ROOT / "data" / "landing"),
        warehouse_dir=path("DAM_WAREHOUSE_DIR", REPO_ROOT / "data" / "warehouse"),
        dagster_home=path("DAGSTER_HOME", REPO_ROOT / "data" / "dagster_home"),
        pseudonym_key=key,
        env=dam_env,
        bad_row_threshold=_float(env, "DAM_BAD_ROW_THRESHOLD", 0.10, 0.0, 1.0),
        k_anonymity=_int(env, "DAM_K_ANONYMITY", 5),
        partition_start=env.get("DAM_PARTITION_START", "2020-01-01"),
        retention=Retention(
            closed_relationship_years=_int(env, "DAM_RETENTION_CLOSED_YEARS", 5),
            event_years=_int(env, "DAM_RETENTION_EVENT_YEARS", 5),
            snapshot_history_days=_int(env, "DAM_RETENTION_SNAPSHOT_DAYS", 90),
            landing_days=_int(env, "DAM_RETENTION_LANDING_DAYS", 30),
        ),
    )
    global _warned_dev_key
    if settings.uses_dev_key and not _warned_dev_key:
        _warned_dev_key = True
        log.warning(
            "!!! DAM_PSEUDONYM_KEY is not set: using the DEVELOPMENT pseudonymization key. "
            "gcids made with it are NOT protected; never use it with real data (DAM_ENV=prod refuses it). !!!"
        )
    return settings
