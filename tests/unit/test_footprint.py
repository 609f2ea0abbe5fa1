"""Break-even, lifetime projection and everyday equivalents: plain arithmetic with sources."""

from __future__ import annotations

import math

import pytest

from dashboard.lab import energy
from dashboard.lab.energy import footprint
from dashboard.lab.energy import EnergySettings


def test_breakeven_is_training_over_per_inference():
    assert footprint.breakeven_inferences(1000.0, 0.01) == pytest.approx(100_000)
    assert footprint.breakeven_inferences(0.0, 0.5) == 0
    with pytest.raises(ValueError):
        footprint.breakeven_inferences(10.0, 0.0)
    with pytest.raises(ValueError):
        footprint.breakeven_inferences(-1.0, 1.0)


def test_lifetime_projection_adds_up():
    s = EnergySettings(country_iso="FRA", price_per_kwh=0.25, currency="EUR")
    p = footprint.project_lifetime(3.6e6, 36.0, requests_per_day=1000, days=100, settings=s)
    assert p.inferences == 100_000
    assert p.training.kwh == pytest.approx(1.0)
    assert p.inference.kwh == pytest.approx(1.0)              # 100k x 36 J = 3.6 MJ
    assert p.total.kwh == pytest.approx(2.0)
    assert p.inference_share == pytest.approx(0.5)
    assert p.total.co2_kg == pytest.approx(2.0 * energy.grid_intensity("FRA") / 1000)
    assert p.total.cost == pytest.approx(0.5) and p.total.currency == "EUR"
    assert p.breakeven_inferences == pytest.approx(100_000)
    assert p.breakeven_days == pytest.approx(100)
    zero = footprint.project_lifetime(3.6e6, 36.0, requests_per_day=0, days=10, settings=s)
    assert zero.inference.joules == 0 and math.isinf(zero.breakeven_days)
    assert p.to_dict()["training"]["kwh"] == pytest.approx(1.0)


def test_equivalents_cite_a_source_for_every_factor():
    s = EnergySettings(country_iso="DEU")
    eq = {e["key"]: e for e in footprint.equivalents(3.6e6, s)}   # 1 kWh
    assert eq["smartphone_charges"]["count"] == pytest.approx(1 / 0.012)
    assert eq["google_searches"]["count"] == pytest.approx(1 / 0.0003)
    grams = energy.grid_intensity("DEU")
    assert eq["car_km"]["count"] == pytest.approx(grams / (400 / 1.609344))
    for e in eq.values():
        assert e["source"] and e["url"].startswith("https://")
        assert e["count"] > 0
