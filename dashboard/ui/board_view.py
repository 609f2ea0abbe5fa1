"""The Class board page's pieces: the class code from the link, what a student may post (one of their
own measured versions, as service.board_posts.board_result prices them), the room's table and
the challenges, refreshed while the page is open, and the presenter's clear.

Nicknames are what other students typed: they appear only in st.dataframe cells (drawn as text),
never in markdown, st.table (whose cells are markdown) or a notice. A post is made as this session (its
public_id owns the nickname in the class); the board's refusals (too often, a taken or look-alike nickname,
a full class, not the presenter) show as one plain line and the session keeps everything it had.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.lab import claims, fmt
from dashboard.service import authority, board_devices
from dashboard.service.board import Board, BoardUnavailable, MAX_ENTRIES, Entry, snapshot
from dashboard.service.board_posts import (
    CHALLENGES,
    Challenge,
    POST_WINDOWS,
    Result,
    board_result,
    clean_class_code,
    postable,
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
METRIC_COLUMNS = {"size_bytes": "size (KiB)", "energy_j_per_1000_images": "J/1,000 images",
                  "latency_ms": "latency (ms)"}


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
    refused = unpostable(s.results) if t is not None else []
    for name, why in refused:
        st.caption(f":material/block: {name} cannot be posted: {why}.")
    if not versions:
        st.info("None of your measured versions can be posted yet: the server was busy while they were measured. "
                "Press **Measure again** on Compress & benchmark when the room is quieter." if refused else
                "Measure your model first: train it, then press **Compress & measure**, and its measured versions "
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
            board.post(code, nickname, result, owner=s.public_id)
        except ValueError as e:   # unusable input, or a limit of the board (service.board_posts.Refused)
            st.warning(plain(str(e)), icon=":material/warning:")
        except BoardUnavailable as e:
            unavailable(e)
        else:
            st.success(f"Posted to {code}: {describe(result)}. The nickname is yours in {code}: your later post "
                       "under it replaces this one.", icon=":material/check_circle:")
    st.caption(f"A session may post {_rate_words()}; a class holds {board.max_entries if board else MAX_ENTRIES:,} "
               "entries until the presenter clears it.")


def _post_words(p: board_devices.DevicePost) -> str:
    """One device's post in plain words: its class, browser and cores, the versions it carries (no user text)."""
    cores = f", {fmt.plural(p.cores, 'logical core')}" if p.cores else ""
    versions = ", ".join(f.version for f in p.figures) or "none"
    return f"your {p.device_class} ({p.browser}{cores}): {versions}"


def device_post_form(s: Session, board: Board | None, code: str | None, nickname: str) -> None:
    """Post this session's own device measurements (Edge & cloud's Measure on this device, and on my phone): the
    steady versions of its latest kept runs, with the device class; the unsteady ones said, not posted."""
    posts = board_devices.preview(s)
    if not posts:
        st.caption("Press **Measure on this device** (and **Measure on my phone**) on Edge & cloud first: your "
                   "browsers' figures for your current model can then be posted here, with the kind of device.")
        st.page_link("app_pages/edge.py", label="Go to Edge & cloud", icon=":material/smartphone:")
        return
    for p in posts:
        for version, why in p.left_out:
            st.caption(f":material/block: {version} on your {p.device_class} is not posted: {why}.")
    pressed = st.button("Post my device's figures", icon=":material/publish:", key="board_device_post",
                        disabled=board is None or code is None or not any(p.figures for p in posts),
                        help=None if code else "Type your class code first.")
    st.caption("Posts " + "; ".join(_post_words(p) for p in posts if p.figures) + ": the browser's p50 per "
               "call, and this server's for the same file where it was measured quietly. The board keeps the kind "
               "of device, the browser's name and the number of cores, never the browser's full description.")
    if pressed:
        try:
            done = board_devices.post_device(board, code, nickname, s)
        except ValueError as e:   # unusable input, or a limit of the board (service.board_posts.Refused)
            st.warning(plain(str(e)), icon=":material/warning:")
        except BoardUnavailable as e:
            unavailable(e)
        else:
            st.success(f"Posted to {code}: " + "; ".join(_post_words(p) for p in done if p.figures) + ".",
                       icon=":material/check_circle:")


def _rate_words() -> str:
    """POST_WINDOWS in words: "3 times in 30 s and 20 times an hour"."""
    return " and ".join(f"{n} times " + ("an hour" if secs == 3600 else f"in {secs:g} s") for n, secs in POST_WINDOWS)


# --- the board -------------------------------------------------------------------------------------

# Every column has a width in px, so that the tables fit the narrowest screen the board is shown on:
# a 1280x720 projector, whose main column is 818 px and a challenge's third of it 261 px (left to size
# themselves, the columns ran off the right edge, where nobody scrolls a projected table). A longer
# nickname or version name ends in "…" inside its column; columns narrower than the table are widened
# evenly. Presenter mode draws the tables' text 1.25x larger (presenter.CSS: a 20 px root font for 16 px):
# the widths grow with it as far as the column still fits (810 px in all, 255 px for a challenge), and the
# model column gives way.
ENTRY_WIDTHS = {"nickname": 110, "version": 130, "model": 110, "accuracy (%)": 88, "size (KiB)": 75,
                "latency (ms)": 85, "J/1,000 images": 100, "energy": 78}
ENTRY_COLUMNS = list(ENTRY_WIDTHS)
PRESENTER_SCALE, PRESENTER_DROPS = 1.25, ("model",)
HELP = {"latency (ms)": "Batch-1 latency: one image per call, the median call, in milliseconds.",
        "J/1,000 images": "Energy per 1,000 images, in joules, under the lab's default assumptions.",
        "energy": "Whether the energy was measured by hardware counters or estimated from CPU time.",
        "model": "The model the version was made from, and the data it was trained on."}


def shown(value: float) -> float:
    """A figure as the board shows it: 3 significant digits (0.0446, 1.44, 325)."""
    return float(f"{value:.3g}")


def _columns(rows: list[dict], columns: list[str]) -> dict[str, list]:
    """Rows as one list per column, in order (a table with its headers even when it has no rows)."""
    return {c: [row[c] for row in rows] for c in columns}


MAIN_PX, THIRD_PX = 810, 255   # the room a table has at 1280x720: the main column, a challenge's third of it


def widths(base: dict[str, int], room_px: int = MAIN_PX) -> dict[str, int]:
    """The columns shown and their widths in px on this page: `base`, or in presenter mode scaled up (up to
    PRESENTER_SCALE, no wider than `room_px` in all), less the columns that give way."""
    if not presenter.is_on():
        return base
    kept = {c: w for c, w in base.items() if c not in PRESENTER_DROPS}
    scale = min(PRESENTER_SCALE, room_px / sum(kept.values()))
    return {c: int(scale * w) for c, w in kept.items()}


def leader_widths(challenge: Challenge) -> dict[str, int]:
    return widths({"#": 30, "nickname": 86, METRIC_COLUMNS[challenge.metric]: 100}, THIRD_PX)


def table(data: dict[str, list], shown_widths: dict[str, int]) -> None:
    """A table of the board: the columns of `shown_widths`, each that wide (and what it means, where the
    header is short). Nicknames are cells of it: text, never markup."""
    st.dataframe(data, hide_index=True, width="stretch", column_order=list(shown_widths),
                 column_config={c: st.column_config.Column(width=w, help=HELP.get(c))
                                for c, w in shown_widths.items()})


def entries_table(entries: Sequence[Entry]) -> dict[str, list]:
    """The room's entries, newest first, every column with its unit; what a projector shows first, first.
    (When each was posted and how its energy was estimated: entries_note.)"""
    return _columns([{
        "nickname": e.nickname,
        "version": e.result.variant,
        "model": f"{e.result.model}, {e.result.dataset}",
        "accuracy (%)": round(100 * e.result.accuracy, 2),
        "size (KiB)": round(e.result.size_bytes / 1024, 1),
        "latency (ms)": shown(e.result.latency_ms),
        "J/1,000 images": shown(e.result.energy_j_per_1000_images),
        "energy": "measured" if e.result.energy_measured else "estimated",
    } for e in entries], ENTRY_COLUMNS)


def entries_note(entries: Sequence[Entry]) -> str:
    """Under the table: when the newest entry was posted, and each energy method with how many entries
    use it (no nickname: they are what students typed, shown only as table text)."""
    if not entries:
        return ""
    methods: dict[str, int] = {}
    for e in entries:
        methods[e.result.energy_note] = methods.get(e.result.energy_note, 0) + 1
    newest = max(e.posted_at for e in entries)
    return (f"Newest post at {newest.strftime('%H:%M:%S')} UTC. Energy: "
            + "; ".join(plain(m) + ("" if len(methods) == 1 else f" ({n} {'entry' if n == 1 else 'entries'})")
                        for m, n in methods.items()) + ".")


def leaders_table(leaders: Sequence[Entry], challenge: Challenge) -> dict[str, list]:
    """A challenge's top 3: rank, nickname, the challenge's figure with its unit (their accuracy is at least
    the challenge's, which its title says; the room's table has each one's)."""
    column = METRIC_COLUMNS[challenge.metric]
    rows = []
    for rank, e in enumerate(leaders[:3], start=1):
        value = getattr(e.result, challenge.metric)
        rows.append({"#": rank, "nickname": e.nickname,
                     column: round(value / 1024, 1) if challenge.metric == "size_bytes" else shown(value)})
    return _columns(rows, ["#", "nickname", column])


DEVICE_WIDTHS = {"model": 80, "version": 110, "this server": 85, "computers": 95, "phones": 85,
                 "computers vs server": 105, "phones vs server": 105, "phones vs computers": 110}
PLURALS = {"computer": "computers", "phone": "phones", "tablet": "tablets", "device": "other devices"}
DEVICE_HELP = {"this server": "Native ONNX Runtime on this server, 1 thread: the median of the students' figures "
                              "for the same file (one per session, quiet windows only), and how many.",
               "computers": "onnxruntime-web in the students' computers' browsers, 1 thread: the median p50 per "
                            "call (steady figures only), and how many."}


def _median_cell(m: board_devices.Median | None) -> str:
    return "n/a" if m is None else f"{fmt.ms(m.p50_ms)} ({m.count})"


def _versus(a: board_devices.Median | None, b: board_devices.Median | None) -> str:
    """The room's median a against b, in words built from the two medians shown."""
    if a is None or b is None:
        return "n/a"
    return claims.compare(a.p50_ms, b.p50_ms, more="slower", less="faster")


def devices_table(room: board_devices.RoomDevices) -> tuple[dict[str, list], dict[str, int]]:
    """Per model and version: this server's median p50, each device class's browsers' median (with counts), and
    each against the server and phones against computers; the columns shown and their widths."""
    classes = [c for c in board_devices.DEVICE_CLASSES if any(c in r.devices for r in room.rows)]
    shown_widths = dict(DEVICE_WIDTHS)
    for c in classes:
        if c not in ("computer", "phone"):   # a tablet or an unknown device: columns of its own, when posted
            shown_widths[PLURALS[c]] = 85
            shown_widths[f"{PLURALS[c]} vs server"] = 105
    rows = []
    for r in room.rows:
        row = {"model": f"{r.model}, {r.dataset}", "version": r.version, "this server": _median_cell(r.server)}
        for c in ("computer", "phone", *(c for c in classes if c not in ("computer", "phone"))):
            row[PLURALS[c]] = _median_cell(r.devices.get(c))
            row[f"{PLURALS[c]} vs server"] = _versus(r.devices.get(c), r.server)
        row["phones vs computers"] = _versus(r.devices.get("phone"), r.devices.get("computer"))
        rows.append(row)
    return _columns(rows, list(shown_widths)), shown_widths


def devices_board(board: Board, code: str) -> None:
    """Measured on students' devices: the same versions on this server and in the room's browsers."""
    try:
        room = board_devices.room_devices(board, code)   # shared by every open tab of the class
    except BoardUnavailable as e:
        unavailable(e)
        return
    st.subheader("Measured on students' devices")
    if not room.rows:
        st.caption("No device figures yet: measure on your device (and your phone) on Edge & cloud, then press "
                   "**Post my device's figures** above.")
        return
    data, shown_widths = devices_table(room)
    st.dataframe(data, hide_index=True, width="stretch", column_order=list(widths(shown_widths)),
                 column_config={c: st.column_config.Column(width=w, help=DEVICE_HELP.get(c))
                                for c, w in widths(shown_widths).items()})
    st.caption(f"The same version of the same model on this server (native ONNX Runtime) and in the room's browsers "
               f"(onnxruntime-web), 1 thread each, one image per call: the room's median p50 per call, with how "
               f"many figures it is the median of in brackets ({fmt.plural(room.posts, 'device post')}). Only steady "
               "browser figures and quietly measured server figures are posted; a ratio compares the two medians "
               "shown. The browsers' figures differ by runtime (WebAssembly has no int8 dot product) and by "
               "hardware (a phone's cores save power).")


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
                    table(leaders_table(leaders[c.key], c), leader_widths(c))
                else:
                    st.caption(f"No entry at ≥ {c.min_accuracy * 100:g} % accuracy yet.")
        st.subheader(f"Everyone in {code}")
        if entries:
            table(entries_table(entries), widths(ENTRY_WIDTHS))
        else:
            st.caption("No entries yet: be the first to post.")
        st.caption(f"{snap.total:,} {'entry' if snap.total == 1 else 'entries'}"
                   + (f" (the newest {len(entries):,} shown)" if snap.total > len(entries) else "")
                   + ", newest first, refreshed every "
                   f"{REFRESH_S} s. {FAIR} 'energy' says whether each was measured or estimated. "
                   + entries_note(entries))
        devices_board(board, code)

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
            n = board.clear(code, by=s)   # checks the presenter key itself (service.authority)
        except (BoardUnavailable, authority.NotPresenter) as e:
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
