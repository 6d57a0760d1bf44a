from __future__ import annotations

from pathlib import Path

import pytest

from dam_pipelines_tests.quality import kit


@pytest.fixture(scope="session")
def clean_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean warehouse as of kit.D, built once; tests work on copies."""
    return kit.write_warehouse(tmp_path_factory.mktemp("clean") / "warehouse")


@pytest.fixture
def warehouse(clean_warehouse: Path, tmp_path: Path) -> Path:
    return kit.copy_warehouse(clean_warehouse, tmp_path / "warehouse")
