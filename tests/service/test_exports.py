"""The ONNX download waits for the compute slot: it never runs inside another user's measurement."""

from __future__ import annotations

import threading
import time

import onnx

from dashboard.lab.inputs import data
from dashboard.service import exports
from dashboard.service.sessions import DataChoice, Session, state_bytes
from dashboard.service.slot import COMPUTE


def test_the_onnx_export_waits_for_the_slot_and_gives_a_valid_file(tiny_trained):
    s = Session()
    s.set_model(tiny_trained, DataChoice(data.DEFAULT_DATASET), [], None, None,
                weights=state_bytes(tiny_trained.module), digest="x")
    got: list[bytes] = []
    release = threading.Event()

    def holder() -> None:
        with COMPUTE.hold("someone else's measurement"):
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    while not COMPUTE.busy:
        time.sleep(0.01)
    w = threading.Thread(target=lambda: got.append(exports.onnx_in_turn(s)))
    w.start()
    time.sleep(0.5)
    assert not got and "exporting a model to ONNX" in COMPUTE.queue_labels()
    release.set()
    w.join(60)
    t.join()
    assert got and onnx.load_from_string(got[0]).graph.input[0].name
