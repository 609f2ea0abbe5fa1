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

    assumptions       EnergySettings and its defaults (server settings, published price)
    grid              grid carbon intensity per country (CodeCarbon's bundled data)
    reading           EnergyReading, kind(), combine()
    counters          measured or estimated: which hardware counters CodeCarbon reads here
    tracker           the CodeCarbon adapter: meter(), warm_up(), the fallback estimate
    per_image_energy  the per-image protocol: PerImageEnergy, per_image(), per_image_from()
    export            CodeCarbon's emissions.csv (its own FileOutput) and JSON
"""

from .assumptions import (
    DEFAULT_CURRENCY,
    DEFAULT_PRICE_PER_KWH,
    DEFAULT_PRICE_SOURCE,
    EnergySettings,
    default_country,
    default_currency,
    default_price,
)
from .export import emissions_csv_columns, emissions_data, emissions_row, to_csv, to_json
from .grid import J_PER_KWH, WORLD, Country, co2_grams, countries, country, grid_intensity
from .per_image_energy import PerImageEnergy, per_image, per_image_from
from .reading import EnergyReading, combine, kind
from .tracker import FALLBACK_RAM_WATTS, FALLBACK_WATTS_PER_THREAD, meter, warm_up

__all__ = [
    "DEFAULT_CURRENCY", "DEFAULT_PRICE_PER_KWH", "DEFAULT_PRICE_SOURCE", "FALLBACK_RAM_WATTS",
    "FALLBACK_WATTS_PER_THREAD", "J_PER_KWH", "WORLD", "Country", "EnergyReading", "EnergySettings",
    "PerImageEnergy", "co2_grams", "combine", "countries", "country", "default_country", "default_currency",
    "default_price", "emissions_csv_columns", "emissions_data", "emissions_row", "grid_intensity", "kind",
    "meter", "per_image", "per_image_from", "to_csv", "to_json", "warm_up",
]
