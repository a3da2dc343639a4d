"""The CP-SAT model of a proposal round: k distinct proposals, or an explained infeasibility.

One boolean per instance type and per storage layout (exactly one of each), a tenancy and an
ingress literal; cost is linear in them. Requirements that concern one type or one layout on
their own (family, region, capacity, encryption ...) prune the candidates before the model is
built; the rest (cost, tenancy, ingress, local-disk IOPS) are model constraints. Search is
single-threaded with a fixed seed and a deterministic time limit, so a retry gives the same
answer.

When nothing is feasible the model is rebuilt over the whole catalog with one assumption
literal per requirement: CP-SAT's core of failed assumptions is reduced to a minimal one by
deletion, and each member's relaxation is priced by solving without it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from activities.instance.solver_rules import (
    forced_tenancy,
    layout_test,
    representatives,
    trade_off,
    type_test,
    undominated,
)
from personas.instance.catalog import (
    HOURS_PER_MONTH,
    Catalog,
    InstanceType,
    StorageLayout,
    fits_locally,
    layout_iops,
    layouts,
)
from personas.instance.negotiation import with_replicas
from personas.instance.proposals import (
    Infeasibility,
    Proposal,
    Relaxation,
    SolveRequest,
    SolveResult,
)
from personas.instance.requirements import (
    Config,
    Requirement,
    base_type,
    compile_requirements,
    hourly_cost,
    zones_of,
)

MICRO = 1_000_000
BALANCED_MARGIN = 1.5


@dataclass
class _Model:
    """A built model over candidate types and layouts."""

    model: cp_model.CpModel
    types: list[InstanceType]
    lays: list[StorageLayout]
    x: list[cp_model.IntVar]
    y: list[cp_model.IntVar]
    dedicated: cp_model.IntVar
    public: cp_model.IntVar
    cost: cp_model.LinearExprT
    lits: dict[str, cp_model.IntVar] = field(default_factory=dict)


def _sum(vs: Sequence[cp_model.IntVar]) -> cp_model.LinearExprT:
    return cp_model.LinearExpr.sum(list(vs))


class ProposalSolver:
    """Builds and solves proposal models for one catalog."""

    def __init__(self, catalog: Catalog) -> None:
        """Bind the solver to ``catalog``."""
        self.catalog = catalog

    # ------------------------------------------------------------------ building
    def _build(
        self, reqs: list[Requirement], replicas: int, all_lays: list[StorageLayout], assume: bool
    ) -> _Model:
        """The model; with ``assume`` every requirement has an assumption literal."""
        types, lays = list(self.catalog.types), list(all_lays)
        if not assume:
            for r in reqs:
                if (tt := type_test(r)) is not None:
                    types = [t for t in types if tt(t)]
                if (lt := layout_test(r)) is not None:
                    lays = [s for s in lays if lt(s)]
            types = undominated(types)
        else:
            types = representatives(types, reqs)
        m = cp_model.CpModel()
        x = [m.new_bool_var(f"t{i}") for i in range(len(types))]
        y = [m.new_bool_var(f"s{j}") for j in range(len(lays))]
        ded, pub = m.new_bool_var("dedicated"), m.new_bool_var("public")
        m.add_exactly_one(x)
        m.add_exactly_one(y)
        for j, lay in enumerate(lays):
            if lay.local:
                fit = [x[i] for i, t in enumerate(types) if fits_locally(t, lay)]
                m.add(_sum(fit) >= 1).only_enforce_if(y[j])
        prices = [round(t.price_hourly * MICRO) for t in types]
        monthly = [round(s.monthly / HOURS_PER_MONTH * MICRO) for s in lays]
        storage = cp_model.LinearExpr.weighted_sum(y, monthly)
        factor = self.catalog.dedicated_price_factor
        forced = forced_tenancy(reqs)
        if not assume and forced is not None:
            # tenancy is fixed by a requirement: price the types at that tenancy directly
            m.add(ded == int(forced))
            if forced:
                prices = [round(p * factor) for p in prices]
                for i, t in enumerate(types):
                    if not t.dedicated_available:
                        m.add(x[i] == 0)
            type_cost = cp_model.LinearExpr.weighted_sum(x, prices)
            cost = replicas * (type_cost + storage)
        else:
            no_ded = [x[i] for i, t in enumerate(types) if not t.dedicated_available]
            m.add(_sum(no_ded) == 0).only_enforce_if(ded)
            type_cost = cp_model.LinearExpr.weighted_sum(x, prices)
            extra = [round(p * factor) - p for p in prices]
            ded_extra = m.new_int_var(0, max(extra, default=0), "ded")
            m.add(ded_extra >= cp_model.LinearExpr.weighted_sum(x, extra)).only_enforce_if(ded)
            if not assume:
                m.add(ded == 0)
            cost = replicas * (type_cost + ded_extra + storage)
        b = _Model(m, types, lays, x, y, ded, pub, cost)
        for r in reqs:
            lit = m.new_bool_var(f"a:{r.name}")
            b.lits[r.name] = lit
            self._enforce(b, r, lit, assume)
            if not assume:
                m.add(lit == 1)
        return b

    def _enforce(self, b: _Model, r: Requirement, lit: cp_model.IntVar, assume: bool) -> None:
        m, v, kind = b.model, r.value, r.kind
        tt, lt = type_test(r), layout_test(r)
        if assume and tt is not None:
            m.add(_sum([b.x[i] for i, t in enumerate(b.types) if not tt(t)]) == 0).only_enforce_if(
                lit
            )
        if assume and lt is not None:
            m.add(_sum([b.y[j] for j, s in enumerate(b.lays) if not lt(s)]) == 0).only_enforce_if(
                lit
            )
        if kind == "min_iops":
            for j, lay in enumerate(b.lays):
                if lay.local:
                    bad = [
                        b.x[i]
                        for i, t in enumerate(b.types)
                        if fits_locally(t, lay) and layout_iops(t, lay) + 1e-6 < float(v)
                    ]
                    m.add(_sum(bad) == 0).only_enforce_if([lit, b.y[j]])
        elif kind in ("max_hourly", "max_monthly"):
            hourly = float(v) if kind == "max_hourly" else float(v) / HOURS_PER_MONTH
            m.add(b.cost <= math.floor(hourly * MICRO + 1e-6)).only_enforce_if(lit)
        elif kind in ("tenancy", "dedicated_tenancy"):
            dedicated = kind == "dedicated_tenancy" or v == "dedicated"
            m.add(b.dedicated == int(dedicated)).only_enforce_if(lit)
        elif kind in ("public_ingress", "restricted_ingress"):
            m.add(b.public == int(kind == "public_ingress")).only_enforce_if(lit)
        elif kind == "capability":
            if v not in self.catalog.capabilities:
                m.add_bool_or([lit.Not()])  # the provider does not offer it
        elif tt is None and lt is None:
            raise ValueError(f"unknown requirement kind {kind!r}")

    # ------------------------------------------------------------------ solving
    @staticmethod
    def _run(b: _Model, active: list[str] | None, req: SolveRequest) -> cp_model.CpSolver | None:
        b.model.clear_assumptions()
        if active is not None:
            b.model.add_assumptions([b.lits[n] for n in active])
        solver = cp_model.CpSolver()
        solver.parameters.random_seed = req.seed
        solver.parameters.num_workers = 1
        solver.parameters.max_time_in_seconds = req.time_limit_s
        solver.parameters.max_deterministic_time = req.time_limit_s
        status = solver.solve(b.model)
        if status == cp_model.INFEASIBLE:
            return None
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise TimeoutError(f"CP-SAT gave no answer within {req.time_limit_s:g}s")
        return solver

    def solve(self, req: SolveRequest) -> SolveResult:
        """Up to ``k`` distinct proposals: cheapest, balanced, best price-performance."""
        started = time.perf_counter()
        zones = zones_of(req.constraints)
        if zones is not None and zones > req.persona.lifecycle.replicas:
            req = req.model_copy(update={"persona": with_replicas(req.persona, zones)})
        reqs = [
            r
            for r in compile_requirements(req.persona, req.constraints, req.pins, req.headroom)
            if r.name not in req.dropped
        ]
        names = tuple(r.name for r in reqs)
        replicas = req.persona.lifecycle.replicas
        lays = layouts(self.catalog, req.persona.performance.data_gb)
        b = self._build(reqs, replicas, lays, assume=False)
        proposals: list[Proposal] = []
        if req.closest_hourly is not None and b.x and b.y:
            # a counter-offer: within the price (a requirement), the cost nearest the proposal's
            target = round(req.closest_hourly * MICRO)
            gap = b.model.new_int_var(0, 10**15, "gap")
            b.model.add(gap >= b.cost - target)
            b.model.add(gap >= target - b.cost)
            b.model.minimize(gap)
            solver = self._run(b, None, req)
            if solver is not None:
                proposals.append(self._proposal(b, solver, reqs, "counter_offer", req, None, 1))
                self._exclude(b, proposals[0])
        b.model.minimize(b.cost)
        solver = self._run(b, None, req) if b.x and b.y else None
        if solver is None and not proposals:
            return SolveResult(
                infeasibility=self._explain(reqs, replicas, lays, req),
                requirements=names,
                solve_ms=(time.perf_counter() - started) * 1000,
            )
        if solver is None:
            return SolveResult(
                proposals=tuple(proposals),
                requirements=names,
                solve_ms=(time.perf_counter() - started) * 1000,
            )
        n = len(proposals)
        proposals.append(self._proposal(b, solver, reqs, "cheapest", req, None, n + 1))
        cheapest = proposals[-1]
        for label in ("balanced", "price_performance", "balanced", "price_performance")[
            : req.k - len(proposals)
        ]:
            self._exclude(b, proposals[-1])
            found = self._next(b, reqs, label, req, cheapest, len(proposals) + 1)
            if found is None:
                break
            proposals.append(found)
        return SolveResult(
            proposals=tuple(proposals),
            requirements=names,
            solve_ms=(time.perf_counter() - started) * 1000,
        )

    @staticmethod
    def _exclude(b: _Model, p: Proposal) -> None:
        same = [
            b.x[i] for i, t in enumerate(b.types) if base_type(t.name) == base_type(p.instance_type)
        ]
        b.model.add(_sum(same) == 0)

    def _next(
        self,
        b: _Model,
        reqs: list[Requirement],
        label: str,
        req: SolveRequest,
        cheapest: Proposal,
        number: int,
    ) -> Proposal | None:
        solver: cp_model.CpSolver | None
        if label == "balanced":
            needs = {r.kind: float(r.value) for r in reqs if r.name.startswith("capacity.")}
            short = [
                b.x[i]
                for i, t in enumerate(b.types)
                if t.vcpu + 1e-6 < needs.get("min_vcpu", 0.0) * BALANCED_MARGIN
                or t.memory_gib + 1e-6 < needs.get("min_memory_gib", 0.0) * BALANCED_MARGIN
            ]
            margin = b.model.new_bool_var("margin")
            b.model.add(_sum(short) == 0).only_enforce_if(margin)
            b.model.minimize(b.cost)
            b.lits["margin"] = margin
            solver = self._run(b, ["margin"], req) or self._run(b, None, req)
            del b.lits["margin"]
            b.model.add(margin == 0)
        else:
            score = [round(t.perf_score * t.vcpu / t.price_hourly * 100) for t in b.types]
            best = cp_model.LinearExpr.weighted_sum(b.x, score)
            b.model.maximize(best)
            solver = self._run(b, None, req)
            if solver is not None:
                top = round(solver.objective_value)
                b.model.add(100 * best >= 95 * top)
                b.model.minimize(b.cost)
                solver = self._run(b, None, req)
        if solver is None:
            return None
        return self._proposal(b, solver, reqs, label, req, cheapest, number)

    def _proposal(
        self,
        b: _Model,
        s: cp_model.CpSolver,
        reqs: list[Requirement],
        label: str,
        req: SolveRequest,
        cheapest: Proposal | None,
        number: int,
    ) -> Proposal:
        t = next(b.types[i] for i, v in enumerate(b.x) if s.boolean_value(v))
        lay = next(b.lays[j] for j, v in enumerate(b.y) if s.boolean_value(v))
        c = Config(
            type=t,
            layout=lay,
            dedicated=s.boolean_value(b.dedicated),
            public_ingress=s.boolean_value(b.public),
            replicas=req.persona.lifecycle.replicas,
        )
        hourly = hourly_cost(c, self.catalog)
        needs = {r.kind: float(r.value) for r in reqs if r.name.startswith("capacity.")}
        have = {
            "min_vcpu": t.vcpu,
            "min_memory_gib": t.memory_gib,
            "min_network_gbps": t.network_gbps,
            "min_iops": layout_iops(t, lay),
        }
        headroom = {
            k.removeprefix("min_"): round((have[k] / needs[k] - 1) * 100, 1)
            if needs.get(k)
            else 0.0
            for k in have
        }
        return Proposal(
            proposal_id=f"r{req.round}-p{number}",
            label=label,
            instance_type=t.name,
            family=t.family,
            region=t.region,
            vcpu=t.vcpu,
            memory_gib=t.memory_gib,
            network_gbps=t.network_gbps,
            storage=lay.option,
            raid=lay.raid,
            storage_gb=lay.volume_gb * lay.volumes,
            iops=layout_iops(t, lay),
            tenancy="dedicated" if c.dedicated else "shared",
            public_ingress=c.public_ingress,
            replicas=c.replicas,
            hourly=round(hourly, 4),
            monthly=round(hourly * HOURS_PER_MONTH, 2),
            zones=zones_of(req.constraints),
            controls=tuple(
                sorted(
                    {
                        f"{r.value} ({r.reason.split(':', 1)[0]})"
                        for r in reqs
                        if r.kind == "capability"
                    }
                )
            ),
            headroom_pct=headroom,
            trade_off=trade_off(label, c, hourly, headroom, cheapest),
        )

    # ------------------------------------------------------------------ explaining
    def _explain(
        self,
        reqs: list[Requirement],
        replicas: int,
        lays: list[StorageLayout],
        req: SolveRequest,
    ) -> Infeasibility:
        b = self._build(reqs, replicas, lays, assume=True)
        names = [r.name for r in reqs]
        b.model.clear_assumptions()
        b.model.add_assumptions([b.lits[n] for n in names])
        solver = cp_model.CpSolver()
        solver.parameters.random_seed = req.seed
        solver.parameters.num_workers = 1
        solver.parameters.max_deterministic_time = req.time_limit_s
        if solver.solve(b.model) != cp_model.INFEASIBLE:
            raise TimeoutError(f"CP-SAT could not prove infeasibility in {req.time_limit_s:g}s")
        index = {b.lits[n].index: n for n in names}
        found = {index[i] for i in solver.sufficient_assumptions_for_infeasibility() if i in index}
        minimal = [n for n in names if n in found] or list(names)
        for name in list(minimal):
            trial = [n for n in minimal if n != name]
            if self._run(b, trial, req) is None:
                minimal = trial
        by_name = {r.name: r for r in reqs}
        relaxations = []
        b.model.minimize(b.cost)
        for name in minimal:
            s = self._run(b, [n for n in names if n != name], req)
            price = round(s.objective_value / MICRO, 4) if s is not None else None
            note = (
                f"without {name} the cheapest configuration costs ${price:.4f}/h"
                if price is not None
                else f"relaxing {name} alone is not enough"
            )
            relaxations.append(
                Relaxation(
                    requirement=name, reason=by_name[name].reason, cheapest_hourly=price, note=note
                )
            )
        listed = ", ".join(f"{n} ({by_name[n].reason}: {by_name[n].value})" for n in minimal)
        return Infeasibility(
            conflict=tuple(minimal),
            relaxations=tuple(relaxations),
            message=f"no configuration satisfies together: {listed}",
        )
