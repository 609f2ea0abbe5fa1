"""The Try it yourself page's sections: where the image comes from (drawing canvas, upload, camera), its
check and preparation (remembered by content), the versions kept for this tab, and each version's answer
or the prediction's progress. Streamlit drawing only: the checks are lab.inputs.uploads', the preparation
lab.serving.preprocess', the small images and the answers' table try_it_widgets'."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st

from dashboard.lab.inputs import data, uploads
from dashboard.lab.serving import preprocess
from dashboard.service import incidents
from dashboard.service.jobs import DONE
from dashboard.service.sessions import Session
from dashboard.ui import glossary, status
from dashboard.ui import try_it_widgets as tw

SOURCES = {"draw": "Draw", "upload": "Upload a file", "camera": "Take a photo"}
SOURCE_KEY = "try_source"


@dataclass(frozen=True)
class Setup:
    """What the trained model's dataset allows: a canvas for grey images only, and what to show it."""

    info: data.DatasetInfo
    max_bytes: int
    max_pixels: int

    @classmethod
    def of(cls, s: Session) -> Setup:
        max_bytes, max_pixels = uploads.limits()
        return cls(data.CATALOG[s.trained.dataset], max_bytes, max_pixels)

    @property
    def grey(self) -> bool:
        return self.info.shape[0] == 1

    @property
    def choices(self) -> list[str]:
        return ["draw", "upload", "camera"] if self.grey else ["upload", "camera"]   # no canvas for colour photos

    @property
    def digits(self) -> bool:
        return self.info.name in preprocess.DIGIT_DATASETS

    @property
    def what(self) -> str:
        return ("a digit" if self.digits
                else "a piece of clothing or a shoe" if self.info.name == "fashion-mnist" else "one of its classes")


def keep_source_valid(setup: Setup) -> None:
    """A source saved for another dataset (the canvas, for a colour one) falls back to the first offered."""
    if st.session_state[SOURCE_KEY] not in setup.choices:
        st.session_state[SOURCE_KEY] = setup.choices[0]


def canvas_image(setup: Setup):
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
    st.caption(f"Draw {setup.what}, large, with the mouse or a finger. The bin above the box clears it.")
    if not (result.json_data or {}).get("objects") or result.image_data is None:
        return None
    return preprocess.from_canvas(result.image_data)


def image_from(source: str, setup: Setup):
    """The source's widget: returns (raw bytes of an upload or photo, drawn image), each None when absent."""
    raw = drawing = None
    if source == "draw":
        drawing = canvas_image(setup)
    elif source == "upload":
        upload = st.file_uploader("An image file: PNG, JPEG or WebP", type=["png", "jpg", "jpeg", "webp"],
                                  key="try_upload", max_upload_size=max(1, -(-setup.max_bytes // 2**20)),
                                  help=f"Checked by its content, up to {setup.max_bytes / 1e6:.0f} MB and "
                                       f"{setup.max_pixels / 1e6:.0f} megapixels.")
        raw = upload.getvalue() if upload is not None else None
    else:
        photo = st.camera_input("Hold your image up to the camera", key="try_camera")
        raw = photo.getvalue() if photo is not None else None
    return raw, drawing


def prepared_from(setup: Setup, raw: bytes | None, image=None):
    """Check and prepare an upload (bytes) or a drawing (image), remembered by content for later runs.
    Returns a Prepared, or None after saying in one line why it cannot be used."""
    if raw is None and image is None:
        return None
    info = setup.info
    digest = hashlib.sha1(raw if raw is not None else image.tobytes()).hexdigest()
    memo = st.session_state.get("try_memo")
    if memo is None or memo[0] != (digest, info.name):
        try:
            notes: list[str] = []
            if raw is not None:
                checked = uploads.read_image(raw, max_bytes=setup.max_bytes, max_pixels=setup.max_pixels)
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


def tip(source: str, setup: Setup) -> None:
    """What makes a good photo or upload for this dataset (grey datasets only)."""
    if setup.grey and source != "draw":
        st.caption(f"Best: {setup.what}, dark on light paper or light on dark, filling most of the picture."
                   if setup.digits else "Best: one object on a plain background.")


def kept_versions(s: Session) -> dict:
    """The versions of the model, made once per model and kept while this tab is open (not in the Session)."""
    kept = st.session_state.setdefault("versions_kept", {})
    if kept and kept.get("key", ("",))[0] != s.digest:
        kept.clear()   # a new model: the old versions are of no use any more
    return kept


def nothing_yet(source: str) -> None:
    st.caption("Your image goes here: " + {"draw": "draw in the black box.", "upload": "choose a file.",
                                           "camera": "take a photo."}[source])


def answer_for(s: Session, wanted):
    """The answers for this model and image: taken from the session's finished prediction when it is theirs,
    else the ones kept from an earlier run; None when there are none yet."""
    job = s.job
    if (job is not None and job.kind == "prediction" and not job.active and job.view.get("wanted") == wanted
            and job.state == DONE and job.result is not None):
        st.session_state["try_answer"] = (wanted, job.result)
    answer = st.session_state.get("try_answer")
    return answer[1] if answer is not None and answer[0] == wanted else None


def to_start(wanted) -> bool:
    """Whether this model and image still need a prediction (none started for them yet)."""
    return st.session_state.get("try_started") != wanted


def started(wanted) -> None:
    st.session_state["try_started"] = wanted


def waiting_for(s: Session) -> None:
    """Said while another job of the session holds the slot (a prediction's own progress is drawn below)."""
    if s.job.kind != "prediction":
        st.info(f"Your {s.job.kind} is under way: your image goes through the model when it has "
                "ended.", icon=":material/hourglass_top:")


def answers_or_progress(s: Session, wanted, answers) -> None:
    """Each version's answer, else the prediction's progress, else why it did not finish."""
    job = s.job
    if answers is not None:
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


def only_fp32(s: Session) -> None:
    if not s.results:
        st.info("Only your trained model (fp32) so far: make and measure compressed versions on Compress & "
                "benchmark, and each of them answers here too.", icon=":material/compress:")
        st.page_link("app_pages/compress.py", label="Go to Compress & benchmark", icon=":material/compress:")


def how_prepared(setup: Setup, prepared) -> None:
    st.subheader("How your image was prepared")
    st.caption("The model has only seen images made this way"
               + (" (MNIST's recipe: light ink on black, fitted into 20x20, centred by its mass in 28x28)"
                  if setup.digits else "") + ", so yours goes through the same steps.")
    tw.steps(prepared)
