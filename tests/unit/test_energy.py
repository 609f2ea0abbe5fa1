"""The energy meter against the real CodeCarbon: readings, fallback, one meter at a time, CO2, export."""

from __future__ import annotations

import csv
import io
import statistics
import threading
import time
from dataclasses import fields

import pytest
import torch

from dashboard.lab import energy, slot
from dashboard.lab.energy import EnergyReading, EnergySettings


def busy(seconds: float) -> None:
    """Real CPU work: small matmuls for `seconds`."""
    a = torch.randn(256, 256)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ a


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_meter_around_real_work_gives_positive_energy_and_a_method():
    with energy.meter("training", settings=EnergySettings(country_iso="DEU")) as r:
        busy(0.3)
    assert r.duration_s >= 0.3
    assert r.cpu_seconds > 0.1
    assert r.cpu_joules > 0 and r.ram_joules > 0
    assert r.joules == pytest.approx(r.cpu_joules + r.ram_joules + r.gpu_joules)
    assert r.kwh == pytest.approx(r.joules / 3.6e6)
    assert r.co2_grams > 0 and r.country_iso == "DEU"
    assert r.method.startswith(("measured:", "estimated:"))
    assert r.measured == r.method.startswith("measured:")
    assert "unavailable" not in r.method, r.method          # CodeCarbon itself worked
    if not r.measured:                                       # this container: no RAPL
        assert "W per thread" in r.method
        assert r.assumptions["cpu_watts_per_thread"] > 0 and r.assumptions["cpu_model"]
    assert r.started_at < r.ended_at
    again = EnergyReading.from_dict(r.to_dict())             # JSON-serialisable and back
    assert again.joules == r.joules and again.method == r.method


def test_codecarbon_failure_falls_back_to_a_cpu_time_estimate(monkeypatch):
    import codecarbon

    class Broken:
        def __init__(self, *a, **k):
            raise RuntimeError("no hardware today")

    monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", Broken)
    with energy.meter("inference:fp32") as r:
        busy(0.2)
    assert r.method.startswith("estimated: CodeCarbon unavailable: RuntimeError: no hardware today")
    assert not r.measured
    assert r.cpu_joules == pytest.approx(r.assumptions["cpu_watts_per_thread"] * r.cpu_seconds)
    assert r.joules > 0 and r.co2_grams > 0
    assert r.assumptions["codecarbon_error"] == "RuntimeError: no hardware today"


def test_codecarbon_returning_none_falls_back_and_says_so(monkeypatch):
    import codecarbon

    real = codecarbon.OfflineEmissionsTracker

    class Silent(real):
        def stop(self):
            super().stop()
            return None          # what CodeCarbon does when it swallows its own error

    monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", Silent)
    with energy.meter("inference:fp32") as r:
        busy(0.1)
    assert r.method.startswith("estimated: CodeCarbon unavailable: its stop() returned no data")
    assert r.joules > 0


def test_an_error_in_the_block_still_fills_the_reading_and_frees_the_slot():
    with pytest.raises(ZeroDivisionError):
        with energy.meter("oops") as r:
            busy(0.05)
            1 / 0
    assert r.joules > 0
    assert not slot.COMPUTE.busy


def test_two_threads_metering_at_once_do_not_overlap():
    readings: dict[str, EnergyReading] = {}
    waits: list[slot.Waiting] = []
    first_in = threading.Event()

    def first():
        with energy.meter("first") as r:
            first_in.set()
            busy(0.4)
        readings["first"] = r

    def second():
        first_in.wait(5)
        with energy.meter("second", on_wait=waits.append) as r:
            busy(0.1)
        readings["second"] = r

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    a, b = readings["first"], readings["second"]
    assert b.started_at >= a.ended_at            # the second metered only after the first ended
    assert b.waited_s > 0.1
    assert waits and waits[0].ahead == 1 and waits[0].holder == "first"


def test_co2_is_energy_times_codecarbons_own_intensity():
    from codecarbon.core.emissions import Emissions
    from codecarbon.input import DataSource

    mix = DataSource().get_global_energy_mix_data()["FRA"]
    g_per_kwh = Emissions._global_energy_mix_to_emissions_rate(mix).kgs_per_kWh * 1000
    assert energy.grid_intensity("FRA") == pytest.approx(g_per_kwh)
    assert energy.co2_grams(3.6e6, "FRA") == pytest.approx(g_per_kwh)
    world = DataSource().get_carbon_intensity_per_source_data()["world_average"]
    assert energy.grid_intensity("XYZ") == world         # unknown country: world average, like CodeCarbon
    assert energy.countries()[0].iso == energy.WORLD
    assert {"FRA", "DEU", "IND"} <= {c.iso for c in energy.countries()}

    with energy.meter("training", settings=EnergySettings(country_iso="FRA")) as r:
        busy(0.1)
    assert r.co2_grams == pytest.approx(r.kwh * g_per_kwh)
    assert r.co2_grams == pytest.approx(r.base["codecarbon_co2_grams"])   # CodeCarbon agrees
    india = r.with_settings(EnergySettings(country_iso="IND"))             # no re-run
    assert india.joules == r.joules
    assert india.co2_grams == pytest.approx(r.kwh * energy.grid_intensity("IND"))


def test_settings_recompute_estimates_and_are_shown_as_the_users():
    with energy.meter("training") as r:
        busy(0.2)
    threads = r.assumptions["logical_cpus"]
    s = EnergySettings(country_iso="DEU", cpu_watts=10.0 * threads, pue=1.5, price_per_kwh=0.5, currency="USD")
    mine = r.with_settings(s)
    if not r.measured:
        assert mine.cpu_joules == pytest.approx(10.0 * r.cpu_seconds * 1.5)
        assert "your assumption" in mine.method
    assert mine.ram_joules == pytest.approx(r.ram_joules * 1.5)
    assert mine.cost == pytest.approx(mine.kwh * 0.5) and mine.currency == "USD"
    assert mine.assumptions["pue"] == 1.5 and mine.assumptions["pue_source"] == "your assumption"
    back = mine.with_settings(EnergySettings(country_iso=r.country_iso, price_per_kwh=r.assumptions["price_per_kwh"]))
    assert back.joules == pytest.approx(r.joules)
    with pytest.raises(ValueError):
        EnergySettings(pue=0.5).validate()


def test_combine_sums_chunks():
    chunks = []
    for _ in range(3):
        with energy.meter("training") as r:
            busy(0.05)
        chunks.append(r)
    total = energy.combine(chunks, "training")
    assert total.chunks == 3
    assert total.joules == pytest.approx(sum(c.joules for c in chunks))
    assert total.cpu_seconds == pytest.approx(sum(c.cpu_seconds for c in chunks))
    assert total.co2_grams == pytest.approx(sum(c.co2_grams for c in chunks))
    assert total.started_at == chunks[0].started_at and total.ended_at == chunks[-1].ended_at


def test_per_image_reports_a_median_and_its_spread():
    model = torch.nn.Linear(64, 10)
    x = torch.randn(32, 64)

    def run_batch() -> int:
        with torch.inference_mode():
            model(x)
        return len(x)

    res = energy.per_image(run_batch, phase="inference:fp32", min_seconds=0.05, repeats=3, warmup=1)
    assert len(res.readings) == 3 and all(n > 0 for n in res.images)
    assert res.joules_per_image > 0 and res.co2_grams_per_image > 0
    assert res.spread >= 1.0
    assert min(res.per_window) <= res.joules_per_image <= max(res.per_window)
    assert res.joules_per_image == pytest.approx(statistics.median(res.per_window))
    assert res.spread == pytest.approx(max(res.per_window) / min(res.per_window))
    assert res.summary()["method"] == res.method


def test_csv_has_exactly_codecarbons_columns_and_rows_it_can_load():
    from codecarbon.output_methods.emissions_data import EmissionsData

    columns = [f.name for f in fields(EmissionsData)]
    assert energy.emissions_csv_columns() == columns
    with energy.meter("training", settings=EnergySettings(country_iso="FRA")) as r:
        busy(0.05)
    text = energy.to_csv([r, r.with_settings(EnergySettings(country_iso="IND"))])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0].keys()) == columns and len(rows) == 2
    data = EmissionsData(**energy.emissions_row(r))          # CodeCarbon's own record type accepts it
    assert data.energy_consumed == pytest.approx(r.kwh)
    assert data.emissions == pytest.approx(r.co2_grams / 1000)
    assert rows[1]["country_iso_code"] == "IND"
    import json
    blob = json.loads(energy.to_json([r]))
    assert blob["readings"][0]["joules"] == r.joules


def test_the_engine_does_not_import_streamlit():
    from dashboard.lab import footprint
    for module in (energy, footprint):
        assert "streamlit" not in open(module.__file__, encoding="utf-8").read()


def test_kind_is_measured_only_when_every_reading_was():
    m, e = EnergyReading("inference", measured=True), EnergyReading("inference", measured=False)
    assert energy.kind(m) == "measured" and energy.kind(m, {"measured": True}) == "measured"
    assert energy.kind(m, e) == "estimated" and energy.kind({"measured": False}) == "estimated"
    assert energy.kind() == "estimated"


def test_a_hanging_codecarbon_is_bounded_and_the_reading_says_why(monkeypatch):
    """CodeCarbon stuck in start() (a hung powermetrics or nvidia-smi call) must not hold the
    compute slot: past the deadline the reading is a CPU-time estimate that names the cause."""
    import threading
    import time

    from dashboard.lab.slot import COMPUTE

    release = threading.Event()

    class Stuck:
        def start(self):
            release.wait(30)

        def stop(self):
            return None

    monkeypatch.setattr(energy, "TRACKER_TIMEOUT_S", 0.3)
    monkeypatch.setattr(energy, "_new_tracker", lambda iso: Stuck())
    t0 = time.monotonic()
    with energy.meter("training") as reading:
        sum(i * i for i in range(200_000))
    took = time.monotonic() - t0
    release.set()
    assert took < 2.0 and not COMPUTE.busy
    assert not reading.measured and reading.joules > 0
    assert "CodeCarbon unavailable: its start() did not return within 0.3 s" in reading.method
