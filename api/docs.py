"""The API's documentation, served entirely from this server, and its OpenAPI document.

`/docs` (Swagger UI) and `/redoc` (ReDoc) load their scripts and styles from the files the
`fastapi-offline` package bundles, served under `/docs/assets/`: no CDN, no web fonts, so
the pages work on a machine with no internet and leak no visit to a third party.

The OpenAPI document is FastAPI's, with two corrections: the `422` FastAPI adds to every
operation with parameters (its `HTTPValidationError`, a shape this API never answers) is
dropped, since each route lists the errors it really returns with the one error schema;
and every keyed operation's success says which `X-RateLimit-*` headers it carries.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

DOCS = "/docs"
REDOC = "/redoc"
ASSETS = f"{DOCS}/assets"
ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# ReDoc's bundle draws Redocly's logo from their CDN in its "API docs by Redocly" link, with
# no option to turn it off: the bundle is served with that address emptied (the image then
# fails to load and ReDoc leaves it out), so the page asks nothing of another origin.
REDOC_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
NO_LOGO = b'src:"data:,"'
# No third party: no validator badge (it would load from validator.swagger.io).
SWAGGER_PARAMETERS = {"validatorUrl": None}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
CACHED = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
RATE_HEADERS = {
    "X-RateLimit-Limit": "requests a minute this key may make in this bucket (read or write)",
    "X-RateLimit-Remaining": "requests left in this minute",
    "X-RateLimit-Reset": "seconds until the window restarts",
}


def install_docs(app: FastAPI) -> None:
    """`/docs`, `/redoc` and their assets; `app` must be made with `docs_url=None,
    redoc_url=None`."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS, include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @app.get(REDOC, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    @app.get(f"{ASSETS}/{{name}}", include_in_schema=False)
    async def asset(name: str) -> Response:
        media_type = ASSET_TYPES.get(name)
        if media_type is None:  # only the files named above, never a path
            raise HTTPException(404, "no such documentation asset")
        if name == "redoc.standalone.js":
            return Response(_redoc_bundle(), media_type=media_type, headers=CACHED)
        return FileResponse(
            ASSET_DIR / name,
            media_type=media_type,
            headers=CACHED,
        )

    generate = app.openapi  # FastAPI's own, which caches in `app.openapi_schema`

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = corrected(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


@functools.cache
def _redoc_bundle() -> bytes:
    bundle = (ASSET_DIR / "redoc.standalone.js").read_bytes()
    return bundle.replace(REDOC_LOGO, NO_LOGO)


def corrected(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document, told the truth: see the module's docstring."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses: dict[str, Any] = operation.get("responses", {})
            fastapi_422 = responses.get("422", {})
            ref = fastapi_422.get("content", {}).get("application/json", {}).get("schema", {})
            if ref.get("$ref") == _FASTAPI_422:
                del responses["422"]
            if operation.get("security"):
                for status, response in responses.items():
                    if status.startswith("2"):
                        headers = response.setdefault("headers", {})
                        for name, description in RATE_HEADERS.items():
                            headers.setdefault(
                                name, {"description": description, "schema": {"type": "integer"}}
                            )
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema
