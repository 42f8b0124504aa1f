"""The operator's pages, for people marked admin: who has an account and how much they
hold, credit grants, every job, and how busy the renderers are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.errors import LipsyncError
from engine.service import SignedIn
from portal.web import CSRF_FIELD, csrf_ok, page, service_of, signed_in, to_sign_in

router = APIRouter(include_in_schema=False)
JOBS_SHOWN = 50


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_sign_in(request)
    return await _admin(request, who)


@router.post("/admin/grant", response_class=HTMLResponse)
async def grant(
    request: Request,
    account_id: Annotated[str, Form()],
    credits: Annotated[int, Form()],
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_sign_in(request)
    if not who.user.admin:
        return await _admin(request, who)
    if not csrf_ok(who, csrf):
        return await _admin(
            request, who, error="The form had expired; please try again.", status=400
        )
    try:
        await service_of(request).grant(
            account_id, credits, note=note.strip()[:200] or f"granted by {who.user.email}"
        )
    except LipsyncError as exc:
        return await _admin(request, who, error=exc.message, status=exc.http_status)
    return RedirectResponse("/admin", status_code=303)


async def _admin(
    request: Request, who: SignedIn, *, error: str = "", status: int = 200
) -> Response:
    if not who.user.admin:
        return page(request, "forbidden.html", who, status=403)
    service = service_of(request)
    people = []
    for person in await service.list_users():
        api = await service.get_account(person.api_account_id)
        spend = await service.get_account(person.user_account_id)
        people.append({"person": person, "api": api, "spend": spend})
    context = {
        "people": people,
        "jobs": await service.list_jobs(None, limit=JOBS_SHOWN),
        "health": await service.health(),
        "error": error,
    }
    return page(request, "admin.html", who, context, status=status)
