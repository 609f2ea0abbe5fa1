"""The Class board page's device figures: a student whose browser measured their model (Edge & cloud) posts its
figures with **Post my device's figures**; the board's "Measured on students' devices" shows, per version, this
server's median p50 and the room's computers' and phones' with counts, and the ratios in words built from them; an
unsteady version is said and not posted; without a measurement the page points to Edge & cloud. The board lives in
a temporary data folder (the data_dir fixture, tests/app/conftest.py)."""

from __future__ import annotations

from dashboard.lab.deploy.browser_models import BrowserModel, BrowserSet
from dashboard.service import device_jobs
from dashboard.service.board import Board
from dashboard.service.board_devices import post_device
from dashboard.service.sessions import Session
from dashboard.ui import board_view
from tests.app.drive import button, fresh, give_measured, open_page, session

PAGE = "app_pages/board.py"
COMPUTER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile "
         "Safari/537.36")


def give_browser_run(s: Session, p50: dict[str, float], ua: str = COMPUTER, *, paired: bool = False,
                     p95: dict[str, float] | None = None) -> None:
    """Browser files for the session's model (this server's figure: 0.05 ms each) and a kept run of them, as
    Measure on this device leaves them; the files are stand-ins, the run is checked as a browser's is."""
    if s.browser is None:
        models = [BrowserModel(name, [name], name, "exported", b"onnx", server_p50_ms=0.05, server_p95_ms=0.06)
                  for name in p50]
        s.browser = BrowserSet(key=(s.digest, tuple(p50)), models=models, example=b"")
    run_id = f"r{len(s.browser.runs)}"
    raw = {"run_id": run_id, "user_agent": ua, "runtime_version": "1.30.0", "hardware_concurrency": 8,
           "versions": [{"name": n, "p50_ms": v, "p95_ms": (p95 or {}).get(n, v * 1.1), "batches": 30,
                         "calls_per_batch": 40} for n, v in p50.items()]}
    device_jobs.keep_browser_result(s, s.browser, raw, run_id, paired=paired)


def test_post_my_devices_figures_and_see_the_rooms_medians(data_dir, tiny_measured):
    at = fresh()
    at.query_params[board_view.PARAM] = "room-d"
    open_page(at, PAGE)
    assert any("Measure on this device" in c.value for c in at.caption)   # nothing measured in a browser yet
    assert "Post my device's figures" not in [b.label for b in at.button]

    give_measured(at, tiny_measured)
    s = session(at)
    give_browser_run(s, {"fp32": 0.2, "int8-static": 0.3}, p95={"int8-static": 0.9})   # int8: unsteady
    give_browser_run(s, {"fp32": 0.8, "int8-static": 1.0}, PHONE, paired=True)
    at.text_input(key=board_view.NICK_KEY).set_value("Ana")
    at.run()
    assert any("int8-static on your computer is not posted" in c.value and "unsteady" in c.value for c in at.caption)
    button(at, "Post my device's figures").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Posted to ROOM-D" in m.value and "your phone (Chrome 140, 8 logical cores)" in m.value
               for m in at.success)

    # A second student's computer, posted meanwhile: the room's medians and counts, the ratios built from them.
    other = Session()
    other.trained, other.digest = s.trained, s.digest
    give_browser_run(other, {"fp32": 0.4, "int8-static": 0.5})
    post_device(Board.configured(), "room-d", "Bo", other)
    at.run()
    [frame] = [d.value for d in at.dataframe if "phones vs server" in d.value.columns]
    by_version = {row["version"]: row for row in frame.to_dict("records")}
    assert by_version["fp32"]["this server"] == "50 µs (2)"
    assert by_version["fp32"]["computers"] == "300 µs (2)"   # the median of 0.2 and 0.4 ms
    assert by_version["fp32"]["phones"] == "800 µs (1)"
    assert by_version["fp32"]["computers vs server"] == "6.00× slower"
    assert by_version["fp32"]["phones vs computers"] == "2.67× slower"
    assert by_version["int8-static"]["computers"] == "500 µs (1)"   # Ana's unsteady one was not posted
    assert any("Measured on students' devices" == h.value for h in at.subheader)
