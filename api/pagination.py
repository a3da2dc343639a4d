"""Cursor pagination: an opaque cursor names where the next page starts."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from api.problems import Problem

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    """The ``cursor`` and ``limit`` of a list request."""

    cursor: str | None = None
    limit: int = 50


def page_params(
    cursor: str | None = Query(default=None, max_length=64, description="from next_cursor"),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> PageParams:
    """The pagination query parameters."""
    return PageParams(cursor=cursor, limit=limit)


#: A route parameter that is the request's pagination.
PageQuery = Annotated[PageParams, Depends(page_params)]


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
        if not text.startswith("o:"):
            raise ValueError(text)
        offset = int(text[2:])
        if offset < 0:
            raise ValueError(text)
        return offset
    except ValueError:
        raise Problem(422, "invalid request: cursor: not a cursor this API gave") from None


def paginate(items: Sequence[T], params: PageParams) -> Page[T]:
    """The page of ``items`` the parameters ask for."""
    start = _offset(params.cursor)
    end = start + params.limit
    more = end < len(items)
    cursor = base64.urlsafe_b64encode(f"o:{end}".encode()).decode().rstrip("=") if more else None
    return Page[T](items=list(items[start:end]), next_cursor=cursor)
