"""Signing in to the console with an API key: a cookie names a server-side session.

The cookie holds a random token, never the key; the key is verified again on every page, so
a revoked or expired key ends its sessions at once. Cookies are HttpOnly and SameSite=Strict
(no other site can make the browser post a form with them).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from activities.api_access.keys import MAX_SECRET, KeyRefused
from api.auth import Principal
from api.console.render import page
from api.services import services

COOKIE = "personas_console"
#: Seconds a console session lasts without use.
IDLE_S = 8 * 3600.0
#: Sessions kept at most (the least recently used are forgotten first).
MAX_SESSIONS = 10_000

router = APIRouter(prefix="/console")


class SignInNeeded(Exception):
    """The page needs a signed-in caller (answered with a redirect to the sign-in page)."""


@dataclass
class ConsoleSessions:
    """Tokens of signed-in browsers and the key each signed in with, bounded and idle-timed."""

    idle_s: float = IDLE_S
    limit: int = MAX_SESSIONS
    _by_token: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)

    def open(self, secret: str) -> str:
        """A new session for ``secret``; its token."""
        token = secrets.token_urlsafe(32)
        self._by_token[token] = (secret, time.monotonic())
        while len(self._by_token) > self.limit:
            self._by_token.popitem(last=False)
        return token

    def secret(self, token: str) -> str | None:
        """The key of a live session (its idle time restarts), or None."""
        found = self._by_token.get(token)
        if found is None or time.monotonic() - found[1] > self.idle_s:
            self._by_token.pop(token, None)
            return None
        self._by_token[token] = (found[0], time.monotonic())
        self._by_token.move_to_end(token)
        return found[0]

    def close(self, token: str) -> None:
        """Forget a session."""
        self._by_token.pop(token, None)


async def _verified(request: Request, secret: str) -> Principal:
    info = await asyncio.to_thread(services(request).keys.verify, secret)
    return Principal(key_id=info.key_id, entity_id=info.entity_id, admin=info.admin)


async def console_principal(request: Request) -> Principal:
    """The signed-in caller of a page (SignInNeeded when there is none or its key is dead)."""
    sessions: ConsoleSessions = request.app.state.console_sessions
    secret = sessions.secret(request.cookies.get(COOKIE, "")[:64])
    if secret is None:
        raise SignInNeeded
    try:
        who = await _verified(request, secret)
    except KeyRefused:
        sessions.close(request.cookies.get(COOKIE, ""))
        raise SignInNeeded from None
    request.state.console_who = who
    return who


Who = Depends(console_principal)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    """The sign-in form."""
    return page(request, "login.html")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, api_key: str = Form(max_length=MAX_SECRET)) -> Response:
    """Sign in with an API key; on to the personas page."""
    try:
        await _verified(request, api_key.strip())
    except KeyRefused as err:
        return page(request, "login.html", 401, error=str(err))
    token = request.app.state.console_sessions.open(api_key.strip())
    response = RedirectResponse("/console/personas", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/console")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session is forgotten."""
    request.app.state.console_sessions.close(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("")
async def home() -> Response:
    """The console's front page is the personas page."""
    return RedirectResponse("/console/personas", status_code=303)
