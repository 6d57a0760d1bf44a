"""The dam resource: settings resolved at run time (never at import), overridable in tests."""

import dagster as dg

from dam_pipelines.settings import Settings, load_settings


class DamResource(dg.ConfigurableResource):
    """Where the landing zone and warehouse are, and the pseudonymization key.

    Fields left empty fall back to the environment (``dam_pipelines.settings``).
    """

    landing_dir: str = ""
    warehouse_dir: str = ""
    pseudonym_key: str = ""
    bad_row_threshold: float = -1.0
    k_anonymity: int = 0

    def settings(self) -> Settings:
        overrides = {
            "DAM_LANDING_DIR": self.landing_dir,
            "DAM_WAREHOUSE_DIR": self.warehouse_dir,
            "DAM_PSEUDONYM_KEY": self.pseudonym_key,
            "DAM_BAD_ROW_THRESHOLD": str(self.bad_row_threshold)
            if self.bad_row_threshold >= 0
            else "",
            "DAM_K_ANONYMITY": str(self.k_anonymity) if self.k_anonymity > 0 else "",
        }
        return load_settings(overrides=overrides)
