"""Errors on console pages as pages: a sign-in redirect, and refusals (403, 404, 409, 422) as
an HTML notice with the same one-line reason the REST API gives in its problem document."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response

from api.console.auth import SignInNeeded
from api.console.render import page
from api.problems import Problem
from clients.api import PersonaError

PREFIX = "/console"
Handler = Callable[[Request, Exception], Awaitable[Response]]


async def _sign_in(request: Request, _: Exception) -> Response:
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": f"{PREFIX}/login"})
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


def _as_page(api_handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        answer = await api_handler(request, exc)
        if not request.url.path.startswith(PREFIX + "/"):
            return answer
        detail = str(json.loads(bytes(answer.body)).get("detail", ""))
        template = "notice.html" if request.headers.get("HX-Request") else "error.html"
        return page(request, template, answer.status_code, error=detail)

    return handle


def install(app: FastAPI) -> None:
    """Wrap the API's problem handlers so console paths answer with pages."""
    app.add_exception_handler(SignInNeeded, _sign_in)
    for kind in (Problem, PersonaError, RequestValidationError):
        app.add_exception_handler(kind, _as_page(cast(Handler, app.exception_handlers[kind])))
