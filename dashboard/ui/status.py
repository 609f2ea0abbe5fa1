"""Small shared widgets: the sidebar status, the 'waiting for a free slot' line, the energy badge."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.lab import energy
from dashboard.lab.slot import COMPUTE, Waiting
from dashboard.ui import fmt
from dashboard.ui.session import Session


def waiting_line(placeholder) -> Callable[[Waiting], None]:
    """An on_wait callback for COMPUTE.hold / energy.meter that says where this user is in line."""
    def show(w: Waiting) -> None:
        placeholder.info(f":material/hourglass_top: Waiting for a free slot ({w.ahead} ahead; "
                         f"now running: {w.holder}) for {w.waited_s:.0f} s. Others on this server are "
                         "measuring; taking turns keeps everyone's timings honest.")
    return show


def work_feedback(start_text: str) -> tuple[Callable[[Waiting], None], Callable[[float, str], None]]:
    """(on_wait, on_progress) for a long action: a place-in-line line above a progress bar."""
    waiting = st.empty()
    bar = st.progress(0.0, text=start_text)
    return waiting_line(waiting), lambda frac, msg: bar.progress(min(max(frac, 0.0), 1.0), text=msg)


def require_model(s: Session, why: str) -> None:
    """Stop the page with a pointer to Train when this session has no trained model yet."""
    if s.trained is None:
        st.info(f"Train a model first (or run the whole demo from Home): {why}", icon=":material/model_training:")
        st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()


def energy_badge(reading, *, label: str = "Energy") -> None:
    """Energy with its unit and CO2, and always whether it was measured or estimated."""
    if reading is None:
        st.metric(label, "not yet", help="Energy is metered while the work runs.")
        return
    method = getattr(reading, "method", "") or "estimated: method unknown"
    kind = energy.kind(reading)
    st.metric(f"{label} ({kind})", fmt.energy(reading.joules), help=method)
    st.caption(f"{fmt.co2(reading.co2_grams)} CO₂e · {kind}")
    assumptions = getattr(reading, "assumptions", None)
    with st.popover(f"How this {kind} figure was made", icon=":material/info:"):
        st.markdown(f"**Method:** {method}")
        if assumptions:
            st.table({"assumption": [k.replace("_", " ") for k in assumptions],
                      "value": ["" if v is None else str(v) for v in assumptions.values()]})


def sidebar(s: Session) -> None:
    """What this session has, on every page."""
    with st.sidebar:
        st.caption("This session")
        if s.training:
            live = s.live
            st.markdown(f":material/model_training: Training **{live.config.model}** on **{live.dataset.name}**")
            st.caption("It runs while the Train page is open; leave and it pauses.")
        if s.trained is not None:
            t = s.trained
            st.markdown(f":material/check_circle: Model: **{t.spec.name}** on **{t.dataset}**, "
                        f"{fmt.pct(t.test_accuracy)} test accuracy"
                        + ("" if t.completed else " (stopped early)"))
        else:
            st.markdown(":material/radio_button_unchecked: No model trained yet")
        if s.results:
            st.markdown(f":material/speed: {len(s.results)} model version{'s' if len(s.results) != 1 else ''} measured")
        st.markdown(f":material/history: {len(s.runs)} run{'s' if len(s.runs) != 1 else ''} in Results")
        queue = COMPUTE.queue_labels()
        if queue:
            st.caption(f"Server busy: {queue[0]}" + (f", {len(queue) - 1} waiting" if len(queue) > 1 else ""))
