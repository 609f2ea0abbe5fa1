"""The app's HTTP guard (ASGI middleware, no Streamlit in it), mounted by dashboard/entry.py.

1. Every page's HTML response gives a browser that has none a session cookie: a random token,
   HttpOnly (page scripts cannot read it), SameSite=Lax (other sites' requests do not carry it),
   Secure when the request came over https (directly or, behind a proxy, X-Forwarded-Proto). The
   app reads it with st.context.cookies (ui.session): a refresh or a second tab of the same browser
   finds the same session; another browser, or a link pasted in a chat, does not. No address
   carries it.
2. `/_stcore/metrics` answers 404: Streamlit serves its internal metrics there to anyone, and no
   config option closes it.
"""

from __future__ import annotations

import secrets

COOKIE = "til_session"   # read by ui.session
CLOSED_PATHS = ("/_stcore/metrics",)


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def has_session_cookie(cookie_header: str) -> bool:
    """Whether a Cookie header carries a session token of the right form."""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and valid_token(value):
            return True
    return False


def valid_token(value: str | None) -> bool:
    """32 hex characters, as sessions.new_token makes them: anything else is not ours."""
    return bool(value) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def over_https(scope) -> bool:
    forwarded = _header(scope, b"x-forwarded-proto").split(",")[0].strip().lower()
    return scope.get("scheme") == "https" or forwarded == "https"


def cookie_header(token: str, secure: bool) -> bytes:
    # No Max-Age: a browser session cookie, gone when the browser closes; the server forgets an
    # abandoned session after settings' session_keep_minutes anyway.
    return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{'; Secure' if secure else ''}".encode("latin-1")


class RoomGuard:
    """ASGI middleware: the session cookie on HTML pages, 404 on Streamlit's internal paths."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "").rstrip("/")
        if path.endswith(CLOSED_PATHS):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"Not found"})
            return
        if has_session_cookie(_header(scope, b"cookie")):
            await self.app(scope, receive, send)
            return
        token, secure = secrets.token_hex(16), over_https(scope)

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                kind = next((v for k, v in message.get("headers", ()) if k.lower() == b"content-type"), b"")
                if kind.startswith(b"text/html"):
                    message = {**message, "headers": [*message.get("headers", ()),
                                                      (b"set-cookie", cookie_header(token, secure))]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
