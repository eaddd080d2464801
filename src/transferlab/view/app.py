"""The viewer's ASGI application (Starlette): read-only pages, strict headers, no script.

Every route answers GET (and HEAD) only; anything else gets 405. Templates are Jinja2 with
autoescape on, so model output renders as text. Each response carries a Content-Security-Policy
that allows no script at all (the pages need none: filters are plain forms, thinking folds with
``<details>``), styles only from the app's own static folder, and no framing. Requests must name
the address the server was started on (a ``Host`` check against DNS rebinding).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transferlab.view import render
from transferlab.view.drift import DriftIndex
from transferlab.view.queries import ViewStore
from transferlab.view.summary import OverviewCache

HERE = Path(__file__).resolve().parent

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Pure ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def templates() -> Jinja2Templates:
    """The Jinja2 templates with autoescape forced on and the render helpers as filters."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=render.pct, signed=render.signed)
    env.globals.update(
        interval=render.interval, highlight=render.highlight, verdict_tags=render.verdict_tags, settings_label=render.settings_label, group_of=render.group_of
    )
    return Jinja2Templates(env=env)


def allowed_hosts(host: str) -> list[str]:
    """Host names a request may name: the bound address, plus the loopback names when local."""
    hosts = {host, "127.0.0.1", "localhost", "[::1]"} if host in ("127.0.0.1", "localhost", "::1") else {host}
    return sorted(hosts) if host not in ("0.0.0.0", "::") else ["*"]


def create_app(
    store: str | Path, *, drift: str | Path | None = None, host: str = "127.0.0.1", n_resamples: int = 2000, pair: tuple[str, str] | None = None
) -> Starlette:
    """The viewer of ``store`` (opened read-only), with token drift from ``drift`` where given, and
    ``pair`` (base, tuned: names or keys) compared as a study would be, for a store without one."""
    from transferlab.view import routes

    vs = ViewStore(store)
    app = Starlette(
        routes=[
            Route("/", routes.overview, methods=["GET"]),
            Route("/samples", routes.samples, methods=["GET"]),
            Route("/item", routes.item, methods=["GET"]),
            Route("/changes", routes.changes, methods=["GET"]),
            Route("/healthz", routes.healthz, methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders), Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(host))],
        exception_handlers={404: routes.not_found, 400: routes.bad_request},
    )
    named: list[dict[str, Any]] = []
    if pair is not None:  # checked now: an unknown model is one line at start, not an error page later
        from transferlab.transfer.from_store import resolve_model_key

        base_key, tuned_key = (resolve_model_key(vs.store, name) for name in pair)
        named.append({"study": "", "tuned": pair[1], "tuned_key": tuned_key, "training": "", "base": pair[0], "base_key": base_key})
    state: dict[str, Any] = {
        "named_pairs": named,
        "vs": vs,
        "cache": OverviewCache(vs, n_resamples=n_resamples, pair=pair),
        "drift": DriftIndex.load(drift),
        "templates": templates(),
    }
    for name, value in state.items():
        setattr(app.state, name, value)
    app.state.cache.get()  # start the overview's numbers at once
    return app
