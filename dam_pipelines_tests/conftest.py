from __future__ import annotations

from pathlib import Path

import pytest

from dam_pipelines.settings import Settings, load_settings

TEST_KEY = "test-pseudonym-key-0123456789"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose landing, warehouse and Dagster home all live in tmp_path."""
    return load_settings(
        env={
            "DAM_LANDING_DIR": str(tmp_path / "landing"),
            "DAM_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "DAM_PSEUDONYM_KEY": TEST_KEY,
            "DAM_ENV": "test",
        }
    )
