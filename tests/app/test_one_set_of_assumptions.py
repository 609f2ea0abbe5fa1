"""One set of energy assumptions per session: set through the widget on one page, used everywhere.

The widget (dashboard.ui.assumptions.assumptions_panel) is drawn by a small script with one or
two panels (as two pages would draw it), and on the Results page of the real app."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest
from tests.app.drive import fresh, open_page, session, train_tiny

from dashboard.lab.energy import EnergySettings
from dashboard.service import runs
from dashboard.service.sessions import REGISTRY
from dashboard.ui.session import KEY


def panels_script():
    import streamlit as st

    from dashboard.ui import assumptions, session

    s = session.get()
    for prefix in st.session_state.get("panels", ["a", "b"]):
        assumptions.assumptions_panel(s, prefix, expanded=True)
    st.markdown("SUMMARY " + assumptions.summary_text(s.settings))


def panels(*prefixes: str) -> AppTest:
    at = AppTest.from_function(panels_script, default_timeout=30)
    at.session_state["panels"] = list(prefixes)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def draw(at: AppTest, *prefixes: str) -> None:
    at.session_state["panels"] = list(prefixes)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def settings_of(at: AppTest) -> EnergySettings:
    return REGISTRY.get(at.session_state[KEY]).settings


def summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("SUMMARY"))


def test_a_change_in_one_panel_is_the_sessions_and_shows_in_every_other():
    at = panels("a", "b")
    at.number_input(key="b_cpu_w").set_value(65.0)
    at.run()
    assert settings_of(at).cpu_watts == 65
    assert at.number_input(key="a_cpu_w").value == 65.0        # the other page's panel shows it too
    at.selectbox(key="a_pue_ref").set_value("1.56")             # a published reference, with its source
    at.run()
    assert settings_of(at).pue == 1.56
    assert at.number_input(key="b_pue").value == 1.56 and at.number_input(key="a_pue").value == 1.56
    assert any("Uptime Institute" in c.value for c in at.caption)
    at.number_input(key="a_pue").set_value(1.3)                 # a free value
    at.run()
    assert settings_of(at).pue == 1.3 and at.selectbox(key="b_pue_ref").value == "other"
    assert "PUE 1.3" in summary(at) and "65 W" in summary(at)


def test_values_come_from_the_session_not_from_another_pages_widgets():
    at = panels("a")
    at.selectbox(key="a_country").set_value("FRA")
    at.run()
    draw(at, "b")                                               # another page
    assert at.selectbox(key="b_country").value == "FRA"
    at.selectbox(key="b_country").set_value("POL")
    at.run()
    draw(at, "a")                                               # back: the session's value, not a's last one
    assert at.selectbox(key="a_country").value == "POL"
    assert settings_of(at).country_iso == "POL" and "Poland grid" in summary(at)


def test_assumptions_that_make_no_sense_are_refused_and_the_old_ones_kept():
    at = panels("a")
    at.text_input(key="a_currency").set_value("")
    at.run()
    assert settings_of(at).currency == "EUR"
    assert any("currency" in w.value for w in at.warning)
    assert at.text_input(key="a_currency").value == "EUR"


def test_the_data_centre_tariff_says_where_its_price_comes_from():
    at = panels("a")
    at.radio(key="a_tariff").set_value("non-household")
    at.run()
    assert settings_of(at).tariff == "non-household"
    assert any("nrg_pc_205" in c.value for c in at.caption)
    assert any("does not change with the grid country" in c.value for c in at.caption)


SI = {"G": 1e9, "M": 1e6, "k": 1e3, "": 1.0, "m": 1e-3, "µ": 1e-6, "n": 1e-9}


def joules_in(text: str) -> float:
    """'1.23 kJ' -> 1230.0: an energy as a page writes it, read back with its unit prefix."""
    m = re.fullmatch(r"\s*([-\d.]+)\s*([GMkmµn]?)J\b.*", text)
    assert m, f"no energy in {text!r}"
    return float(m.group(1)) * SI[m.group(2)]


SHOWN = 6e-3   # three significant digits, as the pages write an energy: within half a unit of the third


def test_set_on_results_page_the_table_downloads_and_other_pages_follow():
    """The expected figures are worked out here from the training's own raw readings (its CPU seconds, its
    wall seconds, the logical CPUs it ran on) and the watts and PUE the test types in: the figure is
    CPU watts / logical CPUs x CPU seconds + RAM watts x wall seconds, all times the PUE."""
    at = fresh()
    train_tiny(at)
    s = session(at)
    if s.training_energy.measured:
        pytest.skip("CPU energy is measured here: an assumed wattage does not apply")
    raw = s.training_energy                                   # its CPU time and wall time, as metered
    cpus = raw.base["threads"]                                # the logical CPUs the reading was taken on
    assert raw.cpu_seconds > 0 and raw.duration_s > 0 and cpus >= 1

    open_page(at, "app_pages/results.py")
    before = at.dataframe[0].value["training energy (J)"][0]
    # No assumption of the user's yet: CodeCarbon's own CPU and RAM figures, no data-centre overhead.
    assert before == pytest.approx(raw.base["cpu_joules_estimated"] + raw.base["ram_joules"], rel=1e-3)
    csv_before = runs.to_csv(s)

    cpu_w, ram_w = 65.0, 4.0
    at.number_input(key="results_cpu_w").set_value(cpu_w)
    at.run()
    at.toggle(key="results_ram_set").set_value(True)
    at.run()
    at.number_input(key="results_ram_w").set_value(ram_w)
    at.run()
    assert (s.settings.cpu_watts, s.settings.ram_watts) == (cpu_w, ram_w)
    cpu_j = cpu_w / cpus * raw.cpu_seconds
    ram_j = ram_w * raw.duration_s
    after = at.dataframe[0].value["training energy (J)"][0]
    assert after == pytest.approx(cpu_j + ram_j, rel=1e-3)
    assert after != pytest.approx(before, rel=1e-3)
    assert any("65 W for" in c.value for c in at.caption)        # the caption says what the figures assume
    assert runs.to_csv(s) != csv_before
    # What the figure is made of: its CPU and RAM parts, and what an estimate cannot show.
    parts = next(d.value for d in at.dataframe if "part" in d.value.columns)
    assert list(parts["part"]) == ["CPU", "RAM"]
    assert list(parts["share of the figure (%)"]) == pytest.approx(
        [100 * cpu_j / (cpu_j + ram_j), 100 * ram_j / (cpu_j + ram_j)], abs=0.06)
    assert any("cannot show that int8" in c.value for c in at.caption)

    at.selectbox(key="results_pue_ref").set_value("1.56")
    at.run()
    expected = 1.56 * (cpu_j + ram_j)
    assert at.dataframe[0].value["training energy (J)"][0] == pytest.approx(expected, rel=1e-3)
    assert {float(r.split(",")[-2]) for r in runs.emissions_csv(s).splitlines()[1:]} == {1.56}  # pue column

    # Another page reads the same assumptions (its panel shows them; its figures need a measured inference,
    # which this test does not pay for) ...
    open_page(at, "app_pages/compare.py")
    assert at.number_input(key="cmp_cpu_w").value == cpu_w and at.number_input(key="cmp_pue").value == 1.56
    assert at.number_input(key="cmp_ram_w").value == ram_w
    # ... and the Train page's badge shows the training energy under them.
    open_page(at, "app_pages/train.py")
    badge = next(m for m in at.metric if m.label.startswith("Training energy"))
    assert joules_in(badge.value) == pytest.approx(expected, rel=SHOWN)


def test_a_change_followed_at_once_by_another_page_is_kept():
    at = open_page(fresh(), "app_pages/results.py")             # the panel is there even without runs
    at.number_input(key="results_cpu_w").set_value(65.0)
    at.switch_page("app_pages/train.py")                        # no run of Results in between
    at.run()
    assert session(at).settings.cpu_watts == 65
    open_page(at, "app_pages/results.py")
    assert at.number_input(key="results_cpu_w").value == 65.0
