"""One set of energy assumptions: every export re-prices under the session's current ones; the runs CSV
has a row per version with units; emissions.csv stays CodeCarbon's own; an estimate shows its parts."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from dashboard.lab import energy
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.energy import EnergyReading, EnergySettings
from dashboard.lab.measure.record import RunRecord
from dashboard.service import runs
from dashboard.service.sessions import Session

THREADS = 2


def estimate(phase: str, cpu_s: float, wall_s: float, started: float, settings: EnergySettings | None = None,
             per_thread: float = 4.0, ram_w: float = 10.0) -> EnergyReading:
    """A reading as the meter makes one where it estimates (CodeCarbon's figures in `base`), without
    running anything: CPU time x W per thread, RAM W x wall time."""
    base = {"threads": THREADS, "cpu_measured_by": None, "gpu_measured_by": None,
            "cpu_watts_per_thread": per_thread, "cpu_watts_source": "CodeCarbon's estimate (test)",
            "cpu_joules_measured": 0.0, "cpu_joules_estimated": per_thread * cpu_s, "cpu_seconds_estimated": cpu_s,
            "ram_joules": ram_w * wall_s, "ram_watts": ram_w, "ram_source": "CodeCarbon's RAM model (test)",
            "gpu_joules": 0.0, "codecarbon_co2_grams": None, "fallback_reason": None}
    settings = settings or EnergySettings(country_iso=energy.WORLD)
    raw = EnergyReading(phase, duration_s=wall_s, cpu_seconds=cpu_s, started_at=started, ended_at=started + wall_s,
                        base=base, system={"run_id": f"run-{phase}-{started:g}", "cpu_count": THREADS,
                                           "codecarbon_version": "3.3.2"}, settings=settings)
    return raw.with_settings(settings)


def variant(name: str, cpu_s_per_window: float, started: float, settings: EnergySettings) -> BenchResult:
    """A measured version: three 1 s windows of 1000 images each."""
    readings = [estimate(f"inference:{name}", cpu_s_per_window, 1.0, started + i, settings) for i in range(3)]
    return BenchResult(name=name, available=True, note="", accuracy=0.95, agreement=1.0, size_bytes=409_600,
                       sparsity=0.0, latency_ms_batch1_p50=0.2, latency_ms_batch1_p95=0.3,
                       throughput_batch256_ips=50_000.0, speedup_batch1=1.0, speedup_batch256=1.0, batch_size=256,
                       energy=energy.per_image_from(f"inference:{name}", readings, [1000, 1000, 1000]))


@pytest.fixture
def session() -> Session:
    """A session with a demo run (training + fp32 + int8, measured at the defaults) and a training run."""
    s = Session()
    at_the_time = EnergySettings(country_iso=energy.WORLD)
    s.energy_settings = at_the_time
    te = estimate("training", cpu_s=20.0, wall_s=12.0, started=100.0, settings=at_the_time)
    fp32, int8 = variant("fp32", 1.0, 200.0, at_the_time), variant("int8-static", 0.3, 300.0, at_the_time)
    training = {"model": "mlp", "dataset": "digits", "epochs_completed": 1, "test_accuracy": 0.9,
                "train_seconds": 12.0, "samples_seen": 5000, "images_per_second": 416.7}
    demo = RunRecord(config={}, hardware={}, training=training, training_energy=te, results=[fp32, int8])
    runs.add(s, "demo", demo, [te, *fp32.energy.readings, *int8.energy.readings])
    te2 = estimate("training", cpu_s=10.0, wall_s=6.0, started=400.0, settings=at_the_time)
    runs.add(s, "training", RunRecord(config={}, hardware={}, training=training, training_energy=te2), [te2])
    return s


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def runs_csv(s: Session, settings: EnergySettings) -> list[dict]:
    s.set_settings(settings)
    return rows_of(runs.to_csv(s))


# --- the runs CSV -------------------------------------------------------------------------------------

TEXT_COLUMNS = {"run", "what", "outcome", "figures", "started", "model", "dataset", "energy method",
                "energy priced at", "break-even version", "variant", "variant measured",
                "energy per image: measured or estimated", "grid", "grid ISO code", "grid source", "PUE source",
                "tariff", "price source", "epochs done", "training images", "grid figure year", "variants measured"}


def test_the_runs_csv_has_a_row_per_version_every_column_with_its_unit_and_the_assumptions(session):
    rows = runs_csv(session, EnergySettings(country_iso="FRA"))
    assert [(r["run"], r["variant"]) for r in rows] == [("1", "fp32"), ("1", "int8-static"), ("2", "")]
    columns = list(rows[0])
    for name in ("variant accuracy (%)", "size (KiB)", "batch-1 latency p50 (ms)", "batch-1 latency p95 (ms)",
                 "throughput at that batch size (images/s)", "energy per image (mJ)",
                 "energy per image, CPU part (mJ)", "energy per image, RAM part (mJ)",
                 "CO2e per 1000 images (g)", "variant break-even (inferences)", "training energy (J)",
                 "grid intensity (gCO2e/kWh)", "PUE (total / IT energy)", "electricity price (EUR/kWh)"):
        assert name in columns, name
    unitless = [c for c in columns if c not in TEXT_COLUMNS and not re.search(r"\(.+\)", c)]
    assert not unitless, unitless
    fp32, int8 = rows[0], rows[1]
    assert fp32["model"] == int8["model"] == "mlp"                  # the run's columns repeat on each row
    assert float(fp32["energy per image (mJ)"]) == pytest.approx(14.0)   # (4 W x 1 s + 10 W x 1 s) / 1000
    assert float(int8["energy per image (mJ)"]) == pytest.approx(11.2)   # (4 x 0.3 + 10) / 1000
    assert fp32["energy per image: measured or estimated"] == "estimated"
    assert float(fp32["size (KiB)"]) == 400.0
    assert (fp32["grid"], fp32["grid ISO code"], fp32["grid figure year"]) == ("France", "FRA", "2023")
    assert fp32["energy priced at"] == runs.NOW


def test_cpu_watts_pue_and_country_change_the_csv_energy_and_break_even(session):
    default = runs_csv(session, EnergySettings(country_iso="FRA"))[0]
    at65 = runs_csv(session, EnergySettings(country_iso="FRA", cpu_watts=65))[0]
    pue = runs_csv(session, EnergySettings(country_iso="FRA", pue=1.5))[0]
    pol = runs_csv(session, EnergySettings(country_iso="POL"))[0]

    def f(row, col):
        return float(row[col])

    # 65 W for 2 threads: 32.5 W per thread of CPU time instead of 4 W; RAM is unchanged.
    assert f(at65, "training energy (J)") == pytest.approx(32.5 * 20 + 10 * 12)
    assert f(default, "training energy (J)") == pytest.approx(4 * 20 + 10 * 12)
    assert f(at65, "training energy, RAM part (J)") == f(default, "training energy, RAM part (J)")
    # Break-even: training energy / fp32 energy per image, both under the same assumptions.
    assert f(default, "break-even (inferences)") == pytest.approx(200 / 0.014, abs=1)
    assert f(at65, "break-even (inferences)") == pytest.approx(770 / 0.0425, abs=1)
    assert f(at65, "variant break-even (inferences)") != f(default, "variant break-even (inferences)")
    # PUE scales every energy, and so leaves a ratio of energies (the break-even) as it was.
    assert f(pue, "training energy (J)") == pytest.approx(1.5 * f(default, "training energy (J)"))
    assert f(pue, "energy per image (mJ)") == pytest.approx(1.5 * f(default, "energy per image (mJ)"))
    assert f(pue, "break-even (inferences)") == pytest.approx(f(default, "break-even (inferences)"), abs=1)
    assert f(pue, "PUE (total / IT energy)") == 1.5
    # The country changes CO2, not energy.
    assert f(pol, "training energy (J)") == f(default, "training energy (J)")
    assert f(pol, "CO2e per 1000 images (g)") > 5 * f(default, "CO2e per 1000 images (g)")
    assert f(pol, "grid intensity (gCO2e/kWh)") == pytest.approx(energy.grid_intensity("POL"), rel=1e-5)
    assert f(at65, "assumed CPU power (W, whole CPU; blank = CodeCarbon's estimate)") == 65
    assert default["assumed CPU power (W, whole CPU; blank = CodeCarbon's estimate)"] == ""


def test_the_results_table_and_json_follow_the_assumptions_and_the_json_keeps_the_original(session):
    before = runs.table(session)[0]
    session.set_settings(EnergySettings(country_iso=energy.WORLD, cpu_watts=65))
    after = runs.table(session)[0]
    assert after["training energy (J)"] == pytest.approx(770) and before["training energy (J)"] == pytest.approx(200)
    assert after["break-even (inferences)"] != before["break-even (inferences)"]
    assert after["training energy, CPU part (J)"] + after["training energy, RAM part (J)"] == \
        pytest.approx(after["training energy (J)"])
    blob = json.loads(runs.to_json(session))
    assert blob["energy_assumptions"]["cpu_watts"] == 65
    demo = blob["runs"][0]
    assert demo["training"]["energy"]["joules"] == pytest.approx(770)
    assert demo["as_recorded"]["training_energy_joules"] == pytest.approx(200)
    assert demo["as_recorded"]["energy_settings"]["cpu_watts"] is None
    assert demo["breakeven_inferences"] == pytest.approx(770 / 0.0425)


def test_a_reading_too_old_to_recompute_says_so(session):
    old = EnergyReading("training", duration_s=1.0, joules=5.0, method="estimated: old", base={},
                        settings=EnergySettings(country_iso=energy.WORLD))
    runs.add(session, "training", RunRecord(config={}, hardware={}, training_energy=old), [old])
    session.set_settings(EnergySettings(country_iso="FRA", pue=1.5))
    row = runs.table(session)[-1]
    assert row["training energy (J)"] == 5.0 and row["energy priced at"] == runs.OF_THEIR_TIME
    assert runs.table(session)[0]["energy priced at"] == runs.NOW


# --- emissions.csv and its companion ------------------------------------------------------------------

def test_emissions_csv_is_codecarbons_with_the_sessions_country_and_pue(session, tmp_path):
    from codecarbon.output_methods.file import FileOutput

    readings = [rd for r in session.runs for rd in r.readings]
    for iso, name, code in (("FRA", "France", "FRA"), ("POL", "Poland", "POL"),
                            (energy.WORLD, "World (average)", "")):
        session.set_settings(EnergySettings(country_iso=iso, pue=1.5))
        text = runs.emissions_csv(session)
        rows = rows_of(text)
        assert list(rows[0]) == energy.emissions_csv_columns() and len(rows) == len(readings)
        assert {(r["country_name"], r["country_iso_code"], float(r["pue"])) for r in rows} == {(name, code, 1.5)}
        for row, rd in zip(rows, readings):
            kwh = 1.5 * rd.joules / energy.J_PER_KWH               # PUE applied to every energy, as CodeCarbon does
            assert float(row["energy_consumed"]) == pytest.approx(kwh)
            assert float(row["cpu_energy"]) + float(row["ram_energy"]) + float(row["gpu_energy"]) == \
                pytest.approx(kwh)
            assert float(row["emissions"]) * 1000 == pytest.approx(energy.co2_grams(kwh * energy.J_PER_KWH, iso))
    # CodeCarbon takes the file as its own: it appends to it rather than setting it aside.
    (tmp_path / "emissions.csv").write_text(text, encoding="utf-8")
    FileOutput("emissions.csv", str(tmp_path)).out(energy.emissions_data(readings[0]), None)
    assert len(rows_of((tmp_path / "emissions.csv").read_text())) == len(readings) + 1
    assert not list(tmp_path.glob("*.bak"))


def test_the_companion_json_gives_each_emissions_row_its_images(session):
    rows = rows_of(runs.emissions_csv(session))
    companion = json.loads(runs.emissions_companion_json(session))["rows"]
    assert [c["run_id"] for c in companion] == [r["run_id"] for r in rows]
    assert [c["images"] for c in companion] == [5000, 1000, 1000, 1000, 1000, 1000, 1000, 5000]
    assert [c["phase"] for c in companion][:2] == ["training", "inference:fp32"]
    assert [c["lab_run"] for c in companion] == [1] * 7 + [2]


# --- what an estimate is made of ------------------------------------------------------------------

def test_cpu_and_ram_parts_add_up_to_the_figure():
    at_the_time = EnergySettings(country_iso=energy.WORLD)
    r = estimate("training", 20.0, 12.0, 1.0, at_the_time)
    p = energy.parts(r)
    assert (p.cpu_joules, p.ram_joules) == pytest.approx((80.0, 120.0))
    assert p.cpu_joules + p.ram_joules + p.gpu_joules == pytest.approx(r.joules)
    assert p.cpu_share + p.ram_share == pytest.approx(1.0) and p.ram_share == pytest.approx(0.6)
    assert p.estimated and p.cpu_watts_per_thread == 4.0 and p.ram_watts == 10.0
    at65 = energy.parts(r.with_settings(EnergySettings(country_iso=energy.WORLD, cpu_watts=65, pue=1.5)))
    assert at65.cpu_joules == pytest.approx(1.5 * 32.5 * 20) and at65.ram_joules == pytest.approx(1.5 * 120)
    e = variant("fp32", 1.0, 10.0, at_the_time).energy
    pi = energy.parts(e)
    assert pi.per == "image" and pi.total_joules == e.joules_per_image
    assert pi.cpu_joules + pi.ram_joules == pytest.approx(e.joules_per_image)
    assert pi.cpu_joules == pytest.approx(0.004) and pi.cpu_seconds == pytest.approx(0.001)


def test_parts_of_a_real_reading_add_up():
    with energy.meter("training", settings=EnergySettings(country_iso="DEU")) as r:
        sum(i * i for i in range(200_000))
    p = energy.parts(r)
    assert p.cpu_joules + p.ram_joules + p.gpu_joules == pytest.approx(r.joules)
    assert p.total_joules > 0 and 0 <= p.cpu_share <= 1


# --- the assumptions themselves ---------------------------------------------------------------------

def test_every_grid_intensity_has_its_year():
    for c in energy.countries():
        assert isinstance(c.year, int) and 1990 < c.year < 2100, c
        assert f"({c.year})" in c.label and "gCO₂e/kWh" in c.label
    assert energy.country(energy.WORLD).year == energy.grid.WORLD_YEAR


def test_pue_references_prices_and_currency_say_where_they_come_from():
    assert [r.value for r in energy.PUE_REFERENCES] == [1.0, 1.1, 1.56]
    assert "Uptime Institute" in EnergySettings(pue=1.56).pue_source
    assert "Google" in EnergySettings(pue=1.1).pue_source
    assert EnergySettings(pue=1.3).pue_source == "your assumption"
    household = EnergySettings(price_per_kwh=energy.DEFAULT_PRICE_PER_KWH, currency="EUR")
    assert "nrg_pc_204" in household.price_source
    dc = EnergySettings(price_per_kwh=energy.DEFAULT_PRICE_PER_KWH, currency="EUR", tariff=energy.NON_HOUSEHOLD)
    assert "nrg_pc_205" in dc.price_source and "household" in dc.price_source
    assert "does not change with the grid country" in EnergySettings(country_iso="USA").currency_note
    for bad in (EnergySettings(tariff="cheap"), EnergySettings(currency=" ")):
        with pytest.raises(ValueError):
            bad.validate()


def test_the_session_keeps_its_assumptions_when_new_ones_make_no_sense():
    s = Session()
    s.set_settings(EnergySettings(country_iso="FRA", pue=1.2))
    with pytest.raises(ValueError):
        s.set_settings(EnergySettings(pue=0.5))
    assert s.settings.country_iso == "FRA" and s.settings.pue == 1.2
