"""The energy meter against the real CodeCarbon: readings, fallbacks, the grid table, settings, export."""

from __future__ import annotations

import ast
import csv
import io
import json
import threading
import time
from importlib.resources import files
from pathlib import Path

import pytest
import torch

from dashboard.lab import energy
from dashboard.lab.energy import EnergyReading, EnergySettings, counters, tracker
from dashboard.lab.measure.record import RunRecord
from dashboard.service import slot

PACKAGE = Path(energy.__file__).parent


def busy(seconds: float) -> None:
    """Real CPU work: small matmuls until this thread has computed for `seconds` (CPU time, not wall time:
    on a busy machine a wall-clock window may get little CPU, and the tests compare amounts of work)."""
    a = torch.randn(256, 256)
    t0 = time.thread_time()
    while time.thread_time() - t0 < seconds:
        a @ a


def codecarbon_json(name: str) -> dict:
    """One of CodeCarbon's bundled data files, read straight from its package."""
    return json.loads(files("codecarbon").joinpath(f"data/private_infra/{name}").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", autouse=True)
def warm():
    energy.warm_up()  # CodeCarbon's one-off hardware detection (~1.5 s), once for the module


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def metered(seconds: float, settings: EnergySettings | None = None, phase: str = "training") -> EnergyReading:
    with energy.meter(phase, settings=settings) as r:
        busy(seconds)
    return r


# --- the meter ----------------------------------------------------------------------------------

def test_a_reading_of_real_work_says_how_it_was_obtained_and_survives_json():
    r = metered(0.2, EnergySettings(country_iso="DEU"))
    assert r.joules > 0 and r.co2_grams > 0 and r.country_iso == "DEU"
    assert r.cpu_seconds > 0.1 and r.started_at < r.ended_at
    assert "unavailable" not in r.method, r.method           # CodeCarbon itself worked
    # Measured only where CodeCarbon can read a CPU energy counter on this machine.
    assert r.measured == (counters.cpu_counter() is not None)
    assert r.method.startswith("measured:" if r.measured else "estimated:")
    if not r.measured:                                        # containers, VMs: CPU time x a wattage
        assert "W per thread" in r.method and r.assumptions["cpu_watts_per_thread"] > 0
        assert "not in its public API" in r.assumptions["cpu_watts_source"]
    again = EnergyReading.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again == r                                         # settings and CodeCarbon's figures included


def test_more_cpu_work_costs_more_energy():
    # Windows long enough that CodeCarbon's own start/stop work (a fixed cost) does not decide it.
    short, long = metered(0.3), metered(1.2)
    assert long.cpu_seconds > 2 * short.cpu_seconds
    assert long.joules > 2 * short.joules


def test_short_and_long_windows_quote_one_wattage_so_per_image_figures_have_one_method():
    # CodeCarbon also counts its own start/stop CPU time; a short window must not show up as a
    # different wattage (the Training vs inference page printed four methods for one measurement).
    readings = [metered(0.6), metered(0.03), metered(0.1)]
    if readings[0].measured:
        pytest.skip("CPU energy is measured here: no wattage is quoted")
    assert len({r.method for r in readings}) == 1, {r.method for r in readings}
    per_image = energy.per_image_from("inference:x", readings, [100, 5, 17])
    assert not per_image.method.startswith("mixed")


def test_our_co2_agrees_with_codecarbons_own_figure():
    r = metered(0.1, EnergySettings(country_iso="FRA"))
    assert r.co2_grams == pytest.approx(r.base["codecarbon_co2_grams"], rel=1e-6)


def test_the_meter_does_not_wait_for_the_compute_slot():
    """The slot is taken where a job starts; a meter inside such a job must not queue behind it."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with slot.COMPUTE.hold("someone else's job"):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    try:
        r = metered(0.05)   # returns while the other holder still has the slot: it never queued for it
        assert t.is_alive() and not release.is_set() and r.joules > 0
    finally:
        release.set()
        t.join(5)


def test_an_error_in_the_block_still_fills_the_reading():
    with pytest.raises(ZeroDivisionError), energy.meter("oops") as r:
        busy(0.05)
        _ = 1 / 0
    assert r.joules > 0 and r.method.startswith(("measured:", "estimated:"))


# --- when CodeCarbon fails -------------------------------------------------------------------------

def test_codecarbon_raising_gives_an_estimate_that_says_why(monkeypatch):
    import codecarbon

    class Broken:
        def __init__(self, *a, **k):
            raise RuntimeError("no hardware today")

    monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", Broken)
    r = metered(0.1, phase="inference:fp32")
    assert r.method.startswith("estimated: CodeCarbon unavailable: RuntimeError: no hardware today")
    assert not r.measured and r.joules > 0 and r.co2_grams > 0
    assert r.assumptions["codecarbon_error"] == "RuntimeError: no hardware today"


def test_codecarbon_stop_returning_none_gives_an_estimate_that_says_why(monkeypatch):
    import codecarbon

    class Silent(codecarbon.OfflineEmissionsTracker):   # the real tracker, its error swallowed
        def stop(self):
            super().stop()   # and then returns None

    monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", Silent)
    r = metered(0.05)
    assert r.method.startswith("estimated: CodeCarbon unavailable: its stop() returned no data")
    assert r.joules > 0


def test_a_hanging_codecarbon_is_bounded_and_the_reading_says_why(monkeypatch):
    """CodeCarbon stuck in start() (a hung powermetrics or nvidia-smi call) must not hold up the
    job: past the deadline the reading is a CPU-time estimate that names the cause."""
    release = threading.Event()

    class Stuck:
        def start(self):
            release.wait(30)

        def stop(self):
            return None

    monkeypatch.setattr(tracker, "TRACKER_TIMEOUT_S", 0.3)
    monkeypatch.setattr(tracker, "_new_tracker", lambda iso: Stuck())
    with energy.meter("training") as reading:
        busy(0.05)
    # The stuck start() is still waiting for `release` (30 s): the meter gave up on it instead of waiting.
    stuck_still = not release.is_set()
    release.set()
    assert stuck_still
    assert not reading.measured and reading.joules > 0
    assert "CodeCarbon unavailable: its start() did not return within 0.3 s" in reading.method


# --- the grid table ------------------------------------------------------------------------------

def test_grid_intensities_are_codecarbons_and_rank_grids_sensibly():
    mixes, world = codecarbon_json("global_energy_mix.json"), codecarbon_json("carbon_intensity_per_source.json")
    assert {c.iso for c in energy.countries()} == set(mixes) | {energy.WORLD}
    assert energy.countries()[0].iso == energy.WORLD
    for iso, mix in mixes.items():
        assert energy.grid_intensity(iso) == pytest.approx(mix["carbon_intensity"]), iso
    w = energy.grid_intensity(energy.WORLD)
    assert w == world["world_average"]
    assert energy.grid_intensity("XYZ") == w                   # unknown: world average, like CodeCarbon
    share = {iso: (m["low_carbon_TWh"] / m["total_TWh"], m["coal_TWh"] / m["total_TWh"])
             for iso, m in mixes.items() if m["total_TWh"]}
    clean = [iso for iso, (low, _) in share.items() if low > 0.9]
    coal = [iso for iso, (_, c) in share.items() if c > 0.6]
    assert "FRA" in clean and "POL" in coal
    assert all(energy.grid_intensity(iso) < w for iso in clean)
    assert all(energy.grid_intensity(iso) > w for iso in coal)


def test_a_country_without_an_intensity_is_computed_from_its_mix():
    mixes, per_source = codecarbon_json("global_energy_mix.json"), codecarbon_json("carbon_intensity_per_source.json")
    bare = {iso: {k: v for k, v in mixes[iso].items() if k != "carbon_intensity"} for iso in ("FRA", "DEU", "POL")}
    g = {iso: energy.grid.mix_intensity(mix, per_source) for iso, mix in bare.items()}
    assert g["FRA"] < per_source["world_average"] < g["POL"]
    assert g["FRA"] < g["DEU"] < g["POL"]
    assert energy.grid.mix_intensity({"total_TWh": 10.0, "coal_TWh": 4.0}, per_source) is None  # incomplete


# --- settings travel with the reading -------------------------------------------------------------

def test_changing_the_country_scales_co2_by_codecarbons_intensities():
    mixes = codecarbon_json("global_energy_mix.json")
    fra = metered(0.1, EnergySettings(country_iso="FRA"))
    ind = fra.with_settings(EnergySettings(country_iso="IND"))   # no re-run
    assert ind.joules == fra.joules and ind.settings.country_iso == "IND"
    ratio = mixes["IND"]["carbon_intensity"] / mixes["FRA"]["carbon_intensity"]
    assert ind.co2_grams / fra.co2_grams == pytest.approx(ratio)


def test_an_assumed_cpu_wattage_charges_cpu_time():
    short, long = metered(0.1), metered(0.3)
    if short.measured:
        pytest.skip("CPU energy is measured here: an assumed wattage does not apply")
    at65 = [r.with_settings(EnergySettings(cpu_watts=65)) for r in (short, long)]
    at130 = short.with_settings(EnergySettings(cpu_watts=130))
    assert at65[1].cpu_joules / at65[0].cpu_joules == pytest.approx(long.cpu_seconds / short.cpu_seconds)
    assert at130.cpu_joules == pytest.approx(2 * at65[0].cpu_joules)
    assert at65[0].settings.cpu_watts == 65 and "your assumption: 65 W" in at65[0].method


def test_pue_and_price_apply_to_the_whole_reading():
    r = metered(0.1)
    dc = r.with_settings(EnergySettings(country_iso=r.country_iso, pue=1.5, price_per_kwh=0.5, currency="USD"))
    dearer = r.with_settings(EnergySettings(country_iso=r.country_iso, pue=1.5, price_per_kwh=1.0, currency="USD"))
    assert dc.joules == pytest.approx(1.5 * r.joules) and dc.co2_grams == pytest.approx(1.5 * r.co2_grams)
    assert dearer.cost == pytest.approx(2 * dc.cost) and dc.cost > 0
    assert dc.currency == "USD" and dc.assumptions["pue_source"] == "your assumption"
    with pytest.raises(ValueError):
        EnergySettings(pue=0.5).validate()


def test_combine_adds_chunks_and_keeps_their_settings():
    mine = EnergySettings(country_iso="FRA", cpu_watts=50, pue=1.2, price_per_kwh=0.3, currency="CHF")
    chunks = [metered(0.05, mine) for _ in range(3)]
    total = energy.combine(chunks, "training")
    assert total.settings == mine and total.country_iso == "FRA" and total.currency == "CHF"
    assert total.chunks == 3
    assert total.joules == pytest.approx(sum(c.joules for c in chunks))
    assert total.co2_grams == pytest.approx(sum(c.co2_grams for c in chunks))
    assert total.started_at == chunks[0].started_at and total.ended_at == chunks[-1].ended_at


def test_a_run_record_keeps_the_training_energy_as_a_reading():
    r = metered(0.05, EnergySettings(country_iso="DEU", pue=1.3))
    record = RunRecord(config={}, hardware={}, training_energy=r)
    back = RunRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert isinstance(back.training_energy, EnergyReading) and back.training_energy.settings == r.settings
    other = EnergySettings(country_iso="FRA")
    assert back.training_energy.with_settings(other).co2_grams == pytest.approx(r.with_settings(other).co2_grams)


# --- per image -------------------------------------------------------------------------------------

def test_per_image_reports_a_median_and_its_spread():
    model = torch.nn.Linear(64, 10)
    x = torch.randn(32, 64)

    def run_batch() -> int:
        with torch.inference_mode():
            model(x)
        return len(x)

    res = energy.per_image(run_batch, phase="inference:fp32", min_seconds=0.05, repeats=3, warmup=1,
                           settings=EnergySettings(country_iso="FRA"))
    assert len(res.readings) == 3 and all(n > 0 for n in res.images)
    assert min(res.per_window) <= res.joules_per_image <= max(res.per_window)
    assert res.spread >= 1.0 and res.co2_grams_per_image > 0
    assert res.settings.country_iso == "FRA"
    india = res.with_settings(EnergySettings(country_iso="IND"))
    assert india.joules_per_image == pytest.approx(res.joules_per_image)
    assert india.co2_grams_per_image > res.co2_grams_per_image
    assert energy.PerImageEnergy.from_dict(json.loads(json.dumps(res.to_dict()))).joules_per_image == \
        pytest.approx(res.joules_per_image)
    with pytest.raises(ValueError):
        energy.per_image(lambda: 0, phase="inference:broken", min_seconds=0.0, repeats=1, warmup=0)


def test_kind_is_measured_only_when_every_reading_was():
    m, e = EnergyReading("inference", measured=True), EnergyReading("inference", measured=False)
    assert energy.kind(m) == "measured" and energy.kind(m, m) == "measured"
    assert energy.kind(m, e) == "estimated" and energy.kind() == "estimated"


# --- export ----------------------------------------------------------------------------------------

def test_emissions_csv_is_codecarbons_own_with_our_country_and_pue(tmp_path):
    from codecarbon.output_methods.emissions_data import EmissionsData
    from codecarbon.output_methods.file import FileOutput

    r = metered(0.05, EnergySettings(country_iso="FRA"))
    dc = r.with_settings(EnergySettings(country_iso="IND", pue=1.4))
    text = energy.to_csv([r, dc], tmp_path / "emissions.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(EmissionsData.__dataclass_fields__) and len(rows) == 2
    assert (rows[0]["country_iso_code"], float(rows[0]["pue"])) == ("FRA", 1.0)
    assert (rows[1]["country_iso_code"], float(rows[1]["pue"])) == ("IND", 1.4)
    assert float(rows[1]["energy_consumed"]) == pytest.approx(dc.kwh)
    assert float(rows[1]["emissions"]) * 1000 == pytest.approx(dc.co2_grams)
    # CodeCarbon accepts the file as its own: it appends to it rather than backing it up.
    FileOutput("emissions.csv", str(tmp_path)).out(energy.emissions_data(r), None)
    assert len(list(csv.DictReader(io.StringIO((tmp_path / "emissions.csv").read_text())))) == 3
    assert not list(tmp_path.glob("*.bak"))
    assert json.loads(energy.to_json([r]))["readings"][0]["settings"]["country_iso"] == "FRA"


# --- the code itself ---------------------------------------------------------------------------------

def test_energy_uses_no_private_names_of_other_modules_and_no_streamlit():
    for path in PACKAGE.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "streamlit" not in source, path.name
        private = [n.attr for n in ast.walk(ast.parse(source))
                   if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")]
        assert not private, (path.name, private)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("codecarbon"):
                names = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                assert not names, (path.name, node.module, names)
