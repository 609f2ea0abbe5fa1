"""Hardware: this machine's top speed per number format, how close the student's model gets to it,
what more threads give, and the student's training on other chips. Layout only: the sections are
ui.hardware_view's."""

import streamlit as st

from dashboard.service import machine
from dashboard.ui import hardware_view, session, status

s = session.page("Hardware: how close to the limit",
                 "A processor has a top speed for each kind of number it computes with. Measure it here, then see "
                 "how much of it your model uses, and why big batches and big layers use more.")

gpu = hardware_view.gpu_name()
hardware_view.this_machine(gpu)
probe = s.hardware_probe
hardware_view.what_is_measured(s)
if st.button("Measure this machine", type="primary", icon=":material/speed:", disabled=s.busy, key="hw_measure"):
    if status.started(lambda: machine.start_hardware(s)):
        st.rerun()
status.job_panel(s, ("hardware",), key="hw")
if probe is not None:
    hardware_view.peak_rates(probe)

hardware_view.how_close(s, probe)
hardware_view.more_threads(s, probe)
hardware_view.cpu_vs_gpu(probe, gpu)
hardware_view.other_chips(s)
