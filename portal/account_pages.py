"""The portal's pages for a person's account: home, sign-up and sign-in, API keys, credits.

Each page reads like what the person does: a GET shows, a POST (with its CSRF token)
changes and then shows the result, or the same form again with what went wrong.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.errors import LipsyncError
from engine.ratelimit import RateLimited
from engine.service import SignedIn
from engine.vocabulary import Resolution
from portal.charts import daily_bars
from portal.web import (
    CSRF_FIELD,
    csrf_ok,
    end_session,
    form_token_ok,
    page,
    safe_next,
    service_of,
    signed_in,
    signed_out_page,
    start_session,
    to_sign_in,
)

router = APIRouter(include_in_schema=False)
FORM_EXPIRED = "The form had expired; please try again."
LEDGER_ROWS = 20
CHART_DAYS = 30

Text = Annotated[str, Form()]
# Missing tokens default to "": refused like a wrong one (400 and the form), not a 422.
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    service = service_of(request)
    prices = service.price_list()
    rows = [
        (resolution, prices.credits_per_second[resolution], prices.seconds_for(100, resolution))
        for resolution in Resolution
    ]
    return page(
        request,
        "home.html",
        await signed_in(request),
        {"prices": rows, "min_seconds": prices.min_seconds, "signup": _signup_open(request)},
    )


# -- signing up, in and out ----------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse)
async def signup_form(request: Request) -> Response:
    if not _signup_open(request):
        return signed_out_page(request, "signup.html", {"closed": True}, status=403)
    return signed_out_page(request, "signup.html")


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request, email: Text, password: Text, form_token: Text = "") -> Response:
    if not form_token_ok(request, form_token):
        return signed_out_page(request, "signup.html", {"error": FORM_EXPIRED}, status=400)
    service = service_of(request)
    try:
        await service.sign_up(email, password)
        who = await service.sign_in(email, password, client=_client(request))
    except LipsyncError as exc:
        context = {"error": exc.message, "email": email, "closed": exc.http_status == 403}
        return signed_out_page(request, "signup.html", context, status=exc.http_status)
    response = RedirectResponse("/playground", status_code=303)
    start_session(request, response, who)
    return response


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request, next: str = "") -> Response:
    return signed_out_page(
        request, "signin.html", {"next": safe_next(next), "signup": _signup_open(request)}
    )


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request, email: Text, password: Text, form_token: Text = "", next: Text = ""
) -> Response:
    context = {"next": safe_next(next), "email": email, "signup": _signup_open(request)}
    if not form_token_ok(request, form_token):
        return signed_out_page(
            request, "signin.html", {**context, "error": FORM_EXPIRED}, status=400
        )
    try:
        who = await service_of(request).sign_in(email, password, client=_client(request))
    except LipsyncError as exc:
        response = signed_out_page(
            request, "signin.html", {**context, "error": exc.message}, status=exc.http_status
        )
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(request, response, who)
    return response


@router.post("/signout")
async def signout(request: Request, csrf: Csrf = "") -> Response:
    who = await signed_in(request)
    if who is not None and csrf_ok(who, csrf):
        await service_of(request).sign_out(who.token)
    response = RedirectResponse("/", status_code=303)
    end_session(response)
    return response


# -- API keys ----------------------------------------------------------------------------


@router.get("/keys", response_class=HTMLResponse)
async def keys_page(request: Request) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_sign_in(request)
    return await _keys(request, who)


@router.post("/keys", response_class=HTMLResponse)
async def create_key(request: Request, csrf: Csrf = "", name: Text = "") -> Response:
    who = await signed_in(request)
    if who is None:
        return to_sign_in(request)
    if not csrf_ok(who, csrf):
        return await _keys(request, who, error=FORM_EXPIRED, status=400)
    service = service_of(request)
    new = await service.create_person_key(who.user, name)
    made = {"key": new.key, "secret": new.secret, "whsec": service.webhook_secret(new.key.id)}
    return await _keys(request, who, made=made, status=201)


@router.post("/keys/{key_id}/revoke", response_class=HTMLResponse)
async def revoke_key(request: Request, key_id: str, csrf: Csrf = "") -> Response:
    who = await signed_in(request)
    if who is None:
        return to_sign_in(request)
    if not csrf_ok(who, csrf):
        return await _keys(request, who, error=FORM_EXPIRED, status=400)
    try:
        await service_of(request).revoke_person_key(who.user, key_id)
    except LipsyncError as exc:
        return await _keys(request, who, error=exc.message, status=exc.http_status)
    return RedirectResponse("/keys", status_code=303)


async def _keys(
    request: Request,
    who: SignedIn,
    *,
    made: dict | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    service = service_of(request)
    person = who.user
    keys = await service.person_keys(person)
    account = await service.get_account(person.api_account_id)
    context = {
        "keys": keys,
        "made": made,
        "error": error,
        "balance": account.balance,
        "base_url": service.settings.base_url,
    }
    return page(request, "keys.html", who, context, status=status)


# -- credits -----------------------------------------------------------------------------


@router.get("/credits", response_class=HTMLResponse)
async def credits_page(request: Request) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_sign_in(request)
    service = service_of(request)
    balances = []
    for title, account_id, note in (
        ("API credits", who.user.api_account_id, "spent by your API keys"),
        ("User credits", who.user.user_account_id, "spent in the playground"),
    ):
        account = await service.get_account(account_id)
        spent = await service.spent_per_day(account_id, days=CHART_DAYS)
        balances.append(
            {
                "title": title,
                "note": note,
                "balance": account.balance,
                "entries": await service.ledger_entries(account_id, limit=LEDGER_ROWS),
                "chart": daily_bars(spent, days=CHART_DAYS),
                "spent": sum(amount for _, amount in spent),
            }
        )
    return page(request, "credits.html", who, {"balances": balances, "days": CHART_DAYS})


def _signup_open(request: Request) -> bool:
    return service_of(request).settings.portal.signup == "open"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
