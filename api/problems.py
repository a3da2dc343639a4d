"""RFC 9457 problem details for every error, with the clients' one-line reasons."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from activities.api_access.idempotency import IdempotencyConflict
from activities.api_access.keys import KeyRefused
from activities.store import StoreError, UnknownEntity, UnknownPersona
from clients.api import PersonaError, one_line

MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_NOT_FOUND = (
    "unknown ",
    "no room ",
    " is not running",
    " has no life yet",
    " has no funding cycle",
    " not found",
)
_CONFLICT = (" already has ", " is stopped", " has ended", "no longer valid")


class ProblemDetail(BaseModel):
    """The body of every error response (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class Problem(Exception):
    """An error the API answers with a problem document."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(one_line(detail))
        self.status = status
        self.detail = one_line(detail)
        self.headers = headers or {}


def status_of(message: str) -> int:
    """The HTTP status of a client's refusal, read from its one-line reason."""
    lowered = message.lower()
    if lowered.startswith("unknown ") or any(m in lowered for m in _NOT_FOUND):
        return 404
    if any(m in lowered for m in _CONFLICT):
        return 409
    return 422


def problem_response(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = ProblemDetail(
        type="about:blank",
        title=TITLES.get(status, "Error"),
        status=status,
        detail=one_line(detail),
        instance=request.url.path,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=MEDIA_TYPE
    )


def _validation_line(err: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    parts, errors = [], []
    for e in err.errors()[:20]:
        where = ".".join(str(p)[:40] for p in e.get("loc", ()) if p != "body") or "input"
        msg = str(e.get("msg", "")).removeprefix("Value error, ")[:200]
        parts.append(f"{where}: {msg}")
        errors.append({"loc": [str(p)[:40] for p in e.get("loc", ())], "msg": msg})
    return "invalid request: " + "; ".join(parts), errors


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, exc.headers)

    @app.exception_handler(PersonaError)
    async def _refusal(request: Request, exc: PersonaError) -> JSONResponse:
        return problem_response(request, status_of(str(exc)), str(exc))

    @app.exception_handler(UnknownPersona)
    @app.exception_handler(UnknownEntity)
    async def _unknown(request: Request, exc: StoreError) -> JSONResponse:
        return problem_response(request, 404, str(exc))

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        return problem_response(request, status_of(str(exc)), str(exc))

    @app.exception_handler(KeyRefused)
    async def _key(request: Request, exc: KeyRefused) -> JSONResponse:
        return problem_response(request, status_of(str(exc)), str(exc))

    @app.exception_handler(IdempotencyConflict)
    async def _idem(request: Request, exc: IdempotencyConflict) -> JSONResponse:
        return problem_response(request, 409, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        line, errors = _validation_line(exc)
        return problem_response(request, 422, line, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        headers = dict(exc.headers or {})
        return problem_response(request, exc.status_code, detail, headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, 500, f"{exc.__class__.__name__}: {exc}")


#: The problem responses every route may give, for the OpenAPI document.
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDetail, "description": TITLES[status]}
    for status in (401, 403, 404, 409, 422)
}
