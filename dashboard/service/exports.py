"""Downloads made on click: the ONNX export traces and converts the model (a second or two of CPU), so it
waits for the compute slot like every job and never lands inside another user's measurement.

Not yet through the compute backend (service.backend): with a Ray cluster configured, the export still runs in this
process, in the COMPUTE slot.
"""

from __future__ import annotations

from dashboard.lab.deploy import export as model_export

from dashboard.service.sessions import Session
from dashboard.service.slot import COMPUTE


def onnx_in_turn(s: Session) -> bytes:
    """The session's model as an ONNX file, made while holding the compute slot."""
    with COMPUTE.hold("exporting a model to ONNX"):
        return model_export.onnx_file(s.trained_model())
