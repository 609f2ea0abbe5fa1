"""What energy figures mean: break-even inferences, a lifetime projection, everyday equivalents.

Pure arithmetic on joules that lab.energy measured (PUE already included there). Every
everyday equivalent carries the document its factor comes from, in code and in the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dashboard.lab.energy import J_PER_KWH, EnergySettings, co2_grams, country
from dashboard.lab.serial import Record


def breakeven_inferences(training_joules: float, joules_per_inference: float) -> float:
    """How many inferences use as much energy as the training did (training / per inference)."""
    if not (training_joules >= 0 and math.isfinite(training_joules)):
        raise ValueError("training energy must be zero or positive")
    if not (joules_per_inference > 0 and math.isfinite(joules_per_inference)):
        raise ValueError("energy per inference must be positive")
    return training_joules / joules_per_inference


@dataclass(frozen=True)
class Footprint(Record):
    """An amount of energy with its CO2 and cost under some settings."""

    joules: float
    kwh: float
    co2_kg: float
    cost: float
    currency: str


def footprint(joules: float, settings: EnergySettings | None = None) -> Footprint:
    settings = settings or EnergySettings()
    kwh = joules / J_PER_KWH
    return Footprint(joules, kwh, co2_grams(joules, settings.country_iso) / 1000.0,
                     kwh * settings.price_per_kwh, settings.currency)


@dataclass(frozen=True)
class LifetimeProjection(Record):
    """Training once vs serving `requests_per_day` for `days`."""

    requests_per_day: float
    days: float
    images_per_request: float
    inferences: float               # images classified over the lifetime
    training: Footprint
    inference: Footprint
    total: Footprint
    inference_share: float          # inference / total energy, 0..1
    breakeven_inferences: float
    breakeven_days: float           # days of serving until inference has used what training did
    country_iso: str
    grid_gco2_per_kwh: float


def project_lifetime(training_joules: float, joules_per_inference: float, *, requests_per_day: float,
                     days: float, images_per_request: float = 1.0,
                     settings: EnergySettings | None = None) -> LifetimeProjection:
    """Energy, CO2 and cost of training once and then serving the model for `days`."""
    if requests_per_day < 0 or days < 0 or images_per_request <= 0:
        raise ValueError("requests per day and days must be zero or positive, images per request positive")
    settings = settings or EnergySettings()
    inferences = requests_per_day * days * images_per_request
    train = footprint(training_joules, settings)
    serve = footprint(joules_per_inference * inferences, settings)
    total = footprint(train.joules + serve.joules, settings)
    per_day = joules_per_inference * requests_per_day * images_per_request
    place = country(settings.country_iso)
    return LifetimeProjection(
        requests_per_day=requests_per_day, days=days, images_per_request=images_per_request,
        inferences=inferences, training=train, inference=serve, total=total,
        inference_share=serve.joules / total.joules if total.joules > 0 else 0.0,
        breakeven_inferences=breakeven_inferences(training_joules, joules_per_inference),
        breakeven_days=training_joules / per_day if per_day > 0 else math.inf,
        country_iso=place.iso, grid_gco2_per_kwh=place.gco2_per_kwh)


@dataclass(frozen=True)
class Equivalent:
    """An everyday yardstick: `factor` kWh (basis "energy") or g CO2 (basis "co2") per one `unit`."""

    key: str
    unit: str
    basis: str          # "energy": compares kWh, grid-independent; "co2": compares grams CO2
    factor: float
    source: str
    url: str
    note: str


EQUIVALENTS: tuple[Equivalent, ...] = (
    Equivalent(
        "google_searches", "Google searches (2009 figure)", "energy", 0.0003,
        "Google, 'Powering a Google search' (official blog, 11 Jan 2009): about 0.0003 kWh (1 kJ) "
        "per average search query",
        "https://googleblog.blogspot.com/2009/01/powering-google-search.html",
        "A 2009 figure; searches have become more efficient since."),
    Equivalent(
        "smartphone_charges", "smartphone charges", "energy", 0.012,
        "US EPA, Greenhouse Gas Equivalencies Calculator - Calculations and References, 'Number of "
        "smartphones charged': 14.46 Wh per 24 h (US DOE 2020) minus 22 h x 0.13 W maintenance = "
        "0.012 kWh per charge",
        "https://www.epa.gov/energy/greenhouse-gases-equivalencies-calculator-calculations-and-references",
        "One full charge of a typical smartphone battery, charger losses included."),
    Equivalent(
        "kettles", "litres of water boiled (20 to 100 degC)", "energy", 4.186 * 80 / 3600,
        "Physics: heating 1 kg of liquid water by 80 K takes 4.186 kJ/(kg K) x 80 K = 335 kJ = 0.093 kWh; "
        "specific heat of water from the NIST Chemistry WebBook (Cp liquid 75.3 J/(mol K) / 18.015 g/mol)",
        "https://webbook.nist.gov/cgi/cbook.cgi?ID=C7732185&Mask=2",
        "Ideal heating; a real kettle loses some heat, so it uses a little more."),
    Equivalent(
        "car_km", "km driven in an average US passenger car", "co2", 400 / 1.609344,
        "US EPA, 'Greenhouse Gas Emissions from a Typical Passenger Vehicle' (EPA-420-F-23-014, June 2023): "
        "about 400 g CO2 per mile = 249 g per km, tailpipe",
        "https://www.epa.gov/greenvehicles/greenhouse-gas-emissions-typical-passenger-vehicle",
        "Tailpipe CO2 of the average US car; compared with this grid's CO2 for the energy."),
)


def equivalents(joules: float, settings: EnergySettings | None = None) -> list[dict]:
    """How many of each everyday yardstick this energy (or its CO2) equals, with sources."""
    settings = settings or EnergySettings()
    kwh = joules / J_PER_KWH
    grams = co2_grams(joules, settings.country_iso)
    out = []
    for e in EQUIVALENTS:
        amount = kwh if e.basis == "energy" else grams
        out.append({"key": e.key, "unit": e.unit, "count": amount / e.factor, "basis": e.basis,
                    "factor": e.factor, "factor_unit": "kWh per unit" if e.basis == "energy" else "g CO2 per unit",
                    "source": e.source, "url": e.url, "note": e.note,
                    "country_iso": settings.country_iso if e.basis == "co2" else None})
    return out
