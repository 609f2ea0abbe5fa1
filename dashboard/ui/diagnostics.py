"""The server's diagnostics, for the presenter only: what a student's sidebar no longer shows.

    diagnostics.panel(s)      # in the presenter's sidebar; draws nothing for anyone else

The settings' errors (a bad TRAIN_INFER_LAB_* value and the default used instead), where the presenter
key came from, threads, sessions, the queue, and which kind of database holds the class board (never
its host, its path or its password). `rows(s)` checks the key itself, so a student who reaches it some
other way than the panel is refused the same.
"""

from __future__ import annotations

import streamlit as st

from dashboard.lab import settings
from dashboard.service import authority
from dashboard.service.jobs import QUEUED, RUNNER, RUNNING
from dashboard.service.sessions import REGISTRY, Session

KEY_SOURCES = {"secrets": "the secrets file (presenter_key)", "environment": "TRAIN_INFER_LAB_PRESENTER_KEY",
               "generated": "generated at start (printed in the server log)"}


def database_kind(url: str) -> str:
    """Which kind of store a board URL names, in words: no host, path, user or password."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not url:
        return "SQLite file in the server's data folder (one copy of the app)"
    if scheme.startswith("postgres"):
        return "PostgreSQL (shared by every copy that names it)"
    if scheme.startswith("sqlite"):
        return "SQLite file (TRAIN_INFER_LAB_DATABASE_URL)"
    return "unknown"


def rows(s: Session) -> list[tuple[str, str]]:
    """(what, value) lines of the server's state. Raises authority.NotPresenter for anyone but the presenter."""
    authority.require(s, "see the server's diagnostics")
    cfg = settings.current()
    queue = RUNNER.queue()
    running = sum(1 for j in queue if j.state == RUNNING)
    waiting = sum(1 for j in queue if j.state == QUEUED)
    kept = sorted({x.kept_by for x in REGISTRY.sessions()})
    return [
        ("Presenter key", KEY_SOURCES.get(authority.source(), authority.source())),
        # "cookie" where dashboard/entry.py's middleware runs; "browser storage" where the cookie never arrives.
        ("Sessions kept by", f"{s.kept_by} (this session)" + (f"; all: {', '.join(kept)}" if len(kept) > 1 else "")),
        ("Threads per job", f"{cfg.threads} of {settings.effective_cpus()} CPUs this process may use"),
        ("Sessions", f"{len(REGISTRY.sessions())} of at most {cfg.max_sessions}"),
        ("Jobs", f"{running} running, {waiting} waiting (at most {cfg.max_queued_jobs} together)"),
        ("Class board", database_kind(cfg.database_url)),
    ]


def panel(s: Session) -> None:
    """The diagnostics, folded, where the caller draws (the presenter's sidebar); nothing unless `s` is the
    presenter's session."""
    if not authority.is_presenter(s):
        return
    problems = settings.errors()
    label = "Server diagnostics" + (f" ({len(problems)} setting{'s' if len(problems) != 1 else ''} ignored)"
                                    if problems else "")
    # Folded even with problems (the label counts them): the sidebar is projected with the page.
    with st.expander(label, icon=":material/monitor_heart:", expanded=False):
        for problem in problems:
            st.warning(f"Server setting ignored: {problem}", icon=":material/settings_alert:")
        for what, value in rows(s):
            st.markdown(f"**{what}:** {value}")
        st.caption("An error on a student's page shows an incident id: the server log has its details under it.")
