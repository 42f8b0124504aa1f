"""What every portal page shares: who is signed in, CSRF checks, and rendering.

Signed-in browsers hold the session token in an HttpOnly, SameSite=Lax cookie (Secure when
the public address is https); every form carries the session's CSRF token and every POST
is checked against it. Forms shown before anyone is signed in (sign-in, sign-up) use a
double-submit token instead: a random cookie that the form repeats, which a page on another
site can make the browser send but cannot read, so it cannot forge a sign-in either.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from engine.service import Service, SignedIn

SESSION_COOKIE = "lipsync_session"
FORM_COOKIE = "lipsync_form"  # the double-submit token of the signed-out forms
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["when"] = _when


def service_of(request: Request) -> Service:
    return request.app.state.service


def secure_cookies(request: Request) -> bool:
    return service_of(request).settings.base_url.startswith("https://")


async def signed_in(request: Request) -> SignedIn | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    return await service_of(request).signed_in(token) if token else None


def to_sign_in(request: Request) -> RedirectResponse:
    """Off to the sign-in page, coming back here afterwards."""
    return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path on this site: `//evil.example` or a full URL would be an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/playground"


def csrf_ok(who: SignedIn, presented: str | None) -> bool:
    return who.session.csrf_ok(presented or "")


def form_token(request: Request) -> str:
    """The double-submit token for a signed-out form: the cookie's, or a new one."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)


def form_token_ok(request: Request, presented: str | None) -> bool:
    cookie = request.cookies.get(FORM_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, presented or "")


def page(
    request: Request,
    name: str,
    who: SignedIn | None,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """A page of the portal, with what the layout needs (who, their CSRF token)."""
    values: dict[str, Any] = {
        "who": who,
        "csrf": who.session.csrf_token if who is not None else "",
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, values, status_code=status)
    _no_store(response)
    return response


def signed_out_page(
    request: Request, name: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """A sign-in or sign-up page, with its double-submit token set as a cookie."""
    token = form_token(request)
    response = page(request, name, None, {"form_token": token, **(context or {})}, status=status)
    response.set_cookie(
        FORM_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/",
    )
    return response


def start_session(request: Request, response: Response, who: SignedIn) -> None:
    lifetime = service_of(request).settings.portal.session_days * 86400
    response.set_cookie(
        SESSION_COOKIE,
        who.token,
        max_age=int(lifetime),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    response.delete_cookie(FORM_COOKIE, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def _no_store(response: Response) -> None:
    # Pages show balances and freshly made keys: never keep them in a shared cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
