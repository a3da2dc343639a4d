"""How the ``personas`` CLI's command groups build their parsers: commands and argument types.

Every command takes ``--json`` and names the coroutine that runs it (``handler``) and whether
it needs a Temporal connection (``temporal``); a group (``personas fleet ...``) is a
:class:`CommandGroup`.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import Any


def add_command(
    subparsers: Any, name: str, handler: Any, help: str, *, temporal: bool = True
) -> argparse.ArgumentParser:
    """Add the command ``name`` run by ``handler`` to ``subparsers``; returns its parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(name, help=help)
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    p.set_defaults(handler=handler, temporal=temporal)
    return p


class CommandGroup:
    """A named group of commands, ``personas NAME COMMAND ...``."""

    def __init__(self, subparsers: Any, name: str, help: str) -> None:
        """Add the group ``name`` to ``subparsers``; its command is in ``args.<name>_command``."""
        group = subparsers.add_parser(name, help=help)
        self.sub = group.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")

    def command(
        self, name: str, handler: Any, help: str, *, temporal: bool = True
    ) -> argparse.ArgumentParser:
        """Add the group's command ``name`` (see :func:`add_command`)."""
        return add_command(self.sub, name, handler, help, temporal=temporal)


def positive_float(value: str) -> float:
    """An argument that is a finite number > 0."""
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not x > 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return x


def non_negative_int(value: str) -> int:
    """An argument that is a whole number >= 0."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {n}")
    return n


def seconds(value: str) -> timedelta:
    """An argument that is a positive, finite number of seconds."""
    return timedelta(seconds=positive_float(value))


def aware_datetime(value: str) -> datetime:
    """An argument that is an ISO date/time with a time zone."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date/time") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} needs a time zone, e.g. +00:00")
    return parsed
