"""The user's energy assumptions (country, CPU and RAM watts, PUE, price) and their defaults.

Defaults come from the server's settings (lab.settings: $TRAIN_INFER_LAB_COUNTRY, _PRICE_PER_KWH,
_CURRENCY), else CodeCarbon's own config for the country, else published figures. Published
reference values (PUE, tariffs) carry their source; where no figure is known with confidence
(a data-centre tariff) the source says where to read one instead of offering a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dashboard.lab import settings as lab_settings
from dashboard.lab.serial import from_plain, to_plain
from dashboard.lab.energy.grid import WORLD, country, known

# Eurostat, household electricity price in the EU, 2nd half of 2024, all taxes included:
# EUR 28.72 per 100 kWh (dataset nrg_pc_204, released 6 May 2025).
DEFAULT_PRICE_PER_KWH = 0.2872
DEFAULT_CURRENCY = "EUR"
DEFAULT_PRICE_SOURCE = ("Eurostat: average EU household electricity price incl. taxes, 2nd half 2024, "
                        "EUR 28.72 per 100 kWh (nrg_pc_204), "
                        "https://ec.europa.eu/eurostat/statistics-explained/index.php?title=Electricity_price_statistics")


EUROSTAT_PRICES_URL = "https://ec.europa.eu/eurostat/statistics-explained/index.php?title=Electricity_price_statistics"

# Which tariff a price is: what a home pays (taxes included) or what a business such as a data
# centre pays (larger volumes; VAT and other recoverable taxes excluded, as a business gets them back).
HOUSEHOLD, NON_HOUSEHOLD = "household", "non-household"
TARIFFS = {HOUSEHOLD: "Household (a home, a laptop)", NON_HOUSEHOLD: "Data centre / business (non-household)"}
# No EU average for the non-household tariff is offered: its figure depends on the consumption
# band, and none was at hand with a source to quote. The user reads it and types it in.
NON_HOUSEHOLD_SOURCE = ("Eurostat publishes non-household (business) electricity prices in dataset nrg_pc_205, "
                        "per country and half-year, by yearly consumption band (a data centre sits in the large "
                        "bands, over 2,000 MWh a year) and excluding VAT and other recoverable taxes. No default "
                        f"is offered here: read your country's figure there and enter it. {EUROSTAT_PRICES_URL}")


@dataclass(frozen=True)
class PueReference:
    """A published PUE to pick instead of typing one."""

    value: float
    label: str
    source: str


PUE_REFERENCES = (
    PueReference(1.0, "1.0: a laptop or a desk (no data centre)",
                 "by definition: no cooling or power distribution beyond the computer itself"),
    PueReference(1.1, "1.1: a hyperscale data centre",
                 "Google, data-centre efficiency page: fleet-wide trailing-twelve-month PUE about 1.09-1.10, "
                 "https://www.google.com/about/datacenters/efficiency/"),
    PueReference(1.56, "1.56: the industry average",
                 "Uptime Institute Global Data Center Survey 2024: average annual PUE 1.56 (each respondent's "
                 "largest data centre), https://uptimeinstitute.com/resources/research-and-reports"),
)


def pue_reference(value: float) -> PueReference | None:
    """The published reference a PUE equals, or None (the user's own value)."""
    return next((r for r in PUE_REFERENCES if math.isclose(r.value, value, abs_tol=1e-9)), None)


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
    tariff: str = HOUSEHOLD          # which kind of price price_per_kwh is (TARIFFS)

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
        if self.tariff not in TARIFFS:
            raise ValueError(f"the tariff must be one of {', '.join(TARIFFS)}")
        if not (0 < len(self.currency.strip()) <= 8):
            raise ValueError("the currency needs a short name, such as EUR")

    @property
    def price_source(self) -> str:
        published = self.price_per_kwh == DEFAULT_PRICE_PER_KWH and self.currency == DEFAULT_CURRENCY
        if published and self.tariff == HOUSEHOLD:
            return DEFAULT_PRICE_SOURCE
        if published:
            return ("Eurostat's EU household price, although the data-centre (non-household) tariff is chosen: "
                    + NON_HOUSEHOLD_SOURCE)
        configured = lab_settings.current().price_per_kwh
        if configured is not None and self.price_per_kwh == configured and self.currency == default_currency():
            return f"configured by this server (${lab_settings.PREFIX}PRICE_PER_KWH), {TARIFFS[self.tariff].lower()}"
        return f"your assumption, {TARIFFS[self.tariff].lower()} tariff"

    @property
    def pue_source(self) -> str:
        ref = pue_reference(self.pue)
        return ref.source if ref is not None else "your assumption"

    @property
    def currency_note(self) -> str:
        """Whether the price's currency follows the grid country: it does not, and this says so."""
        place = country(self.country_iso)
        where = "the world average" if place.iso == WORLD else place.name
        whose = "this server's currency" if self.currency == default_currency() else "the currency you set"
        return (f"Prices are in {self.currency}, {whose}: the currency does not change with the grid country "
                f"({where}). For another country, enter its price converted to {self.currency}, or change the "
                "currency.")

    def to_dict(self) -> dict:
        return to_plain(self)

    @classmethod
    def from_dict(cls, d: dict) -> EnergySettings:
        return from_plain(cls, d)
