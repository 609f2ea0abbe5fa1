"""Links from any page's text to a term of the glossary on the Lessons page.

    st.caption(f"... the {glossary.term('p95')} of single-image calls ...")

The link is relative (`lessons?term=p95`): from any page of the app (/compare, /try-it, or the app's
root) it reaches the Lessons page beside it, under whatever base path the app is served. Streamlit
opens a markdown link in a new tab, so the student's page stays as it was; the Lessons page shows the
term's definition at its top, and the whole glossary below, each term under a heading whose anchor
is glossary_anchor(term). (Not `lessons#p95`: a new tab gets its session token in the address as it
opens, and Streamlit rewrites the address without the fragment before the heading is drawn.)
"""

from __future__ import annotations

from dashboard.course.lessons import glossary_anchor

PAGE = "lessons"   # the Lessons page's url path (dashboard/app.py)
QUERY = "term"     # lessons?term=p95: the term shown first


def href(entry: str) -> str:
    """The relative address of a glossary entry: 'gCO2e/kWh' -> 'lessons?term=gco2e-kwh'."""
    return f"{PAGE}?{QUERY}={glossary_anchor(entry)}"


def term(word: str, entry: str | None = None) -> str:
    """`word` as a markdown link to its glossary entry (`entry` when the shown word differs: 'Latency' -> latency)."""
    return f"[{word}]({href(entry or word)})"
