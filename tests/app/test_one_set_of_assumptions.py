"""One set of energy assumptions per session: set through the widget on one page, used everywhere.

The widget (dashboard.ui.assumptions.assumptions_panel) is drawn by a small script with one or
two panels (as two pages would draw it), and on the Results page of the real app."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from tests.app.drive import fresh, open_page, session, train_tiny

from dashboard.lab import fmt
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


def test_set_on_results_page_the_table_downloads_and_other_pages_follow():
    at = fresh()
    train_tiny(at)
    s = session(at)
    if s.training_energy.measured:
        pytest.skip("CPU energy is measured here: an assumed wattage does not apply")
    open_page(at, "app_pages/results.py")
    before = at.dataframe[0].value["training energy (J)"][0]
    assert before == pytest.approx(s.training_energy.with_settings(s.settings).joules, rel=1e-3)
    csv_before = runs.to_csv(s)

    at.number_input(key="results_cpu_w").set_value(65.0)
    at.run()
    assert s.settings.cpu_watts == 65
    after = at.dataframe[0].value["training energy (J)"][0]
    assert after == pytest.approx(s.training_energy.with_settings(s.settings).joules, rel=1e-3)
    assert after != pytest.approx(before, rel=1e-3)
    assert any("65 W for" in c.value for c in at.caption)        # the caption says what the figures assume
    assert runs.to_csv(s) != csv_before
    # What the figure is made of: its CPU and RAM parts, and what an estimate cannot show.
    parts = next(d.value for d in at.dataframe if "part" in d.value.columns)
    assert list(parts["part"]) == ["CPU", "RAM"] and sum(parts["share of the figure (%)"]) == pytest.approx(100, abs=0.2)
    assert any("cannot show that int8" in c.value for c in at.caption)

    at.selectbox(key="results_pue_ref").set_value("1.56")
    at.run()
    assert at.dataframe[0].value["training energy (J)"][0] == pytest.approx(1.56 * after, rel=1e-3)
    assert {float(r.split(",")[-2]) for r in runs.emissions_csv(s).splitlines()[1:]} == {1.56}  # pue column

    # Another page reads the same assumptions: the session's figure under them is what it shows.
    open_page(at, "app_pages/compare.py")
    assert s.training_energy_now().joules == pytest.approx(1.56 * after, rel=1e-3)
    assert at.number_input(key="cmp_cpu_w").value == 65.0
    # And the Train page's badge shows the training energy under them too.
    open_page(at, "app_pages/train.py")
    badge = next(m for m in at.metric if m.label.startswith("Training energy"))
    assert badge.value == fmt.energy(1.56 * after)


def test_a_change_followed_at_once_by_another_page_is_kept():
    at = open_page(fresh(), "app_pages/results.py")             # the panel is there even without runs
    at.number_input(key="results_cpu_w").set_value(65.0)
    at.switch_page("app_pages/train.py")                        # no run of Results in between
    at.run()
    assert session(at).settings.cpu_watts == 65
    open_page(at, "app_pages/results.py")
    assert at.number_input(key="results_cpu_w").value == 65.0
