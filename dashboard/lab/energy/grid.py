"""Grid carbon intensity per country, from the data files CodeCarbon ships (published figures).

The files are found through CodeCarbon's public `DataSource` paths and read as JSON here:
nothing of CodeCarbon's internals is called, so its private functions can change freely.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache

WORLD = "WORLD"  # pseudo country code: CodeCarbon's world-average intensity
WORLD_NAME = "World (average)"  # CodeCarbon has no ISO code for it: exports name it this way
# carbon_intensity_per_source.json "world_average" in CodeCarbon 3.3.2; used only when
# CodeCarbon's files cannot be read at all.
WORLD_FALLBACK_GCO2_PER_KWH = 475.0
# Its source there is the IEA's Global Energy & CO2 Status Report published in 2019
# (iea.org/reports/global-energy-co2-status-report-2019), which reports on the year 2018.
WORLD_YEAR = 2018
WORLD_SOURCE = ("IEA Global Energy & CO2 Status Report (published 2019, figures for 2018), "
                "via CodeCarbon {version} carbon_intensity_per_source.json")

J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class Country:
    iso: str
    name: str
    gco2_per_kwh: float
    year: int | None    # the year the figure describes
    source: str

    @property
    def year_text(self) -> str:
        return str(self.year) if self.year else "year not stated"

    @property
    def label(self) -> str:
        """'France: 56 gCO₂e/kWh (2023)': the figure always with its unit and year."""
        return f"{self.name}: {self.gco2_per_kwh:.0f} gCO₂e/kWh ({self.year_text})"


# global_energy_mix.json's generation columns that do not overlap (its fossil, low_carbon and
# renewables columns are sums of these), each with its factor in carbon_intensity_per_source.json.
# "Other renewables excluding bioenergy" is mostly geothermal (with some tidal and wave).
MIX_SOURCES = {"coal": "coal", "gas": "natural_gas", "oil": "petroleum", "nuclear": "nuclear",
               "hydroelectricity": "hydroelectricity", "solar": "solar", "wind": "wind", "biofuel": "biofuel",
               "other_renewable_exc_biofuel": "geothermal"}


def mix_intensity(mix: dict, per_source: dict) -> float | None:
    """gCO2e/kWh of one country's entry in global_energy_mix.json.

    The entry's own `carbon_intensity` when it has one (CodeCarbon 3.3.2: every country, from
    Ember / Our World in Data; CodeCarbon uses that field first too). Otherwise the generation-
    weighted mean of the per-source lifecycle factors, the method of CodeCarbon's
    Emissions._global_energy_mix_to_emissions_rate (codecarbon/core/emissions.py):
        g = sum over sources s of (s_TWh / total_TWh) x g_s
    over the non-overlapping columns in MIX_SOURCES. None when those do not cover total_TWh
    (within 1 %): the caller then uses the world average, as CodeCarbon does.
    """
    if mix.get("carbon_intensity") is not None:
        return float(mix["carbon_intensity"])
    total = mix.get("total_TWh")
    if not total:
        return None
    weighted = covered = 0.0
    for column, factor_name in MIX_SOURCES.items():
        twh, factor = mix.get(f"{column}_TWh"), per_source.get(factor_name)
        if twh and isinstance(factor, (int, float)):
            weighted += twh / total * factor
            covered += twh
    return weighted if abs(covered - total) <= 0.01 * total else None


@lru_cache(maxsize=1)
def _grid_table() -> dict[str, Country]:
    """iso -> Country from CodeCarbon's global_energy_mix.json and carbon_intensity_per_source.json."""
    try:
        from codecarbon import __version__ as cc_version
        from codecarbon.input import DataSource

        source = DataSource()
        with open(source.carbon_intensity_per_source_path, encoding="utf-8") as f:
            per_source = json.load(f)
        with open(source.global_energy_mix_data_path, encoding="utf-8") as f:
            mixes = json.load(f)
        world = float(per_source["world_average"])
        table = {WORLD: Country(WORLD, "World average", world, WORLD_YEAR, WORLD_SOURCE.format(version=cc_version))}
        for iso, mix in mixes.items():
            g = mix_intensity(mix, per_source)
            how = ("" if mix.get("carbon_intensity") is not None else
                   " (world average: its mix is incomplete)" if g is None else " (computed from its generation mix)")
            table[iso] = Country(iso, mix.get("country_name", iso), round(world if g is None else g, 6),
                                 mix.get("year"), f"CodeCarbon {cc_version} global_energy_mix.json{how}")
        return table
    except Exception as e:  # noqa: BLE001  no codecarbon: the world average is all we can honestly offer
        # Why goes to the server log: the reason may hold a file path, which a student has no use for.
        logging.getLogger("train_infer_lab.energy").warning("CodeCarbon's grid data could not be read: %s", e)
        return {WORLD: Country(WORLD, "World average", WORLD_FALLBACK_GCO2_PER_KWH, WORLD_YEAR,
                               "IEA Global Energy & CO2 Status Report (published 2019, figures for 2018), as "
                               "CodeCarbon quotes it; CodeCarbon's data could not be read here")}


def known(iso: str) -> bool:
    """True for WORLD and every country CodeCarbon has grid data for."""
    return iso == WORLD or iso in _grid_table()


def countries() -> list[Country]:
    """The world average first, then every country CodeCarbon has data for, by name."""
    table = _grid_table()
    return [table[WORLD]] + sorted((c for iso, c in table.items() if iso != WORLD), key=lambda c: c.name)


def country(iso: str | None) -> Country:
    """A country by ISO-3 code; unknown codes get the world average, as CodeCarbon does."""
    table = _grid_table()
    return table.get((iso or WORLD).upper(), table[WORLD])


def grid_intensity(country_iso: str | None) -> float:
    """gCO2e per kWh for a country (world average if unknown)."""
    return country(country_iso).gco2_per_kwh


def co2_grams(joules: float, country_iso: str | None) -> float:
    """CO2e in grams for an amount of energy on a country's grid; no re-run needed."""
    return joules / J_PER_KWH * grid_intensity(country_iso)
