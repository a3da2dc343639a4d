"""The ``personas fleet`` commands parse, and ``fleet learn`` prints a persona."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from clients.api import PersonaError
from clients.fleet_cli import add_fleet_commands


class Context:
    """The CLI context's output half (learn needs no Temporal)."""

    def __init__(self) -> None:
        self.out: list[tuple[Any, str]] = []

    def emit(self, data: Any, text: str) -> None:
        self.out.append((data, text))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="personas")
    add_fleet_commands(p.add_subparsers(dest="command"))
    return p


async def test_learn_prints_a_versioned_persona() -> None:
    args = parser().parse_args(
        [
            "fleet",
            "learn",
            "web",
            "--pattern",
            "mobile",
            "--intent",
            "optimise for mobile users",
            "--rounds",
            "40",
            "--author",
            "ops",
        ]
    )
    assert args.temporal is False
    ctx = Context()
    await args.handler(ctx, args)
    persona, text = ctx.out[0]
    shown = json.loads(text)
    assert shown["author"] == "ops"
    assert shown["version"] == 1
    assert persona.intents == ["optimise for mobile users"]
    assert set(shown["optimum"]) == {"cpu_share", "cache", "balancer", "replicas"}


async def test_unknown_intents_are_refused_in_one_line() -> None:
    args = parser().parse_args(["fleet", "learn", "web", "--intent", "go faster please"])
    with pytest.raises(PersonaError, match="unknown intent 'go faster please'"):
        await args.handler(Context(), args)


def test_commands_parse() -> None:
    p = parser()
    assert p.parse_args(["fleet", "risk", "web", "0.5"]).tolerance == 0.5
    assert p.parse_args(["fleet", "shadow", "web", "on"]).mode == "on"
    assert p.parse_args(["fleet", "ab", "web", "{}", "--id", "x", "--explore", "2"]).explore == 2
    with pytest.raises(SystemExit):
        p.parse_args(["fleet", "shadow", "web", "maybe"])


async def test_learn_records_the_context_it_learned_for() -> None:
    args = parser().parse_args(
        ["fleet", "learn", "web", "--hour", "20", "--region", "us", "--campaign", "--rounds", "30"]
    )
    ctx = Context()
    await args.handler(ctx, args)
    persona, text = ctx.out[0]
    assert json.loads(text)["context"] == {
        "pattern": "steady",
        "hour": 20,
        "region": "us",
        "campaign": True,
    }
    assert persona.context.key() == "steady-evening-us-campaign"
    assert persona.input_sources == ["simulator:steady-evening-us-campaign@150rps"]


async def test_bad_contexts_are_refused() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["fleet", "learn", "web", "--region", "mars"])
    args = parser().parse_args(["fleet", "learn", "web", "--hour", "25"])
    with pytest.raises(PersonaError, match="invalid scenario: hour"):
        await args.handler(Context(), args)
    moved = parser().parse_args(["fleet", "context", "web", "--campaign", "--hour", "9"])
    assert (moved.campaign, moved.hour, moved.temporal) == (True, 9, True)
