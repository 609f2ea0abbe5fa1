"""The Home page's "Run the whole demo": default train -> compress -> measure, with one progress bar."""

from __future__ import annotations

import streamlit as st

from dashboard.lab.compress import CompressSettings
from dashboard.lab.data import DatasetUnavailable
from dashboard.lab.train import TrainConfig
from dashboard.ui import live, measure, session, status
from dashboard.ui.session import Session

# Sized for about a minute on 2 cores: 2 epochs of the default CNN on the bundled digits, one
# variant per technique, one fine-tune epoch after removing channels.
DEMO_CONFIG = dict(model="cnn", dataset="digits", epochs=2)
DEMO_VARIANTS = ["fp32", "pruned-unstructured-90", "pruned-channels-50", "int8-dynamic", "int8-static"]
DEMO_COMPRESS = CompressSettings(finetune_epochs_channels=1, finetune_epochs_unstructured=0)
TRAIN_SHARE = 0.4


def run(s: Session, bar, waiting) -> None:
    """Blocking: drives the same chunked training as the Train page, then the pipeline."""
    data = session.dataset(DEMO_CONFIG["dataset"])
    live.start(s, TrainConfig(**DEMO_CONFIG), data, log_run=False)
    on_wait = status.waiting_line(waiting)
    while s.training:
        live.advance(s, on_wait=on_wait)
        waiting.empty()
        if s.live is not None:
            p = s.live.run.progress
            bar.progress(TRAIN_SHARE * p, text=f"Training the CNN: {100 * p:.0f} %")
    if s.trained is None or s.live is not None:
        return  # diverged: the notice says why
    measure.compress_and_measure(s, DEMO_VARIANTS, DEMO_COMPRESS, kind="demo", span=(TRAIN_SHARE, 1.0),
                                 on_wait=on_wait,
                                 on_progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))


def button(s: Session) -> None:
    clicked = st.button("Run the whole demo", type="primary", icon=":material/rocket_launch:", disabled=s.training,
                        help="Trains a CNN for 2 epochs on the bundled digits, makes 4 compressed versions, "
                             "measures all 5 and fills in every page.")
    if s.training:
        st.caption("A training is in progress on the Train page; finish or stop it first.")
    if not clicked:
        return
    waiting = st.empty()
    bar = st.progress(0.0, text="Starting the demo...")
    try:
        run(s, bar, waiting)
    except DatasetUnavailable as exc:
        st.error(str(exc))
        return
    except (ValueError, RuntimeError) as exc:
        st.error(f"The demo stopped: {exc}. What you had before is kept; try again, or go step by step from Train.")
        return
    s.notices.clear()
    s.notify("success", "Demo done: a CNN trained, 4 compressed versions measured. Open **Compress & benchmark** "
                        "and **Training vs inference** to see what came out.")
    st.rerun()
