"""The user's energy assumptions (country, CPU and RAM watts, PUE, price) and their defaults.

Defaults come from the server's settings (lab.settings: $TRAIN_INFER_LAB_COUNTRY, _PRICE_PER_KWH,
_CURRENCY), else CodeCarbon's own config for the country, else published figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import settings as lab_settings
from ..serial import from_plain, to_plain
from .grid import WORLD, known

# Eurostat, household electricity price in the EU, 2nd half of 2024, all taxes included:
# EUR 28.72 per 100 kWh (dataset nrg_pc_204, released 6 May 2025).
DEFAULT_PRICE_PER_KWH = 0.2872
DEFAULT_CURRENCY = "EUR"
DEFAULT_PRICE_SOURCE = ("Eurostat: average EU household electricity price incl. taxes, 2nd half 2024, "
                        "EUR 28.72 per 100 kWh (nrg_pc_204), "
                        "https://ec.europa.eu/eurostat/statistics-explained/index.php?title=Electricity_price_statistics")


def default_country() -> str:
    """The configured country: $TRAIN_INFER_LAB_COUNTRY, else CodeCarbon's own config, else WORLD."""
    iso = lab_settings.current().country
    if not iso:
        try:
            from codecarbon.core.config import get_hierarchical_config
            iso = str(get_hierarchical_config().get("country_iso_code") or "").strip().upper()
        except Exception:  # noqa: BLE001  codecarbon missing or its config unreadable: not worth failing for
            iso = ""
    return iso if iso and known(iso) else WORLD


def default_price() -> float:
    """$TRAIN_INFER_LAB_PRICE_PER_KWH when valid (lab.settings checks it), else the published default."""
    price = lab_settings.current().price_per_kwh
    return DEFAULT_PRICE_PER_KWH if price is None else price


def default_currency() -> str:
    return lab_settings.current().currency or DEFAULT_CURRENCY


@dataclass
class EnergySettings:
    """The user's editable assumptions. Changing them recomputes readings; it never re-runs work."""

    country_iso: str = field(default_factory=default_country)
    cpu_watts: float | None = None   # whole CPU at full load (TDP), W; None: CodeCarbon's estimate
    pue: float = 1.0                 # data-centre overhead; 1.0 = none (a laptop, a desk)
    price_per_kwh: float = field(default_factory=default_price)
    currency: str = field(default_factory=default_currency)
    ram_watts: float | None = None   # None: CodeCarbon's RAM model

    def validate(self) -> None:
        """Raise ValueError with a user-facing message for values that make no sense."""
        if self.cpu_watts is not None and not (self.cpu_watts > 0 and math.isfinite(self.cpu_watts)):
            raise ValueError("CPU power must be a positive number of watts")
        if self.ram_watts is not None and not (self.ram_watts >= 0 and math.isfinite(self.ram_watts)):
            raise ValueError("RAM power must be zero or a positive number of watts")
        if not (1.0 <= self.pue < 10):
            raise ValueError("PUE must be at least 1.0 (1.0 means no data-centre overhead)")
        if not (self.price_per_kwh >= 0 and math.isfinite(self.price_per_kwh)):
            raise ValueError("the electricity price must be zero or positive")

    @property
    def price_source(self) -> str:
        if self.price_per_kwh == DEFAULT_PRICE_PER_KWH and self.currency == DEFAULT_CURRENCY:
            return DEFAULT_PRICE_SOURCE
        if lab_settings.current().price_per_kwh is not None:
            return f"configured (${lab_settings.PREFIX}PRICE_PER_KWH)"
        return "your assumption"

    def to_dict(self) -> dict:
        return to_plain(self)

    @classmethod
    def from_dict(cls, d: dict) -> EnergySettings:
        return from_plain(cls, d)
