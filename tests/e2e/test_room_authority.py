"""The room's authority in the real Chromium against `streamlit run dashboard/entry.py`: a student has no
presenter controls, `?mode=present` only opens the key box, a wrong key is refused and then rate-limited,
the right key gives the controls; no address the app produces or shows carries the session's credential,
which lives in an HttpOnly cookie; Streamlit's internal metrics answer 404."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.keys import E2E_PRESENTER_KEY as PRESENTER_KEY
from tests.e2e.browse import EXCEPTION, root_font_px, settle, sidebar

pytestmark = pytest.mark.e2e

def type_key(page: Page, key: str) -> None:
    box = sidebar(page).get_by_label("Presenter key", exact=True)
    if not box.is_visible():
        sidebar(page).get_by_text("Presenter", exact=True).click()
    box.fill(key)
    sidebar(page).get_by_role("button", name="Unlock").click()
    settle(page)


def addresses(page: Page) -> list[str]:
    """Every address the page shows or links to: its own, every link, every code block (share links)."""
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    codes = page.eval_on_selector_all("code, pre", "els => els.map(e => e.innerText)")
    return [page.url, *links, *codes]


def test_a_student_gets_the_key_box_not_the_controls_and_wrong_keys_are_rate_limited(app_url, new_page):
    page = new_page()
    page.goto(f"{app_url}/board?mode=present")
    expect(page.get_by_role("heading", name="Class board", level=1)).to_be_visible(timeout=90_000)
    settle(page)
    expect(page).not_to_have_url(re.compile(r"mode=present"))
    assert root_font_px(page, settled_at=16) == 16                      # no presenter mode
    expect(sidebar(page).get_by_label("Presenter key", exact=True)).to_be_visible()   # the box opened instead
    expect(page.get_by_role("button", name=re.compile("Clear this class"))).to_have_count(0)
    expect(sidebar(page).get_by_role("link", name="Run of show")).to_have_count(0)

    for left in ("2 more tries", "1 more try"):
        type_key(page, "not-the-key")
        expect(page.get_by_text(f"That is not the presenter key ({left} before a wait).")).to_be_visible()
    type_key(page, "still-not-it")
    expect(page.get_by_text(re.compile(r"That is not the presenter key\. Wait 30 s"))).to_be_visible()
    type_key(page, PRESENTER_KEY)   # the right key, too soon: still refused
    expect(page.get_by_text(re.compile(r"Too many wrong keys from this session: try again in \d+ s"))).to_be_visible()
    assert root_font_px(page, settled_at=16) == 16
    expect(sidebar(page).get_by_text("Presenter mode")).to_have_count(0)
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_the_key_gives_the_controls_and_no_address_carries_the_session_credential(app_url, new_page, tmp_path):
    page = new_page()
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Train & Infer Lab", level=1)).to_be_visible(timeout=90_000)
    settle(page)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "til_session"]
    token = cookie["value"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find(token) == -1    # page scripts cannot read it

    type_key(page, PRESENTER_KEY)
    expect(sidebar(page).get_by_text("Presenter mode")).to_be_visible()
    assert root_font_px(page, settled_at=20) == 20
    seen: list[str] = []
    for name, path in (("Run of show", "present"), ("Class board", "board"), ("Train", "train"),
                       ("Compress & benchmark", "compress"), ("Lessons", "lessons")):
        sidebar(page).get_by_role("link", name=name, exact=True).click()
        page.wait_for_url(re.compile(rf"/{path}"))
        settle(page)
        expect(page.locator(EXCEPTION)).to_have_count(0)
        seen += addresses(page)
    page.screenshot(path=str(tmp_path / "presenter-lessons.png"), full_page=True)
    assert seen and not [a for a in seen if token in a or PRESENTER_KEY in a], [a for a in seen if token in a]
    assert not [a for a in seen if re.search(r"[?&]s=", a)]
    assert token not in page.content() and PRESENTER_KEY not in page.content()

    # The same session in a refreshed tab keeps the controls; another browser has none.
    page.reload()
    settle(page)
    expect(sidebar(page).get_by_text("Presenter mode")).to_be_visible()
    other = new_page()
    other.goto(page.url)
    settle(other)
    expect(sidebar(other).get_by_label("Presenter key", exact=True)).to_have_count(1)
    expect(sidebar(other).get_by_text("Presenter mode")).to_have_count(0)


def test_streamlits_internal_metrics_answer_404_and_health_still_answers(app_url):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{app_url}/_stcore/metrics", timeout=10)
    assert caught.value.code == 404
    with urllib.request.urlopen(f"{app_url}/_stcore/health", timeout=10) as answer:
        assert answer.status == 200


def test_without_the_entry_file_the_session_is_kept_in_browser_storage_and_still_never_in_the_address(
        new_page, tmp_path):
    """A host that runs dashboard/app.py directly sends no cookie: the token lives in the browser's localStorage
    (ui.browser_storage). A refresh still finds the session; another browser still gets its own."""
    from benchmarks.server import ROOT, start_server, stop_server, wait_healthy

    server = start_server(tmp_path, {"TRAIN_INFER_LAB_PRESENTER_KEY": PRESENTER_KEY},
                          script=ROOT / "dashboard" / "app.py")
    try:
        wait_healthy(server, 90)
        page = new_page()
        page.goto(server.url)
        expect(page.get_by_role("heading", name="Train & Infer Lab", level=1)).to_be_visible(timeout=90_000)
        settle(page)
        assert [c for c in page.context.cookies() if c["name"] == "til_session"] == []   # no middleware here
        token = page.evaluate("window.localStorage.getItem('til_session')")
        assert re.fullmatch(r"[0-9a-f]{32}", token or ""), token
        type_key(page, PRESENTER_KEY)   # something only this session has
        expect(sidebar(page).get_by_text("Presenter mode")).to_be_visible()
        page.reload()
        settle(page)
        expect(sidebar(page).get_by_text("Presenter mode")).to_be_visible()   # the same session after a refresh
        assert token not in page.url and not [a for a in addresses(page) if token in a]
        other = new_page()
        other.goto(page.url)
        settle(other)
        expect(sidebar(other).get_by_text("Presenter mode")).to_have_count(0)
        assert other.evaluate("window.localStorage.getItem('til_session')") != token
    finally:
        stop_server(server)
