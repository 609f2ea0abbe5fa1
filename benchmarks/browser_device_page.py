"""The page benchmarks/browser_device.py drives in Chromium: the app's own browser component (ui.device_view.mount,
onnxruntime-web from the package) running a BrowserSet the benchmark made, once per run id typed in the box; what
the browser sends back is written, unchecked, to <TIL_BROWSER_OUT>/<run id>.json (the benchmark checks it with
lab.deploy.browser_result.parse, as the app does). Not a page of the app: `streamlit run` it alone."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import streamlit as st

from dashboard.ui import device_view

bset = pickle.loads(Path(os.environ["TIL_BROWSER_SET"]).read_bytes())
out = Path(os.environ["TIL_BROWSER_OUT"])
run_id = st.text_input("run id", key="run_id")
if run_id:
    value = device_view.mount(bset, run_id)
    if value is not None:
        (out / f"{run_id}.json").write_text(json.dumps(value))
        st.write(f"done {run_id}")
