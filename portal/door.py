"""The portal as a door: its routes and its static files, for `cli` to put beside the
REST and MCP doors on one app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from portal import account_pages, admin_pages, playground

STATIC_PATH = "/static"
UPLOAD_PATHS = (playground.UPLOAD_PATH,)


def router() -> APIRouter:
    combined = APIRouter(include_in_schema=False)
    for part in (account_pages.router, playground.router, admin_pages.router):
        combined.include_router(part)
    return combined


def static_files() -> StaticFiles:
    return StaticFiles(directory=Path(__file__).parent / "static")
