"""The room's HTTP guard (service.room_guard), driven as the ASGI server drives it: the session cookie on
HTML pages only, HttpOnly and SameSite=Lax, Secure over https and behind a proxy that says so; an existing
cookie is kept; Streamlit's internal metrics answer 404 before the app sees the request."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from dashboard.service.room_guard import COOKIE, RoomGuard


def call(path: str = "/", *, headers: dict[str, str] | None = None, scheme: str = "http",
         content_type: bytes = b"text/html; charset=utf-8"):
    seen: list[str] = []

    async def app(scope, receive, send):
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
        await send({"type": "http.response.body", "body": b"<html></html>"})

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    scope = {"type": "http", "path": path, "scheme": scheme,
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    # On a thread of its own: the browser tests' Playwright may hold an event loop on this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, RoomGuard(app)(scope, receive, send)).result()
    start = sent[0]
    cookies = [v.decode() for k, v in start.get("headers", ()) if k == b"set-cookie"]
    return start["status"], cookies, seen


def test_a_page_without_a_cookie_gets_an_httponly_samesite_cookie_with_a_fresh_token():
    status, (cookie,), _ = call("/train")
    name, _, rest = cookie.partition("=")
    token = rest.split(";")[0]
    assert status == 200 and name == COOKIE and len(token) == 32 and int(token, 16) >= 0
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert call("/train")[1][0] != cookie   # every new browser its own


def test_secure_over_https_and_behind_a_proxy_that_says_https():
    assert "; Secure" in call(scheme="https")[1][0]
    assert "; Secure" in call(headers={"X-Forwarded-Proto": "https"})[1][0]
    assert "; Secure" not in call(headers={"X-Forwarded-Proto": "http"})[1][0]


def test_a_browser_with_a_good_cookie_keeps_it_and_a_malformed_one_is_replaced():
    assert call(headers={"Cookie": f"other=1; {COOKIE}={'ab' * 16}"})[1] == []
    assert len(call(headers={"Cookie": f"{COOKIE}=../../etc"})[1]) == 1
    assert len(call(headers={"Cookie": f"{COOKIE}={'AB' * 16}"})[1]) == 1   # not lowercase hex: not ours


def test_only_html_pages_set_it_not_scripts_or_data():
    assert call("/static/js/main.js", content_type=b"application/javascript")[1] == []
    assert call("/_stcore/health", content_type=b"text/plain")[1] == []


def test_streamlits_metrics_answer_404_before_the_app_sees_them():
    for path in ("/_stcore/metrics", "/_stcore/metrics/", "/base/_stcore/metrics"):
        status, cookies, seen = call(path)
        assert status == 404 and seen == [] and cookies == []
    assert call("/_stcore/health", content_type=b"text/plain")[0] == 200
