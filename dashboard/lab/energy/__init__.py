"""Energy, CO2 and cost of a block of work, via CodeCarbon, honest about how it was obtained.

    with energy.meter("training", settings=energy.EnergySettings()) as reading:
        train(...)
    reading.joules, reading.co2_grams, reading.method   # filled in when the block ends

Every reading says whether its energy was *measured* (RAPL, GPU or other hardware counters)
or *estimated* (CPU time x an assumed wattage, RAM by CodeCarbon's model), with the
assumptions behind it. On containers, VMs, Community Cloud and most laptops there are no
counters, so expect "estimated". If CodeCarbon fails in any way the reading falls back to a
CPU-time estimate whose method says why. The meter takes no compute slot: the caller holds
service.slot.COMPUTE where its job starts.

A reading carries its EnergySettings and CodeCarbon's own figures, so the user's assumptions
(country, CPU watts, PUE, price) can change afterwards without re-running:
`reading.with_settings(settings)`.

    assumptions       EnergySettings and its defaults (server settings, published price), PUE
                      references and tariffs with their sources
    grid              grid carbon intensity per country and its year (CodeCarbon's bundled data)
    reading           EnergyReading, kind(), combine()
    counters          measured or estimated: which hardware counters CodeCarbon reads here
    tracker           the CodeCarbon adapter: meter(), warm_up(), the fallback estimate
    per_image_energy  the per-image protocol: PerImageEnergy, per_image(), per_image_from()
    parts             what a figure is made of: its CPU, RAM and GPU parts (EnergyParts, parts())
    export            CodeCarbon's emissions.csv (its own FileOutput), its companion JSON, and JSON
"""

from dashboard.lab.energy.assumptions import (
    DEFAULT_CURRENCY,
    DEFAULT_PRICE_PER_KWH,
    DEFAULT_PRICE_SOURCE,
    HOUSEHOLD,
    NON_HOUSEHOLD,
    NON_HOUSEHOLD_SOURCE,
    PUE_REFERENCES,
    TARIFFS,
    EnergySettings,
    PueReference,
    default_country,
    default_currency,
    default_price,
    pue_reference,
)
from dashboard.lab.energy.export import (
    companion_json,
    emissions_csv_columns,
    emissions_data,
    emissions_row,
    repriced,
    to_csv,
    to_json,
)
from dashboard.lab.energy.grid import (
    J_PER_KWH,
    WORLD,
    WORLD_NAME,
    Country,
    co2_grams,
    countries,
    country,
    grid_intensity,
)
from dashboard.lab.energy.parts import EnergyParts, parts
from dashboard.lab.energy.per_image_energy import PerImageEnergy, per_image, per_image_from
from dashboard.lab.energy.reading import EnergyReading, combine, kind
from dashboard.lab.energy.tracker import FALLBACK_RAM_WATTS, FALLBACK_WATTS_PER_THREAD, meter, warm_up

__all__ = [
    "DEFAULT_CURRENCY", "DEFAULT_PRICE_PER_KWH", "DEFAULT_PRICE_SOURCE", "FALLBACK_RAM_WATTS",
    "FALLBACK_WATTS_PER_THREAD", "HOUSEHOLD", "J_PER_KWH", "NON_HOUSEHOLD", "NON_HOUSEHOLD_SOURCE",
    "PUE_REFERENCES", "TARIFFS", "WORLD", "WORLD_NAME", "Country", "EnergyParts", "EnergyReading",
    "EnergySettings", "PerImageEnergy", "PueReference", "co2_grams", "combine", "companion_json", "countries",
    "country", "default_country", "default_currency", "default_price", "emissions_csv_columns",
    "emissions_data", "emissions_row", "grid_intensity", "kind", "meter", "parts", "per_image",
    "per_image_from", "pue_reference", "repriced", "to_csv", "to_json", "warm_up",
]
