"""The Edge & cloud page: device profiles measured for real, which versions fit, cloud vs device."""

from __future__ import annotations

import re

from dashboard.lab import fmt
from dashboard.lab.deploy.browser_models import BrowserSet
from dashboard.lab.deploy.browser_result import DeviceRun
from dashboard.lab.deploy.edge import KiB
from tests.app.drive import button, finish_job, fresh, give_measured, open_page, session, train_tiny

PAGE = "app_pages/edge.py"


def test_without_a_model_the_page_points_to_train():
    at = open_page(fresh(), PAGE)
    assert any("Train a model first" in i.value for i in at.info)


def test_profiles_measured_fits_read_and_cloud_compared_with_the_device(tiny_measured):
    at = fresh()
    give_measured(at, tiny_measured)   # a tiny mlp, fp32 and int8-static measured (the run's one, copied)
    open_page(at, PAGE)
    assert any("Measure the **Cloud server**" in i.value for i in at.info)
    button(at, "Measure all four profiles").click()
    at.run()
    finish_job(at)

    # Each profile ran with its own limits, read back from the timed calls.
    s = session(at)
    assert set(s.edge_runs) == {"cloud", "laptop", "phone", "microcontroller"}
    for key, run in s.edge_runs.items():
        for f in run.fits:
            if f.runnable:
                assert (f.threads, f.batch) == (run.profile.threads, run.profile.batch), (key, f)
                assert f.latency_ms > 0 and f.memory_bytes > 0
    mcu = s.edge_runs["microcontroller"]
    assert not mcu.fit("fp32").runnable and "integers only" in mcu.fit("fp32").why_not
    assert mcu.fit("int8-static").runnable

    # The page reads the microcontroller's verdict off the measurement.
    at.radio(key="edge_profile").set_value("microcontroller")
    at.run()
    n_fit = sum(f.fits for f in mcu.fits)
    assert f"{n_fit} of {len(mcu.fits)} versions fit microcontroller-class" in " ".join(h.value for h in at.subheader)
    table = at.dataframe[0].value
    assert list(table["version"]) == [f.name for f in mcu.fits]
    assert table.loc[table["version"] == "fp32", "fits"].item() == f"cannot run: {mcu.fit('fp32').why_not}"
    int8 = mcu.fit("int8-static")   # its memory is the sum it is made of, every operand shown
    assert table.loc[table["version"] == "int8-static", "memory needed"].item() == (
        f"{fmt.size(int8.weights_bytes)} + {fmt.size(int8.activation_bytes)} = {fmt.size(int8.memory_bytes)}")
    text = " ".join(m.value for m in at.markdown)
    assert "never leaves the device" in text and "works offline" in text
    assert re.search(r"\*\*The (device|cloud) answers [\d.,]+× sooner than the (cloud|device)\*\*", text)

    # A longer round trip is added to the cloud's time, not the device's.
    at.slider(key="edge_cvse_rtt_4g").set_value(600.0)
    at.run()
    text = " ".join(m.value for m in at.markdown)
    assert re.search(r"\*\*The device answers [\d.,]+× sooner than the cloud\*\*", text)
    assert "network + server: 600 ms + " in text          # the sum, from the figures it adds

    # The round trip Measure on this device timed from the student's browser: a network of its own, labelled so.
    assert not [o for o in at.radio(key="edge_cvse_net").options if "Measured from" in o]
    s.browser = BrowserSet(("d", ()), [], b"", runs=[DeviceRun(
        "r1", [], "a computer", "Mozilla/5.0 (X11; Linux x86_64)", 2, "onnxruntime-web", 0.1, "the server",
        round_trips_ms=[4.0, 2.0, 3.0])])
    at.run()
    at.radio(key="edge_cvse_net").set_value("measured")
    at.run()
    assert any(c.value.startswith("Measured from your browser to this server: a ")
               and "of 3 ms (measured from your browser)" in c.value for c in at.caption)
    assert "network + server: 3 ms + " in " ".join(m.value for m in at.markdown)

    # A smaller budget: the page says the result is stale until measured again, then applies it.
    at.radio(key="edge_profile").set_value("phone")
    at.run()
    at.select_slider(key="edge_phone_memory").set_value(16 * KiB)
    at.run()
    assert any("measure again for your changes" in i.value for i in at.info)
    button(at, "Measure under Phone-class").click()
    at.run()
    finish_job(at)
    run = session(at).edge_runs["phone"]
    assert run.profile.memory_budget == 16 * KiB
    over = [f for f in run.fits if f.memory_bytes and f.memory_bytes > 16 * KiB]
    assert over and all(f.fits_memory is False and not f.fits for f in over)
    assert not at.info or not any("measure again" in i.value for i in at.info)


def test_the_pages_terms_link_to_the_glossary():
    from dashboard.ui import glossary

    at = fresh()
    train_tiny(at)
    open_page(at, PAGE)
    button(at, "Measure under Phone-class").click()
    at.run()
    finish_job(at)
    captions = " ".join(c.value for c in at.caption)
    assert f"]({glossary.href('activation')})" in captions and f"]({glossary.href('p95')})" in captions
