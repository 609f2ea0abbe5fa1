"""Try it yourself: draw, upload or photograph an image; every version of your model says what it sees."""

import hashlib

import streamlit as st

from dashboard.lab.inputs import data, uploads
from dashboard.lab.serving import preprocess
from dashboard.service import incidents, versions
from dashboard.service.jobs import DONE, Busy
from dashboard.ui import glossary, session, status, widgets
from dashboard.ui import try_it_widgets as tw

s = session.page("Try it yourself",
                 "Give your model an image of your own. It is first made to look like the training images, "
                 "step by step, then every version of your model says what it sees, and how long that took.")
status.require_model(s, "this page asks your model, and its compressed versions, what your image shows.")

info = data.CATALOG[s.trained.dataset]
grey = info.shape[0] == 1
SOURCES = {"draw": "Draw", "upload": "Upload a file", "camera": "Take a photo"}
choices = ["draw", "upload", "camera"] if grey else ["upload", "camera"]   # no canvas for colour photos
FORM = {"try_source": choices[0]}
widgets.restore(s, "try_it", FORM)
if st.session_state["try_source"] not in choices:
    st.session_state["try_source"] = choices[0]
max_bytes, max_pixels = uploads.limits()
what = ("a digit" if info.name in preprocess.DIGIT_DATASETS
        else "a piece of clothing or a shoe" if info.name == "fashion-mnist" else "one of its classes")


def canvas_image():
    """The drawing as a grey PIL image, or None while nothing is drawn."""
    try:   # imported here: importing it outside a running app raises
        from streamlit_drawable_canvas import st_canvas
    except Exception as exc:  # noqa: BLE001  not installed, or made for another Streamlit
        incidents.record(exc, "Try it's drawing canvas", once=True)   # why: the server log's, once
        st.info("Drawing needs the streamlit-drawable-canvas package, which does not load on this server. "
                "Upload an image or take a photo instead.", icon=":material/draw:")
        return None
    st.space(28)   # the canvas's toolbar floats above its top edge: keep it off the radio buttons
    result = st_canvas(stroke_width=22, stroke_color="#FFFFFF", background_color="#000000", width=280,
                       height=280, drawing_mode="freedraw", return_image_data=True, key="try_canvas")
    st.caption(f"Draw {what}, large, with the mouse or a finger. The bin above the box clears it.")
    if not (result.json_data or {}).get("objects") or result.image_data is None:
        return None
    return preprocess.from_canvas(result.image_data)


def prepared_from(raw: bytes | None, image=None):
    """Check and prepare an upload (bytes) or a drawing (image), remembered by content for later runs.
    Returns a Prepared, or None after saying in one line why it cannot be used."""
    if raw is None and image is None:
        return None
    digest = hashlib.sha1(raw if raw is not None else image.tobytes()).hexdigest()
    memo = st.session_state.get("try_memo")
    if memo is None or memo[0] != (digest, info.name):
        try:
            notes: list[str] = []
            if raw is not None:
                checked = uploads.read_image(raw, max_bytes=max_bytes, max_pixels=max_pixels)
                image, notes = checked.image, checked.notes
            outcome = preprocess.for_dataset(image, info)
            outcome.notes = notes + outcome.notes
        except uploads.DecoderBusy as exc:
            # Not remembered: the same file is read again on the next run, when a decode slot may be free.
            st.info(str(exc), icon=":material/hourglass_top:")
            st.button("Read my image again", icon=":material/replay:", key="try_read_again")
            return None
        except uploads.UploadRejected as exc:
            outcome = ("warning", str(exc))
        except preprocess.NoInk as exc:
            outcome = ("info", str(exc))
        except Exception as exc:  # noqa: BLE001  whatever else: one line, and the session keeps everything
            outcome = ("error", f"This image could not be used (incident {incidents.record(exc, 'Try it')}: the "
                                f"server log has why). Try another one.")
        memo = ((digest, info.name), outcome)
        st.session_state["try_memo"] = memo
    outcome = memo[1]
    if isinstance(outcome, tuple):
        level, text = outcome
        {"warning": st.warning, "info": st.info}.get(level, st.error)(text, icon=":material/image_not_supported:")
        return None
    for note in outcome.notes:
        st.caption(note)
    return outcome


left, right = st.columns([5, 7], gap="medium")
with left:
    st.radio("Your image", choices, key="try_source", format_func=SOURCES.get, horizontal=True)
    widgets.save(s, "try_it", FORM)
    source = st.session_state["try_source"]
    raw = drawing = None
    if source == "draw":
        drawing = canvas_image()
    elif source == "upload":
        upload = st.file_uploader("An image file: PNG, JPEG or WebP", type=["png", "jpg", "jpeg", "webp"],
                                  key="try_upload", max_upload_size=max(1, -(-max_bytes // 2**20)),
                                  help=f"Checked by its content, up to {max_bytes / 1e6:.0f} MB and "
                                       f"{max_pixels / 1e6:.0f} megapixels.")
        raw = upload.getvalue() if upload is not None else None
    else:
        photo = st.camera_input("Hold your image up to the camera", key="try_camera")
        raw = photo.getvalue() if photo is not None else None
    prepared = prepared_from(raw, drawing)
    if grey and source != "draw":
        st.caption(f"Best: {what}, dark on light paper or light on dark, filling most of the picture."
                   if info.name in preprocess.DIGIT_DATASETS else "Best: one object on a plain background.")

# The versions of the model are made once per model and kept while this tab is open (not in the Session).
kept = st.session_state.setdefault("versions_kept", {})
if kept and kept.get("key", ("",))[0] != s.digest:
    kept.clear()   # a new model: the old versions are of no use any more


def take_finished(wanted) -> None:
    job = s.job
    if (job is not None and job.kind == "prediction" and not job.active and job.view.get("wanted") == wanted
            and job.state == DONE and job.result is not None):
        st.session_state["try_answer"] = (wanted, job.result)


with right:
    st.subheader("What each version says")
    if raw is None and drawing is None:
        st.caption("Your image goes here: " + {"draw": "draw in the black box.", "upload": "choose a file.",
                                               "camera": "take a photo."}[source])
    elif prepared is not None:
        wanted = (s.digest, prepared.digest)
        take_finished(wanted)
        answer = st.session_state.get("try_answer")
        if (answer is None or answer[0] != wanted) and st.session_state.get("try_started") != wanted:
            if s.busy:
                if s.job.kind != "prediction":   # (a prediction's own progress is drawn below)
                    st.info(f"Your {s.job.kind} is under way: your image goes through the model when it has "
                            "ended.", icon=":material/hourglass_top:")
            else:
                try:
                    job = versions.start_prediction(s, prepared, kept)
                except (Busy, ValueError) as exc:
                    st.warning(str(exc))
                else:
                    st.session_state["try_started"] = wanted
                    job.wait(2.0)   # a prediction with kept versions ends in milliseconds: show it in this run
                    take_finished(wanted)
                    answer = st.session_state.get("try_answer")
        job = s.job
        if answer is not None and answer[0] == wanted:
            answers = answer[1]
            st.markdown(tw.verdict(answers))
            tw.answers_table(answers, s.results)
            st.caption(f"**This call**: measured here, the {glossary.term('latency')} of this one prediction "
                       "(one image, the server's threads); it varies from call to call, and Compress & benchmark "
                       "gives the median of many. **Test accuracy**: measured there, on the whole test set.")
            if st.button("Predict again", icon=":material/replay:", help="Run the same image again: a new latency."):
                st.session_state.pop("try_answer", None)
                st.session_state.pop("try_started", None)
                st.rerun()
        elif job is not None and job.kind == "prediction" and job.active:
            status.job_panel(s, ("prediction",), key="try")
        elif job is not None and job.kind == "prediction" and job.view.get("wanted") == wanted:
            st.warning(f"The prediction did not finish ({job.error or job.stop_reason or job.state}).")
            if st.button("Try again", icon=":material/replay:"):
                st.session_state.pop("try_started", None)
                st.rerun()
    if not s.results:
        st.info("Only your trained model (fp32) so far: make and measure compressed versions on Compress & "
                "benchmark, and each of them answers here too.", icon=":material/compress:")
        st.page_link("app_pages/compress.py", label="Go to Compress & benchmark", icon=":material/compress:")

if prepared is not None:
    st.subheader("How your image was prepared")
    st.caption("The model has only seen images made this way"
               + (" (MNIST's recipe: light ink on black, fitted into 20x20, centred by its mass in 28x28)"
                  if info.name in preprocess.DIGIT_DATASETS else "") + ", so yours goes through the same steps.")
    tw.steps(prepared)
