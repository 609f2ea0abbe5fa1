"""Edge & cloud: every version of the student's model under a device's limits, and one request
answered in the cloud or on the device. Layout only: the profiles and their form are ui.edge_view's
(the profile it opens on is course.forms'), the sections too."""

import streamlit as st

from dashboard.lab import claims
from dashboard.lab.deploy import cloud_edge
from dashboard.service import versions
from dashboard.ui import device_view, edge_view, session, share, status, widgets
from dashboard.ui import mcu_view

s = session.page("Edge & cloud", claims.statement(
                 "Will your model run on a phone or a microcontroller, and does it answer sooner there or in the "
                 "cloud? Pick a device, measure every version of your model under its limits, then compare."))
# A lesson's link (?preset=lesson-edge) opens the profile it names; before the model check, so it is kept for later.
share.apply_query(s, "edge", None, "edge")
status.require_model(s, "this page runs your model and its compressed versions under a device's limits.")

devices = edge_view.Devices.here()
FORM = devices.form()
widgets.restore(s, "edge", FORM)
edge_view.only_fp32(s)

# --- the device ---------------------------------------------------------------------------------------
st.subheader("The device")
key = edge_view.profile_choice(devices)
left, right = st.columns([3, 2], gap="medium")
with left.container(border=True):
    edge_view.profile_widgets(devices, key, FORM)
profile = devices.from_form(key)
widgets.save(s, "edge", FORM)
with right:
    chosen = edge_view.measure_buttons(s, devices, profile)
    if chosen is not None and status.started(
            lambda: versions.start_edge(s, chosen, st.session_state.setdefault("versions_kept", {})), "{}"):
        st.rerun()
status.job_panel(s, ("edge",), key="edge")

# --- which versions fit ---------------------------------------------------------------------------------
best = edge_view.which_fit(s, edge_view.shown_run(s, key), profile)
mcu_view.section(s)   # microcontrollers: MLPerf Tiny's published result, your int8 model's flash and RAM

# --- the student's own device: the versions run in this browser -----------------------------------------------
device_view.section(s)

# --- cloud vs edge --------------------------------------------------------------------------------------
st.subheader("Cloud or device: one request")
cloud_run = s.edge_runs.get("cloud")
measured = edge_view.measured_devices(s, devices)
if cloud_run is None or not measured:
    st.info("Measure the **Cloud server** and at least one device profile (or all four at once): this part puts "
            "them side by side.", icon=":material/cloud:")
    st.stop()
c1, c2 = st.columns(2)
dev_key = c1.selectbox("Device", measured, format_func=devices.title, key="edge_cvse_device")
dev_run = s.edge_runs[dev_key]
both = edge_view.comparable(cloud_run, dev_run)
if not both:
    st.info(f"No version was measured, undisturbed, both in the cloud and on {devices.title(dev_key)}: measure "
            "them again when the room is quieter.")
    st.stop()
version = c2.selectbox("Version of your model", both, key="edge_cvse_version",
                       index=edge_view.first_version(both, best))
rtt, rent = edge_view.network_widgets(s)
cmp = cloud_edge.compare(cloud_run.fit(version), dev_run.fit(version), rtt, rent_per_hour=rent, settings=s.settings)
edge_view.cloud_or_device(s, cmp, cloud_run, devices.title(dev_key), version)
