"""The developer docs over the real app: pages that work offline, an OpenAPI that is true.

`/docs` and `/redoc` must load everything from this server (no CDN, no web fonts), and
`/openapi.json` must say what the routes really do: how to send the key, which errors
come back and in which shape. Where the document makes a claim that a request can check
cheaply (this route wants a key, that one does not), the test asks the real route.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from engine.service import Service
from mcp_server.http import caller_from_request
from mcp_server.server import build_server
from tests.support.http import api_client

ERROR_REF = "#/components/schemas/ErrorResponse"
JS_TYPES = ("text/javascript", "application/javascript")
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


class _Links(HTMLParser):
    """Every `src=` and `href=` of a page, with its tag and `rel`."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, rel, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name):
                self.links.append((tag, found.get("rel") or "", found[name] or ""))


def links_of(html: str) -> list[tuple[str, str, str]]:
    parser = _Links()
    parser.feed(html)
    return parser.links


def same_origin(base: str, url: str) -> bool:
    a, b = urlsplit(base), urlsplit(urljoin(base, url))
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


async def test_docs_pages_load_everything_from_this_server(service: Service) -> None:
    async with api_client(service) as client:
        base = str(client.base_url)
        for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            r = await client.get(page)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            html = r.text
            # No address of another origin anywhere in the page: no CDN, no Google Fonts.
            assert not re.search(r"(https?:)?//[\w.-]", html), html
            assert "fonts.googleapis" not in html and "cdn." not in html
            found = links_of(html)
            assert any(url.endswith(script) for _, _, url in found), found
            for tag, rel, url in found:
                assert same_origin(base, url), f"{page} loads {url} from another origin"
                asset = await client.get(url)
                assert asset.status_code == 200, (page, url, asset.status_code)
                kind = asset.headers["content-type"]
                if tag == "script":
                    assert kind.startswith(JS_TYPES), (url, kind)
                    assert len(asset.content) > 100_000  # the real bundle, not a stub
                elif "stylesheet" in rel:
                    assert kind.startswith("text/css"), (url, kind)
                else:  # the favicon
                    assert "icon" in rel and kind.startswith("image/"), (url, rel, kind)
        # What the pages then fetch: the OpenAPI document, from this origin too.
        swagger = (await client.get("/docs")).text
        spec_url = re.search(r"url: '([^']+)'", swagger)
        assert spec_url and same_origin(base, spec_url.group(1))
        assert '"validatorUrl": null' in swagger  # no badge from validator.swagger.io
        redoc = (await client.get("/redoc")).text
        spec_url = re.search(r'spec-url="([^"]+)"', redoc)
        assert spec_url and same_origin(base, spec_url.group(1))
        assert (await client.get(spec_url.group(1))).status_code == 200
        # Only the bundled files are served as assets: never a path into the package.
        r = await client.get("/docs/assets/__init__.py")
        assert r.status_code == 404 and r.json()["success"] is False


async def test_openapi_documents_keys_and_errors_as_they_are(service: Service) -> None:
    async with api_client(service) as client:
        schema = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in str(schema)

    schemes = schema["components"]["securitySchemes"]
    bearer = [n for n, s in schemes.items() if s["type"] == "http" and s["scheme"] == "bearer"]
    api_key = [
        n
        for n, s in schemes.items()
        if s["type"] == "apiKey" and s["in"] == "header" and s["name"] == "X-API-Key"
    ]
    assert len(bearer) == 1 and len(api_key) == 1, schemes
    either = [{bearer[0]: []}, {api_key[0]: []}]

    error = schema["components"]["schemas"]["ErrorResponse"]
    assert set(error["required"]) == {"success", "error"}
    assert error["properties"]["success"].get("const") is False
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message"}

    for method, path, op in operations(schema):
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == ERROR_REF, (where, status)
        keyed = path.startswith("/api/")
        if keyed:
            assert op.get("security") == either, where
            assert {"401", "429"} <= set(responses), where
            assert "Retry-After" in responses["429"]["headers"], where
        else:
            assert not op.get("security"), where
        if "requestBody" in op:
            assert {"413", "422"} <= set(responses), where
        if "{" in path and keyed:
            assert "404" in responses, where
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
        assert not {"request_id", "requestId"} & set(names), where
        if "/jobs/{" in path or "/status/{" in path:
            assert names == ["job_id"], where

    paths = schema["paths"]
    assert not any("request_id" in p or "requestId" in p for p in paths)
    for submit in ("/api/v1/lipsync-video", "/api/v1/lipsync-image", "/api/v1/lipsync-image-multi"):
        assert "402" in paths[submit]["post"]["responses"], submit
    assert "402" in paths["/api/v1/lipsync/generate"]["post"]["responses"]
    admin = (("/api/v1/keys", "get"), ("/api/v1/keys", "post"), ("/api/v1/credits/grant", "post"))
    for path, method in admin:
        assert "403" in paths[path][method]["responses"], path
    assert {"403", "409"} <= set(paths["/api/v1/keys/{key_id}/revoke"]["post"]["responses"])
    assert "409" in paths["/api/v1/jobs/{job_id}/cancel"]["post"]["responses"]
    assert "413" in paths["/api/v1/files"]["post"]["responses"]

    served = paths["/files/{folder}/{name}"]["get"]["responses"]
    content = served["200"]["content"]
    assert {"video/mp4", "image/*", "audio/*"} <= set(content)
    assert all(c["schema"] == {"type": "string", "format": "binary"} for c in content.values())
    assert "404" in served


async def test_openapi_examples_and_description(service: Service) -> None:
    async with api_client(service) as client:
        schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]

    def examples(path: str) -> dict[str, Any]:
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]
        return {name: e["value"] for name, e in body["examples"].items()}

    # Seeds 000-003's /lipsync-image body (their Node.js example), as written there.
    assert {
        "webhook": "https://your-public-domain.com/webhooks/lipsync",
        "formState": {
            "image": "https://example.com/portrait.jpg",
            "audio": "https://example.com/speech.mp3",
            "resolution": "720p",
        },
    } in examples("/api/v1/lipsync-image").values()
    # Seed 004's /generate body, as written there.
    assert {
        "audioUrl": "https://example.com/audio.mp3",
        "videoUrl": "https://example.com/video.mp4",
        "settings": {"resolution": "720p", "fps": 25, "maxDuration": 60},
        "webhookUrl": "https://yourapp.com/webhook",
    } in examples("/api/v1/lipsync/generate").values()
    for path in ("/api/v1/lipsync-video", "/api/v1/lipsync-image-multi", "/api/v1/estimate"):
        assert examples(path), path

    # The MCP door, with the tools it really serves, on the docs page's description.
    description = schema["info"]["description"]
    assert "/mcp" in description and "streamable HTTP" in description
    tools = await build_server(service, caller_from_request).list_tools()
    assert tools and all(f"`{tool.name}`" in description for tool in tools)


async def test_documented_security_is_what_the_routes_do(service: Service) -> None:
    """Each operation the document says needs a key answers 401 without one, in the
    documented error shape; the ones it says are open do not ask for a key."""
    async with api_client(service) as client:
        schema = (await client.get("/openapi.json")).json()
        for method, path, op in operations(schema):
            url = re.sub(r"\{[^}]+\}", "nope", path)
            r = await client.request(method, url)
            if op.get("security"):
                assert r.status_code == 401, (method, path, r.status_code)
                body = r.json()
                assert body["success"] is False and body["error"]["code"] == "unauthorized"
                assert str(r.status_code) in op["responses"]
            else:
                assert r.status_code != 401, (method, path)
                assert str(r.status_code) in op["responses"], (method, path, r.status_code)


async def test_a_key_in_either_documented_scheme_opens_a_route(service: Service) -> None:
    """What Swagger's "Try it out" sends after "Authorize", in each scheme."""
    key = (await service.create_api_key("docs", 0)).secret
    async with api_client(service) as client:
        for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
            r = await client.get("/api/v1/balance", headers=headers)
            assert r.status_code == 200 and "x-ratelimit-remaining" in r.headers
            r = await client.get("/api/v1/jobs/nope", headers=headers)
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await client.post(
            "/api/v1/lipsync-image", headers={"X-API-Key": key}, json={"formState": {}}
        )
        assert r.status_code == 422
        assert set(r.json()) == {"success", "error"} and set(r.json()["error"]) == {
            "code",
            "message",
        }


async def test_served_files_answer_as_documented_for_any_name(service: Service) -> None:
    """`/files/{folder}/{name}` is in the document now: any name a client may send gets
    one of its documented answers, even one no file system could hold."""
    async with api_client(service) as client:
        schema = (await client.get("/openapi.json")).json()
        documented = schema["paths"]["/files/{folder}/{name}"]["get"]["responses"]
        for name in ("nope.mp4", "a" * 300, "é" * 200, ".hidden", "a%00b"):
            for folder in ("outputs", "uploads", "elsewhere"):
                r = await client.get(f"/files/{folder}/{name}")
                assert str(r.status_code) in documented, (folder, name, r.status_code)
                assert r.json()["error"]["code"] == "not_found"
