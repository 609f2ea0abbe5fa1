"""The Class board page's pieces: the class code from the link, what a student may post (one of their
own measured versions, as service.board.board_result prices them), the room's table and
the challenges, refreshed while the page is open, and the presenter's clear.

Nicknames are what other students typed: they appear only in st.dataframe cells (drawn as text),
never in markdown, st.table (whose cells are markdown) or a notice.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.lab import fmt
from dashboard.service.board import (
    CHALLENGES,
    Board,
    BoardUnavailable,
    Challenge,
    Entry,
    Result,
    board_result,
    clean_class_code,
    postable,
    snapshot,
    unpostable,
)
from dashboard.service.sessions import Session
from dashboard.ui import presenter
from dashboard.ui.share import plain

REFRESH_S = 5            # how often an open board asks for the room's entries
PARAM = "class"          # ?class=ROOM-12 in the page's link
CLASS_KEY, NICK_KEY, VERSION_KEY, SURE_KEY = "board_class", "board_nickname", "board_version", "board_clear_sure"
FAIR = ("Energy under the lab's default assumptions, so everyone's is comparable: an estimate depends on the "
        "watts assumed, so each entry is priced with CodeCarbon's figures for this machine, not the watts anyone "
        "set on the other pages.")
METRIC_COLUMNS = {"size_bytes": "size (KiB)", "energy_j_per_1000_images": "energy per 1,000 images (J)",
                  "latency_ms": "batch-1 latency (ms)"}


# --- the class code ----------------------------------------------------------------------------

def class_from_link(s: Session, form: str) -> None:
    """Put a ?class=CODE of the page's link into the class code field once (call before widgets.restore);
    a code that is not one gives its message as a warning. The parameter then leaves the address bar."""
    raw = st.query_params.get(PARAM)
    if raw is None:
        return
    del st.query_params[PARAM]
    try:
        code = clean_class_code(raw)
    except ValueError as e:
        st.warning(str(e), icon=":material/link_off:")
        return
    st.session_state[CLASS_KEY] = code
    s.forms.setdefault(form, {})[CLASS_KEY] = code


def tidy_class_code() -> None:
    """on_change of the class code field: show the code as the board keys it (upper case, no spaces)."""
    try:
        st.session_state[CLASS_KEY] = clean_class_code(st.session_state.get(CLASS_KEY, ""))
    except ValueError:
        pass   # said by class_code() in the run that follows


def class_code(text: str) -> str | None:
    """The class code typed, cleaned; None (with the reason as a warning) when it is not one, or empty."""
    if not text.strip():
        return None
    try:
        return clean_class_code(text)
    except ValueError as e:
        st.warning(str(e), icon=":material/warning:")
        return None


def open_board() -> Board | None:
    """This server's board, or None after one error line saying why it cannot be reached."""
    try:
        return Board.configured()
    except BoardUnavailable as e:
        unavailable(e)
        return None


def unavailable(e: BoardUnavailable) -> None:
    st.error(plain(str(e)), icon=":material/cloud_off:")


# --- what a student posts ------------------------------------------------------------------------

def describe(result: Result) -> str:
    """A result in one line of plain words with units, its energy measured or estimated (no user text in it)."""
    return (f"{fmt.pct(result.accuracy)} accuracy · {fmt.size(result.size_bytes)} · "
            f"{fmt.ms(result.latency_ms)} per image at batch 1 · "
            f"{fmt.energy(result.energy_j_per_1000_images)} per 1,000 images "
            f"({'measured' if result.energy_measured else 'estimated'})")


def post_form(s: Session, board: Board | None, code: str | None, nickname: str) -> None:
    """Pick one of this session's measured versions and post it under the nickname."""
    t = s.trained
    versions = postable(s.results) if t is not None else []
    for name, why in unpostable(s.results) if t is not None else []:
        st.caption(f":material/block: {name} cannot be posted: {why}.")
    if not versions:
        st.info("Measure your model first: train it, then press **Compress & measure**, and its measured versions "
                "can be posted here.", icon=":material/speed:")
        st.page_link("app_pages/compress.py", label="Go to Compress & benchmark", icon=":material/compress:")
        return
    names = [r.name for r in versions]
    if st.session_state.get(VERSION_KEY) not in names:
        st.session_state[VERSION_KEY] = max(versions, key=lambda r: r.accuracy).name
    by_name = {r.name: r for r in versions}
    pick, press = st.columns([3, 1], vertical_alignment="bottom")
    name = pick.selectbox("Which of your measured versions", names, key=VERSION_KEY,
                          format_func=lambda n: f"{n}: {fmt.pct(by_name[n].accuracy)}, {fmt.size(by_name[n].size_bytes)}",
                          help=f"The versions of your {t.spec.name} measured on Compress & benchmark. The figures "
                               "posted are those measured, nothing typed.")
    result = board_result(by_name[name], t.spec.name, t.dataset)
    pressed = press.button("Post to the board", icon=":material/publish:", type="primary", width="stretch",
                           disabled=board is None or code is None,
                           help=None if code else "Type your class code first.")
    st.caption(f"Posts {describe(result)}, energy {plain(result.energy_note)}.")
    if pressed:
        try:
            board.post(code, nickname, result)
        except ValueError as e:
            st.warning(str(e), icon=":material/warning:")
        except BoardUnavailable as e:
            unavailable(e)
        else:
            st.success(f"Posted to {code}: {describe(result)}. A later post under the same nickname replaces it.",
                       icon=":material/check_circle:")


# --- the board -------------------------------------------------------------------------------------

ENTRY_COLUMNS = ["nickname", "version", "accuracy (%)", "size (KiB)", "batch-1 latency (ms)",
                 "energy per 1,000 images (J)", "energy", "posted (UTC)", "model", "dataset", "energy method"]


def _columns(rows: list[dict], columns: list[str]) -> dict[str, list]:
    """Rows as one list per column, in order (a table with its headers even when it has no rows)."""
    return {c: [row[c] for row in rows] for c in columns}


def entries_table(entries: Sequence[Entry]) -> dict[str, list]:
    """The room's entries, newest first, every column with its unit; what a projector shows first, first."""
    return _columns([{
        "nickname": e.nickname,
        "version": e.result.variant,
        "accuracy (%)": round(100 * e.result.accuracy, 2),
        "size (KiB)": round(e.result.size_bytes / 1024, 1),
        "batch-1 latency (ms)": round(e.result.latency_ms, 4),
        "energy per 1,000 images (J)": float(f"{e.result.energy_j_per_1000_images:.3g}"),
        "energy": "measured" if e.result.energy_measured else "estimated",
        "posted (UTC)": e.posted_at.strftime("%H:%M:%S"),
        "model": e.result.model,
        "dataset": e.result.dataset,
        "energy method": e.result.energy_note,
    } for e in entries], ENTRY_COLUMNS)


def leaders_table(leaders: Sequence[Entry], challenge: Challenge) -> dict[str, list]:
    """A challenge's top 3: rank, nickname, the challenge's figure with its unit, accuracy."""
    column = METRIC_COLUMNS[challenge.metric]
    rows = []
    for rank, e in enumerate(leaders[:3], start=1):
        value = getattr(e.result, challenge.metric)
        shown = (round(value / 1024, 1) if challenge.metric == "size_bytes"
                 else float(f"{value:.3g}"))
        rows.append({"#": rank, "nickname": e.nickname, column: shown,
                     "accuracy (%)": round(100 * e.result.accuracy, 2)})
    return _columns(rows, ["#", "nickname", column, "accuracy (%)"])


def live_board(board: Board, code: str) -> None:
    """The room's entries and the challenges, asked for again every REFRESH_S seconds while open."""

    @st.fragment(run_every=REFRESH_S)
    def live() -> None:
        try:
            snap = snapshot(board, code, CHALLENGES)   # shared by every open tab of the class: one bounded read
        except BoardUnavailable as e:
            unavailable(e)
            return
        entries, leaders = snap.entries, snap.leaders
        st.subheader("Challenges")
        cols = st.columns(len(CHALLENGES))
        for col, c in zip(cols, CHALLENGES):
            with col:
                st.markdown(f"**{c.title}**")
                if leaders[c.key]:
                    st.dataframe(leaders_table(leaders[c.key], c), hide_index=True, width="stretch")
                else:
                    st.caption(f"No entry at ≥ {c.min_accuracy * 100:g} % accuracy yet.")
        st.subheader(f"Everyone in {code}")
        if entries:
            st.dataframe(entries_table(entries), hide_index=True, width="stretch",
                         column_config={"nickname": st.column_config.TextColumn(width="medium")})
        else:
            st.caption("No entries yet: be the first to post.")
        st.caption(f"{snap.total:,} {'entry' if snap.total == 1 else 'entries'}"
                   + (f" (the newest {len(entries):,} shown)" if snap.total > len(entries) else "")
                   + ", newest first, refreshed every "
                   f"{REFRESH_S} s. {FAIR} 'energy' says whether each was measured or estimated; 'energy method', "
                   "with what.")

    live()


def room_link(s: Session, code: str) -> tuple[str, bool]:
    """The board's link with the class code, which fills it in for whoever opens it, under the room's
    address (presenter.room_address); and whether that address is the one typed on Run of show."""
    base, typed = presenter.room_address(s, "board")
    return f"{base + '/' if base else ''}board?{PARAM}={code}", typed


def presenter_tools(s: Session, board: Board, code: str) -> None:
    """In presenter mode: the room's link to this class's board (and its QR code), and "Clear this
    class's board" behind a confirmation. (Presenter mode is a way of drawing pages, not a login.)"""
    if not presenter.is_on():
        return

    def clear() -> None:
        try:
            n = board.clear(code)
        except BoardUnavailable as e:
            s.notify("error", plain(str(e)))
        else:
            s.notify("success", f"Cleared the board of {code}: {n} {'entry' if n == 1 else 'entries'} removed.")
        st.session_state[SURE_KEY] = False

    link, typed = room_link(s, code)
    share, clear_col = st.columns([3, 1], vertical_alignment="top")
    with share.expander(f"Link to {code}'s board for the room", icon=":material/qr_code_2:"):
        if link.startswith(("http://", "https://")):
            st.image(presenter.qr_png(link), width=220)
        st.code(link, language=None, wrap_lines=True)
        st.caption("Opens this page with the class code filled in, in a session of each student's own."
                   + ("" if typed else " " + presenter.SERVER_SEEN))
    with clear_col.popover("Clear the board", icon=":material/delete:", width="stretch"):
        st.caption(f"Removes every entry of class {code} for the whole room. It cannot be undone.")
        sure = st.checkbox(f"Yes, remove every entry of {code}", key=SURE_KEY)
        st.button("Clear this class's board", icon=":material/delete:", disabled=not sure, on_click=clear)
