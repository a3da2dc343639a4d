"""``personas fleet ...``: learn fleet personas, adapt fleets, A/B test, use the marketplace.

Wiring (in clients/cli.py ``build_parser``): ``add_fleet_commands(sub)``. Handlers take the CLI
context (``personas()`` returning a connected PersonaClient, and ``emit(data, text)``) and the
parsed arguments; ``temporal=True`` is set on commands that talk to Temporal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from activities.fleet.market import Market, MarketError
from clients.api import PersonaError
from clients.cli_args import CommandGroup
from clients.fleet_api import FleetClient, config_of, learn_persona, scenario_of
from personas.fleet.context import REGIONS
from personas.fleet.patterns import PATTERNS
from personas.fleet.persona import summary
from personas.fleet.simulator import Scenario
from workflows.fleet_adaptation import FleetView


async def _client(ctx: Any) -> FleetClient:
    personas = await ctx.personas()
    return FleetClient(personas.client, personas.store, personas.task_queue)


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise PersonaError(f"{what} must be JSON, got {text[:60]!r}") from None


def view_text(v: FleetView) -> str:
    """A fleet's state as readable lines."""
    lines = [
        f"fleet {v.fleet_id}: {v.status} {'(shadow)' if v.shadow else ''}",
        f"  current {v.current.key()}  optimum {v.optimum.key()}  deviation {v.deviation:.2f}",
        f"  risk {v.risk_tolerance}  rounds {v.rounds}  persona v{v.persona_version}",
        f"  context {v.context.key()}  persona learned for {v.persona_context.key()}",
    ]
    lines += [
        f"  {c.status}: {c.from_config.key()} -> {c.to_config.key()} {c.reason}" for c in v.changes
    ]
    lines += [f"  error: {e}" for e in v.errors]
    return "\n".join(lines)


def scenario_from(args: argparse.Namespace) -> Scenario:
    """The scenario (load and context) of the command's options."""
    return scenario_of(
        pattern=args.pattern,
        rate_rps=args.rate,
        hour=args.hour,
        region=args.region,
        campaign=args.campaign,
    )


async def _learn(ctx: Any, args: argparse.Namespace) -> None:
    scenario = scenario_from(args)
    persona = await asyncio.to_thread(
        learn_persona,
        args.fleet,
        scenario,
        args.intent,
        rounds=args.rounds,
        seed=args.seed,
        author=args.author,
    )
    ctx.emit(persona, json.dumps(summary(persona), indent=2))


async def _start(ctx: Any, args: argparse.Namespace) -> None:
    scenario = scenario_from(args)
    persona = await asyncio.to_thread(
        learn_persona, args.fleet, scenario, args.intent, rounds=args.rounds, seed=args.seed
    )
    fid = await (await _client(ctx)).start(
        fleet_id=args.fleet,
        entity_id=args.entity,
        persona=persona,
        current=config_of(_json(args.current, "--current")),
        risk_tolerance=args.risk,
        cadence_s=args.cadence,
        shadow=args.shadow,
        scenario=scenario,
    )
    ctx.emit({"fleet_id": fid}, fid)


async def _show(ctx: Any, args: argparse.Namespace) -> None:
    v = await (await _client(ctx)).view(args.fleet)
    ctx.emit(v, view_text(v))


async def _risk(ctx: Any, args: argparse.Namespace) -> None:
    r = await (await _client(ctx)).set_risk(args.fleet, args.tolerance)
    ctx.emit({"risk_tolerance": r}, f"risk tolerance {r}")


async def _shadow(ctx: Any, args: argparse.Namespace) -> None:
    s = await (await _client(ctx)).set_shadow(args.fleet, args.mode == "on")
    ctx.emit({"shadow": s}, f"shadow {'on' if s else 'off'}")


async def _context(ctx: Any, args: argparse.Namespace) -> None:
    context = scenario_from(args).context()
    version = await (await _client(ctx)).set_context(args.fleet, context)
    ctx.emit(
        {"context": context.model_dump(), "persona_version": version},
        f"context {context.key()}; persona v{version} relearned for it",
    )


async def _stop(ctx: Any, args: argparse.Namespace) -> None:
    await (await _client(ctx)).stop(args.fleet)
    ctx.emit({"stopped": True}, "stop requested")


async def _ab(ctx: Any, args: argparse.Namespace) -> None:
    variants = _json(args.variants, "variants")
    if not isinstance(variants, dict):
        raise PersonaError(
            'variants must be a JSON object, e.g. \'{"a": {}, "b": {"replicas": 3}}\''
        )
    r = await (await _client(ctx)).ab_test(
        ab_id=args.id,
        fleet_id=args.fleet,
        variants=variants,
        explore=args.explore,
        scenario=scenario_from(args),
    )
    ctx.emit(r, f"winner {r.winner} after {r.rounds} round(s); P(best) {r.probabilities}")


async def _search(ctx: Any, args: argparse.Namespace) -> None:
    personas = await ctx.personas()
    try:
        found = await asyncio.to_thread(Market(personas.store).search, args.text, args.kind)
    except MarketError as err:
        raise PersonaError(str(err)) from None
    lines = [
        f"{f['name']} v{f['version']} {f['kind']} by {f['publisher']} rating {f['rating']}"
        for f in found
    ]
    ctx.emit(found, "\n".join(lines) or "nothing found")


async def _deploy(ctx: Any, args: argparse.Namespace) -> None:
    version = await (await _client(ctx)).deploy_from_market(args.fleet, args.name)
    ctx.emit({"persona_version": version}, f"adopted {args.name} as persona v{version}")


def add_fleet_commands(subparsers: Any) -> None:
    """Add ``fleet learn|start|show|risk|shadow|context|stop|ab|search|deploy`` to a CLI."""
    command = CommandGroup(
        subparsers, "fleet", "fleet personas: learn, adapt, A/B test, share"
    ).command

    def situation(p: argparse.ArgumentParser) -> None:
        p.add_argument("--pattern", default="steady", choices=PATTERNS)
        p.add_argument("--rate", type=float, default=150.0, metavar="RPS")
        p.add_argument("--hour", type=int, default=14, help="hour of day, 0-23")
        p.add_argument("--region", default="local", choices=REGIONS)
        p.add_argument("--campaign", action="store_true", help="a marketing campaign runs")

    def learning(p: argparse.ArgumentParser) -> None:
        situation(p)
        p.add_argument(
            "--intent", action="append", default=[], help='e.g. "optimise for mobile users"'
        )
        p.add_argument("--rounds", type=int, default=150)
        p.add_argument("--seed", type=int, default=0)

    p = command("learn", _learn, "learn a persona in the simulator and print it", temporal=False)
    p.add_argument("fleet")
    p.add_argument("--author", default="cli")
    learning(p)
    p = command("start", _start, "learn a persona and start adapting a fleet")
    p.add_argument("fleet")
    p.add_argument("--entity", required=True)
    p.add_argument("--current", default="{}", metavar="JSON", help="the fleet's configuration now")
    p.add_argument("--risk", type=float, default=0.3)
    p.add_argument("--cadence", type=float, default=60.0, metavar="S")
    p.add_argument("--shadow", action="store_true")
    learning(p)
    command("show", _show, "a fleet's state and changes").add_argument("fleet")
    p = command("risk", _risk, "set the risk tolerance in [0, 1]")
    p.add_argument("fleet")
    p.add_argument("tolerance", type=float)
    p = command("shadow", _shadow, "shadow mode on or off")
    p.add_argument("fleet")
    p.add_argument("mode", choices=["on", "off"])
    p = command("context", _context, "move a fleet to a new context and relearn its persona")
    p.add_argument("fleet")
    situation(p)
    command("stop", _stop, "stop adapting a fleet").add_argument("fleet")
    p = command("ab", _ab, "A/B test configurations (JSON object of name -> configuration)")
    p.add_argument("fleet")
    p.add_argument("variants", metavar="JSON")
    p.add_argument("--id", required=True)
    p.add_argument("--explore", type=int, default=0, help="genetic-algorithm candidates to add")
    situation(p)
    p = command("search", _search, "search the persona marketplace", temporal=False)
    p.add_argument("text", nargs="?", default="")
    p.add_argument("--kind")
    p = command("deploy", _deploy, "vet a marketplace persona and adopt it for a fleet")
    p.add_argument("fleet")
    p.add_argument("name")
