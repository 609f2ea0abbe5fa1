"""Train: choose data, model and settings; watch it learn; look inside the result. Layout only: the form is
course.forms', the pieces are ui.train_view's."""

import streamlit as st

from dashboard.course import forms
from dashboard.lab import pipeline
from dashboard.service import training_jobs
from dashboard.ui import session, share, status, train_view, widgets

s = session.page("Train a model",
                 "Training shows the model labelled images batch by batch and adjusts its weights to reduce the loss. "
                 "Watch the loss fall and the accuracy rise; stop whenever you like.")

FORM = forms.defaults("train")   # kept in the Session, so a page change does not reset the widgets
share.apply_query(s, "train", FORM, "train")
widgets.restore(s, "train", FORM)
shown = train_view.Shown.of(s)

form_box, button_box = train_view.settings_box(s, shown)   # folded beside the button once there are curves
with form_box:
    train_view.settings_widgets(shown.busy)
values = widgets.save(s, "train", FORM)
with form_box:
    share.share_link(FORM, "train")

button_box = button_box or train_view.button_row()
if button_box.button("Train", type="primary", disabled=shown.busy, icon=":material/play_arrow:", width="stretch"):
    if status.started(lambda: training_jobs.start_training(s, forms.train_config(values)),
                      "These settings cannot train: {}."):
        train_view.fold_settings_next_run()
        st.rerun()  # redraw with the settings locked and folded, and the live panel polling
if (other := shown.other_job()) is not None:
    button_box.caption(f"Your {other.kind} is under way.")

train_view.live_panel(s, shown, demo_train_share=pipeline.DEMO_TRAIN_SHARE)
train_view.code_of_one_step()
if s.trained is not None and shown.live is None:
    train_view.inside_the_model(s.trained, s.inspection)
