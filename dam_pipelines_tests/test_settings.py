import logging

import pytest

from dam_pipelines.settings import DEV_PSEUDONYM_KEY, ConfigError, load_settings


def test_defaults_live_under_data(caplog, monkeypatch):
    monkeypatch.setattr("dam_pipelines.settings._warned_dev_key", False)
    with caplog.at_level(logging.WARNING):
        s = load_settings(env={})
    assert s.landing_dir.parts[-2:] == ("data", "landing")
    assert s.warehouse_dir.parts[-2:] == ("data", "warehouse")
    assert s.dagster_home.parts[-2:] == ("data", "dagster_home")
    assert s.pseudonym_key == DEV_PSEUDONYM_KEY and s.uses_dev_key
    assert "DEVELOPMENT pseudonymization key" in caplog.text


def test_prod_refuses_to_start_without_a_key():
    with pytest.raises(ConfigError, match="DAM_PSEUDONYM_KEY"):
        load_settings(env={"DAM_ENV": "prod"})
    with pytest.raises(ConfigError):
        load_settings(env={"DAM_ENV": "prod", "DAM_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY})
    s = load_settings(
        env={"DAM_ENV": "prod", "DAM_PSEUDONYM_KEY": "a-real-secret-of-32-characters!!"}
    )
    assert not s.uses_dev_key


@pytest.mark.parametrize(
    "env",
    [
        {"DAM_BAD_ROW_THRESHOLD": "2"},
        {"DAM_BAD_ROW_THRESHOLD": "x"},
        {"DAM_K_ANONYMITY": "0"},
        {"DAM_ENV": "staging"},
    ],
)
def test_bad_configuration_is_a_clear_error(env):
    with pytest.raises(ConfigError):
        load_settings(env=env)


def test_overrides_win_and_paths_resolve(tmp_path):
    s = load_settings(
        env={"DAM_WAREHOUSE_DIR": "/nope"}, overrides={"DAM_WAREHOUSE_DIR": str(tmp_path)}
    )
    assert s.warehouse_dir == tmp_path.resolve()
    assert (
        s.table_path("gold", "customer_profile") == tmp_path.resolve() / "gold" / "customer_profile"
    )
