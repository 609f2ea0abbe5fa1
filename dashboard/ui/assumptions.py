"""The one set of energy assumptions, its editor and its summary, for every page.

The assumptions (grid country, CPU and RAM watts, PUE, price) belong to the Session
(`s.energy_settings`, read through `s.settings`); every page and export prices energy with them.

    assumptions_panel(s, "cmp")      # the editor, keys "cmp_country", "cmp_cpu_w", ... (one prefix per page)
    assumptions_summary(s)           # one caption line: what the energy figures assume, and where to change it
    energy_parts(s, {"training": reading, "inference": per_image})   # each figure's CPU and RAM parts,
                                     # and what an estimate can and cannot show

The panel may be drawn on several pages. Its widgets are always filled from the Session before
they are drawn (never from what another page's widgets, or another tab, last held), and each
change is written to the Session by the widget's own callback, which Streamlit runs before any
page draws: a change followed at once by a click on another page is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.lab import claims, energy, fmt
from dashboard.lab.energy import (
    FALLBACK_RAM_WATTS,
    NON_HOUSEHOLD,
    NON_HOUSEHOLD_SOURCE,
    PUE_REFERENCES,
    TARIFFS,
    EnergyReading,
    EnergySettings,
    PerImageEnergy,
)
from dashboard.service.sessions import Session
from dashboard.ui import glossary

RESULTS_PAGE = "app_pages/results.py"   # a page that always draws the panel
OTHER_PUE = "other"

ESTIMATE_LIMITS = (
    "**What an estimate can and cannot show.** Without hardware energy counters, energy is *estimated*: "
    "the CPU time this process used × an assumed power per CPU thread, plus an assumed RAM power × the wall "
    "time, then × PUE. The same watts are assumed for every version of the model, so an estimate cannot show "
    "that int8 or a pruned model draws a different power than fp32: estimated energy only follows CPU time "
    "(and wall time for RAM). A version that looks cheaper here is one that keeps the CPU busy for less time.")
CHARGED_TIMES = (
    "The times in these products are the ones each part was charged for. CodeCarbon counts CPU time from its own "
    "start to its stop, so a little more than the timed calls alone; RAM is charged for the wall time of the same "
    "windows. A per-image figure is the median of its windows, split into parts in the proportions of all of them.")
MEASURED_NOTE = (
    "The CPU part is *measured* by hardware counters: they see the whole CPU package, so other work on the "
    "machine is counted too. RAM is still CodeCarbon's model (an assumed wattage × time).")


def _k(prefix: str, name: str) -> str:
    return f"{prefix}_{name}"


def pue_text(pue: float) -> str:
    """1.0, 1.1, 1.56: a PUE as people write it."""
    text = f"{pue:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


# --- what the figures assume ---------------------------------------------------------------------

def reference_reading(s: Session) -> EnergyReading | None:
    """A reading of this session that shows what CodeCarbon estimated here (its watts), or None."""
    if s.training_energy is not None:
        return s.training_energy
    return next((r.energy.readings[0] for r in s.results if r.energy is not None and r.energy.readings), None)


def _estimated_cpu(reading: EnergyReading | None) -> tuple[float | None, int]:
    """(CodeCarbon's W per thread, threads) from a reading's own figures; (None, threads) when unknown."""
    b = reading.base if reading is not None else {}
    threads = max(int(b.get("threads") or 1), 1) if b else 1
    return b.get("cpu_watts_per_thread"), threads


def summary_text(settings: EnergySettings, reading: EnergyReading | None = None) -> str:
    """One line: how energy is obtained and priced under `settings` (`reading`, if any, supplies
    what CodeCarbon found on this machine: its wattage, whether it measures)."""
    b = reading.base if reading is not None else {}
    per_thread, threads = _estimated_cpu(reading)
    if b.get("cpu_measured_by"):
        cpu = f"Measured: CPU by {b['cpu_measured_by']}"
    elif settings.cpu_watts is not None:
        cpu = (f"Estimated: CPU time × {settings.cpu_watts / threads:.2f} W per thread "
               f"({settings.cpu_watts:g} W for {threads} threads, your assumption)" if b else
               f"Estimated: CPU time × your {settings.cpu_watts:g} W for the whole CPU")
    elif per_thread:
        cpu = f"Estimated: CPU time × {per_thread:.2f} W per thread (CodeCarbon's estimate)"
    else:
        cpu = "Estimated: CPU time × CodeCarbon's W per thread"
    if settings.ram_watts is not None:
        ram = f"RAM {settings.ram_watts:g} W (your assumption)"
    elif b.get("ram_watts") is not None:
        ram = f"RAM {b['ram_watts']:.1f} W (CodeCarbon's model)"
    else:
        ram = "RAM by CodeCarbon's model"
    place = energy.country(settings.country_iso)
    tariff = "data-centre tariff" if settings.tariff == NON_HOUSEHOLD else "household"
    return (f"{cpu} + {ram}, PUE {pue_text(settings.pue)}, {place.name} grid {place.gco2_per_kwh:.0f} gCO₂e/kWh "
            f"({place.year_text}), price {settings.price_per_kwh:.4g} {settings.currency}/kWh {tariff}")


def assumptions_summary(s: Session, *, link_to: str | None = RESULTS_PAGE) -> str:
    """Draw (as a caption) and return the one-line summary of the assumptions the energy figures on
    this page use, with a link to the page where they are changed (`link_to`; None: no link)."""
    text = summary_text(s.settings, reference_reading(s))
    st.caption(f"Energy figures on this page use your assumptions: {text}.")
    if link_to:
        st.page_link(link_to, label="Change the energy assumptions", icon=":material/tune:")
    return text


# --- what a figure is made of -----------------------------------------------------------------------

def _charged(joules: float, watts: float | None, pue: float, time_what: str, watts_what: str) -> str | None:
    """'86.1 µs CPU time × 4 W per thread × PUE 1.0 = 355 µJ': a part as the product it is, or None without
    a wattage.

    The time is the one the part was charged for (its joules ÷ watts ÷ PUE): CodeCarbon's CPU time runs
    from its own start to its stop, a little longer than the timed calls, and a per-image figure is the
    median window's, split in the proportions of all windows (lab.energy.parts). So the product
    recomputes from what it shows."""
    if not watts or pue <= 0:
        return None
    t = joules / (watts * pue)
    return claims.product([(t, f"{fmt.seconds(t)} {time_what}"), (watts, f"{watts:.3g} W {watts_what}"),
                           (pue, f"PUE {pue_text(pue)}")], joules, fmt.energy(joules))


def _part_rows(label: str, item: EnergyReading | PerImageEnergy) -> list[dict[str, Any]]:
    p = energy.parts(item)
    per = " per image" if p.per == "image" else ""
    cpu = _charged(p.cpu_joules, p.cpu_watts_per_thread, p.pue, "CPU time", "per thread")
    ram = _charged(p.ram_joules, p.ram_watts, p.pue, "wall time", "RAM")
    cpu_how = (f"measured ({p.cpu_watts_source})" if p.cpu_measured else f"estimated: {cpu}" if cpu
               else "estimated: CodeCarbon's CPU model")
    ram_how = f"estimated: {ram}" if ram else "estimated: CodeCarbon's RAM model"
    parts = [("CPU", p.cpu_joules, p.cpu_share, cpu_how), ("RAM", p.ram_joules, p.ram_share, ram_how)]
    if p.gpu_joules:
        parts.append(("GPU", p.gpu_joules, p.gpu_share, "measured (GPU energy counters, whole device)"))
    return [{"figure": label, "part": part, "energy": f"{fmt.energy(joules)}{per}",
             "share of the figure (%)": round(100 * share, 1), "how it is obtained": how}
            for part, joules, share, how in parts]


def parts_rows(items: Mapping[str, EnergyReading | PerImageEnergy | None]) -> list[dict[str, Any]]:
    """The CPU / RAM / GPU parts of each figure (label -> reading or per-image figure; None skipped)
    as table rows: energy with its unit, share of the figure, and how each part is obtained."""
    return [row for label, item in items.items() if item is not None for row in _part_rows(label, item)]


def parts_sentence(item: EnergyReading | PerImageEnergy) -> str:
    """'CPU 21 %, RAM 79 % of 3.86 J (estimated)': the split in one clause."""
    p = energy.parts(item)
    unit = " per image" if p.per == "image" else ""
    gpu = f", GPU {100 * p.gpu_share:.0f} %" if p.gpu_joules else ""
    kind = "estimated" if p.estimated else "CPU measured, RAM estimated"
    return (f"CPU {100 * p.cpu_share:.0f} %, RAM {100 * p.ram_share:.0f} %{gpu} of "
            f"{fmt.energy(p.total_joules)}{unit} ({kind})")


def energy_parts(s: Session, items: Mapping[str, EnergyReading | PerImageEnergy | None], *,
                 summary: bool = False) -> None:
    """Draw what each energy figure is made of (label -> EnergyReading or PerImageEnergy, priced as
    the page shows it; None: not metered), and what such figures can and cannot show. With
    `summary`, also the one-line summary of the session's assumptions."""
    rows = parts_rows(items)
    if not rows:
        st.caption("No energy figure yet: energy is metered while the work runs.")
        return
    # Widths that leave the arithmetic its room at 1280x720 (818 px): left to size themselves, the columns
    # pushed "how it is obtained" past the right edge, cutting its result off.
    widths = {"figure": 120, "part": 45, "energy": 112, "share of the figure (%)": 70, "how it is obtained": 460}
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={c: st.column_config.Column(width=w) for c, w in widths.items()})
    estimated = any(energy.parts(i).estimated for i in items.values() if i is not None)
    # What any estimate can and cannot show: fixed, decided by no measurement.
    st.caption(claims.statement(ESTIMATE_LIMITS) if estimated else MEASURED_NOTE)
    if estimated:
        st.caption(claims.statement(CHARGED_TIMES))
    if summary:
        assumptions_summary(s, link_to=None)


# --- the editor ----------------------------------------------------------------------------------

def _pue_key(pue: float) -> str:
    ref = energy.pue_reference(pue)
    return f"{ref.value:g}" if ref is not None else OTHER_PUE


def _ram_default(s: Session) -> float:
    b = (reference_reading(s) or EnergyReading("none")).base
    return round(float(b.get("ram_watts") or FALLBACK_RAM_WATTS), 1)


def _values(s: Session, settings: EnergySettings) -> dict[str, Any]:
    """Widget name -> the value that shows `settings`."""
    isos = {c.iso for c in energy.countries()}
    return {
        "country": settings.country_iso if settings.country_iso in isos else energy.WORLD,
        "cpu_w": float(settings.cpu_watts or 0.0),
        "ram_set": settings.ram_watts is not None,
        "ram_w": float(settings.ram_watts if settings.ram_watts is not None else _ram_default(s)),
        "pue_ref": _pue_key(settings.pue),
        "pue": float(settings.pue),
        "tariff": settings.tariff,
        "currency": settings.currency,
        "price": float(settings.price_per_kwh),
    }


def _from_state(prefix: str) -> EnergySettings:
    v = {name: st.session_state.get(_k(prefix, name)) for name in
         ("country", "cpu_w", "ram_set", "ram_w", "pue", "tariff", "currency", "price")}
    return EnergySettings(country_iso=v["country"], cpu_watts=float(v["cpu_w"] or 0.0) or None,
                          pue=float(v["pue"]), price_per_kwh=float(v["price"] or 0.0),
                          currency=str(v["currency"] or "").strip().upper(),
                          ram_watts=float(v["ram_w"] or 0.0) if v["ram_set"] else None, tariff=v["tariff"])


def _changed(s: Session, prefix: str, name: str) -> None:
    """A widget of the panel changed: write the whole panel's assumptions to the Session."""
    state = st.session_state
    if name == "pue_ref" and state.get(_k(prefix, "pue_ref")) != OTHER_PUE:
        state[_k(prefix, "pue")] = float(state[_k(prefix, "pue_ref")])
    try:
        s.set_settings(_from_state(prefix))
    except (ValueError, TypeError) as exc:
        state[_k(prefix, "error")] = f"{exc}. The previous assumptions are kept."


def _reset(s: Session) -> None:
    s.set_settings(EnergySettings())


def _sync(s: Session, prefix: str) -> None:
    """Fill the widgets from the Session before they are drawn (the Session is the truth)."""
    for name, value in _values(s, s.settings).items():
        key = _k(prefix, name)
        if key not in st.session_state or st.session_state[key] != value:
            st.session_state[key] = value


def assumptions_panel(s: Session, key_prefix: str, *, expanded: bool = False,
                      title: str = "Energy assumptions: grid, power, data-centre overhead, price",
                      in_expander: bool = True) -> EnergySettings:
    """The editor of the session's energy assumptions; returns them (as now set).

    `key_prefix` must differ per page (its widgets' keys are f"{key_prefix}_country", "_cpu_w",
    "_ram_set", "_ram_w", "_pue_ref", "_pue", "_tariff", "_currency", "_price", "_reset").
    Every page that prices energy reads the same `s.settings`, so a change here changes them all.
    """
    if in_expander:
        with st.expander(title, expanded=expanded, icon=":material/tune:"):
            _panel(s, key_prefix)
    else:
        _panel(s, key_prefix)
    return s.settings


def _panel(s: Session, p: str) -> None:
    _sync(s, p)
    error = st.session_state.pop(_k(p, "error"), None)
    if error:
        st.warning(error, icon=":material/warning:")
    cfg = s.settings
    reading = reference_reading(s)

    def cb(name: str) -> dict:
        return {"on_change": _changed, "args": (s, p, name)}

    st.caption("These assumptions are yours for this session: every page, table and download prices energy "
               "with them. Changing them recomputes the figures; nothing is run again.")
    a, b = st.columns(2)
    places = energy.countries()
    labels = {c.iso: c.label for c in places}
    a.selectbox("Electricity grid (country)", [c.iso for c in places], format_func=labels.get,
                key=_k(p, "country"), **cb("country"),
                help="Carbon intensity of the grid, with the year it describes.")
    place = energy.country(cfg.country_iso)
    a.caption(f"{place.gco2_per_kwh:.0f} gCO₂e/kWh, figure for {place.year_text}. Source: {place.source}.")

    per_thread, threads = _estimated_cpu(reading)
    b.number_input("CPU power at full load (W, whole CPU; 0 = CodeCarbon's estimate)", 0.0, 1000.0, step=5.0,
                   key=_k(p, "cpu_w"), **cb("cpu_w"),
                   help="An estimate charges this power, shared among the CPU threads, for each second of CPU "
                        "time the work used. Ignored where the CPU energy is measured.")
    if reading is not None and reading.base.get("cpu_measured_by"):
        b.caption(f"CPU energy is measured here ({reading.base['cpu_measured_by']}): this wattage is not used.")
    elif per_thread:
        b.caption(f"CodeCarbon's estimate here: {per_thread:.2f} W per thread, about {per_thread * threads:.0f} W "
                  f"for {threads} threads.")
    else:
        b.caption("CodeCarbon's estimate: the CPU's power from its table, or 4 W per thread for a CPU it does "
                  "not know.")

    b.toggle("Set the RAM power myself", key=_k(p, "ram_set"), **cb("ram_set"))
    b.number_input("RAM power (W)", 0.0, 500.0, step=1.0, key=_k(p, "ram_w"), **cb("ram_w"),
                   disabled=not st.session_state.get(_k(p, "ram_set")),
                   help="RAM is never measured: CodeCarbon models it as about 5 W per memory module.")

    refs = {f"{r.value:g}": r for r in PUE_REFERENCES}
    a.selectbox("PUE (data-centre overhead)", [*refs, OTHER_PUE], key=_k(p, "pue_ref"), **cb("pue_ref"),
                format_func=lambda k: refs[k].label if k in refs else "another value (type it below)",
                help="Power usage effectiveness: the data centre's total energy / its IT equipment's energy.")
    a.number_input("PUE value (1.0 = no overhead)", 1.0, 5.0, step=0.01, format="%.2f", key=_k(p, "pue"),
                   **cb("pue"))
    a.caption(f"{glossary.term('PUE')} {pue_text(cfg.pue)}: {cfg.pue_source}.")

    b.radio("Tariff", list(TARIFFS), format_func=TARIFFS.get, key=_k(p, "tariff"), horizontal=True,
            **cb("tariff"))
    c1, c2 = b.columns([1, 3])
    c1.text_input("Currency", max_chars=8, key=_k(p, "currency"), **cb("currency"))
    c2.number_input(f"Electricity price ({cfg.currency} per kWh)", 0.0, 1000.0, step=0.01, format="%.4f",
                    key=_k(p, "price"), **cb("price"))
    b.caption(f"Price source: {cfg.price_source}.")
    if cfg.tariff == NON_HOUSEHOLD and cfg.price_source.startswith("your"):
        b.caption(NON_HOUSEHOLD_SOURCE)
    b.caption(cfg.currency_note)
    st.button("Back to the defaults", key=_k(p, "reset"), on_click=_reset, args=(s,), icon=":material/restart_alt:")
    st.caption(claims.statement(ESTIMATE_LIMITS))


__all__ = ["ESTIMATE_LIMITS", "MEASURED_NOTE", "assumptions_panel", "assumptions_summary", "energy_parts",
           "parts_rows", "parts_sentence", "reference_reading", "summary_text"]
