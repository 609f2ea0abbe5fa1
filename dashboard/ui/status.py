"""Small shared widgets: a job's progress and place in line, the sidebar, the energy badge.

The sidebar shows a student what they need (their session, their job's place in line, the server's one-line
state) and nothing of the server itself: its settings, their errors and its counts are the presenter's
(ui.diagnostics)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.lab import energy, fmt
from dashboard.service import backend
from dashboard.service.jobs import QUEUED, RUNNER, Busy, Job
from dashboard.service.slot import COMPUTE
from dashboard.service.sessions import Session

POLL_S = 1.0          # how often an open page redraws a running training (its live curves)
POLL_QUEUED_S = 2.0   # ... and a waiting job (many waiting pages must stay cheap for the server)
POLL_SERVER_S = 10.0  # ... and the sidebar's line about other sessions' jobs, while there are any
# ... and a job that measures: every redraw costs the student's own browser CPU time, on the same cores as the
# measurement when the app runs on their laptop (seen: a browser at 39 % of a core redrawing the demo's progress
# every second, and the demo's timings disturbed by it). A slower progress bar is the cheaper price.
POLL_MEASURING_S = 4.0
MEASURING_KINDS = ("demo", "compress", "edge", "hardware", "sensitivity", "prediction")


def poll_every(s: Session) -> float | None:
    """The redraw interval for this session's pages: only while its job is active."""
    job = s.job
    if job is None or not job.active:
        return None
    if job.state == QUEUED:
        return POLL_QUEUED_S
    return POLL_MEASURING_S if job.kind in MEASURING_KINDS else POLL_S


def _eta(seconds: float) -> str:
    if seconds < 60:
        return f"about {max(5, 5 * round(seconds / 5)):.0f} s"
    return f"about {seconds / 60:.0f} min"


def wait_text(job: Job) -> str | None:
    """What a queued or following job is waiting for, in a sentence; None once it runs."""
    if job.following is not None:
        leader = job.following
        return (f"An identical {job.kind} started by another session is running ({100 * leader.progress:.0f} %). "
                "You will get its results when it ends: nothing is computed twice.")
    if job.state != QUEUED:
        return None
    if job.message.startswith("loading"):
        return job.message.capitalize() + "..."
    ahead = job.ahead
    if ahead == 0:
        return "Starting..."
    return (f"Waiting for a free slot: {ahead} {'job' if ahead == 1 else 'jobs'} ahead, {_eta(RUNNER.eta_s(job))}. "
            + takes_turns(job))


def takes_turns(job: Job) -> str:
    """Where the job's heavy work takes turns: this server, or the compute cluster's measuring nodes (its
    slot's places, one per node)."""
    slot = job.slot or COMPUTE
    if slot is COMPUTE:
        return "Heavy work takes turns on this server, so no two measurements overlap."
    n = slot.capacity
    return (f"Heavy work takes turns on the compute cluster's {n} measuring node{'s' if n != 1 else ''}, one job "
            "per node at a time, so no two measurements share a machine.")


def running_where(job: Job) -> str | None:
    """Which machine runs a job sent to the compute cluster, in a sentence; None in this server's process."""
    if not job.where:
        return None
    place = backend.place_of(job)
    if not place.hardware:   # sent, its worker not heard from yet
        return "Sent to the compute cluster: it runs on one of its measuring nodes."
    return f"Running on {place.name}: its figures are that machine's."


def started(start: Callable[[], object], cannot: str | None = None) -> bool:
    """Start a job from a button's click: True once it is queued, else its refusal in one line. A busy server
    (service.jobs.Busy) says why itself; with `cannot` ("These settings cannot train: {}."), settings the
    engine refuses (ValueError) are said in it too."""
    try:
        start()
    except Busy as exc:
        st.error(str(exc))
        return False
    except ValueError as exc:
        if cannot is None:
            raise
        st.error(cannot.format(exc))
        return False
    return True


def job_progress(job: Job, *, stop_label: str = "Stop", key: str = "job_stop") -> None:
    """A job's line in the queue or its progress bar, with the button that stops it beside it (one row:
    what the job makes, drawn under it, stays in the first screen)."""
    line, press = st.columns([5, 1], vertical_alignment="bottom")
    waiting = wait_text(job)
    if waiting:
        line.info(waiting, icon=":material/hourglass_top:")
    else:
        line.progress(job.progress, text=job.message[:1].upper() + job.message[1:])
        if (where := running_where(job)) is not None:
            line.caption(where)
    if job.active:
        label = "Cancel" if job.state == QUEUED and job.following is None else stop_label
        if press.button(label, icon=":material/stop:", key=key, disabled=job.stopping, width="stretch"):
            job.stop("you")
            st.rerun()  # (not scope="fragment": the click may arrive in a full run of the page)
        if job.stopping:
            line.caption("Stopping at the next step...")


def job_panel(s: Session, kinds: tuple[str, ...], *, stop_label: str = "Stop", key: str = "job") -> None:
    """The live status of this session's job of one of `kinds`, redrawn while it runs; when it
    ends the whole page runs again to show what it made."""
    job = s.job
    if job is None or job.kind not in kinds or not job.active:
        return

    @st.fragment(run_every=poll_every(s))
    def panel() -> None:
        current = s.job
        if current is not job or not job.active:
            st.rerun(scope="app")
        job_progress(job, stop_label=stop_label, key=f"{key}_stop")

    panel()


def require_model(s: Session, why: str) -> None:
    """Stop the page with a pointer to Train when this session has no trained model yet."""
    if s.trained is None:
        if s.busy:
            st.info(f"Your {s.job.kind} is under way; this page fills in when it has made a model.",
                    icon=":material/hourglass_top:")
            job_panel(s, (s.job.kind,), key="require")
        else:
            st.info(f"Train a model first (or run the whole demo from Home): {why}", icon=":material/model_training:")
            st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()


def energy_badge(reading: energy.EnergyReading | None, *, label: str = "Energy") -> None:
    """Energy with its unit and CO2, and always whether it was measured or estimated."""
    if reading is None:
        st.metric(label, "not yet", help="Energy is metered while the work runs.")
        return
    method = reading.method or "estimated: method unknown"
    kind = energy.kind(reading)
    st.metric(f"{label} ({kind})", fmt.energy(reading.joules), help=method)
    st.caption(f"{fmt.co2(reading.co2_grams)} CO₂e · {kind}")
    with st.popover(f"How this {kind} figure was made", icon=":material/info:"):
        st.markdown(f"**Method:** {method}")
        if reading.duration_s:
            st.markdown(f"Over {fmt.seconds(reading.duration_s)}: processor {fmt.energy(reading.cpu_joules)}, "
                        f"memory {fmt.energy(reading.ram_joules)}"
                        + (f", graphics card {fmt.energy(reading.gpu_joules)}" if reading.gpu_joules else "")
                        + f"; average {fmt.watts(reading.watts)}.")
        rows = fmt.assumption_rows(reading.assumptions or {})
        if rows:
            st.table({"what": [what for what, _ in rows], "value": [value for _, value in rows]},
                     hide_index=True, hide_header=True)


def server_text() -> str | None:
    """What the server is doing for every session ("Server: running a training, 2 waiting"); None when idle."""
    queue = RUNNER.queue()
    if not queue:
        return None
    running = next((j for j in queue if j.state == "running"), None)
    waiting = sum(1 for j in queue if j.state == QUEUED and j.following is None)
    return ("Server: " + (f"running a {running.kind}" if running else "starting a job")
            + (f", {waiting} waiting" if waiting else ""))


def sidebar(s: Session) -> None:
    """What this session has, on every page, and its job's state (redrawn while it runs)."""
    with st.sidebar:
        st.caption("This session")

        started = s.job if s.busy else None

        @st.fragment(run_every=poll_every(s))
        def job_line() -> None:
            job = s.job
            if started is not None and (job is not started or not job.active):
                st.rerun(scope="app")  # it ended: every page shows what it made
            if job is None or not job.active:
                return
            if job.following is not None:
                st.markdown(f":material/hourglass_top: **{job.kind.capitalize()}**: following an identical one "
                            f"({100 * job.progress:.0f} %)")
            elif job.state == QUEUED:
                st.markdown(f":material/hourglass_top: **{job.kind.capitalize()}** waiting: {job.ahead} ahead")
            else:
                st.markdown(f":material/play_circle: **{job.kind.capitalize()}** running: {100 * job.progress:.0f} %")
            st.caption("It runs on the server: you can change pages, or refresh, meanwhile.")

        job_line()
        if s.trained is not None:
            t = s.trained
            st.markdown(f":material/check_circle: Model: **{t.spec.name}** on **{t.dataset}**, "
                        f"{fmt.pct(t.test_accuracy)} test accuracy"
                        + (f" ({fmt.ended(t).lstrip(', ')})" if fmt.ended(t) else ""))
        else:
            st.markdown(":material/radio_button_unchecked: No model trained yet")
        if s.results:
            st.markdown(f":material/speed: {len(s.results)} model version{'s' if len(s.results) != 1 else ''} measured")
        st.markdown(f":material/history: {len(s.runs)} run{'s' if len(s.runs) != 1 else ''} in Results")

        # Redrawn on its own while the server has jobs: drawn once, it stayed after they ended, on a page
        # that nothing else redraws (another session's job ended while this one was idle). It draws
        # nothing once the queue is empty, and stops asking at the page's next full run.
        @st.fragment(run_every=POLL_SERVER_S if RUNNER.queue() else None)
        def server_line() -> None:
            if text := server_text():
                st.caption(text)

        server_line()
