"""An instance negotiation: analysis, rounds of proposals and answers, then provisioning.

Rounds are bounded (``max_rounds`` <= 20), so the history stays small and no continue-as-new
is needed; each round waits on a durable timer for its deadline. Answers (one discriminated
:data:`Answer` type) arrive on one channel, ``messages.ANSWER``: by signal, fire-and-forget
(invalid ones are recorded, clipped and ignored, never failing a task), or by update (refused
by its one validator; the result is the next round). After agreement the instance is provisioned,
observed, possibly evolved, and released on request or at the end of its lifetime.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, assert_never

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.host import HostClaim
    from activities.instance import contracts
    from personas import messages
    from personas.errors import first_error
    from personas.instance import negotiation
    from personas.instance.catalog import Vocabulary
    from personas.instance.evolution import EvolutionProposal, Utilisation
    from personas.instance.instances import ProvisionedInstance
    from personas.instance.limits import INVALID_KEPT, clip
    from personas.instance.profiles import InstancePersona
    from personas.instance.proposals import Proposal, SolveRequest, SolveResult
    from personas.instance.requirements import unknown_names
    from personas.instance.views import NegotiationView
    from runtime import search_attributes as sa
    from workflows.common import claim_host, failure_cause, host_gone, now_ms, run_on_queue

SHORT = timedelta(seconds=30)
SOLVE_TIMEOUT = timedelta(minutes=2)
PROVISION_TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=20))


def _describe(answer: negotiation.Answer) -> str:
    match answer:
        case negotiation.Accept():
            return f"accept {answer.proposal_id}"
        case negotiation.Reject():
            return f"reject{' (final)' if answer.final else ''}: {answer.reason}"
        case negotiation.AddConstraint():
            return f"add constraint {answer.constraint.kind}={answer.constraint.value}"
        case negotiation.Modify():
            changes = answer.changes.model_dump(exclude_defaults=True)
            return f"modify {answer.proposal_id or 'terms'}: {changes}"
        case negotiation.CounterOffer():
            return (
                f"counter-offer: {answer.proposal_id} at most {answer.cap.label}={answer.cap.value}"
            )
        case _:
            assert_never(answer)


_PLACEHOLDER = negotiation.NegotiationInput(
    negotiation_id="invalid-input", entity_id="unknown", name="invalid", base="web_server"
)


@workflow.defn
class InstanceNegotiation:
    """One negotiation. Its id is ``negotiation-<negotiation_id>``."""

    @workflow.init
    def __init__(self, raw: Any) -> None:
        """Take the start input as sent: one that does not validate ends the negotiation as
        failed (saying why) instead of failing every workflow task."""
        self.refused: str | None = None
        try:
            input = negotiation.NegotiationInput.model_validate(raw)
        except ValidationError as err:
            self.refused = clip(f"invalid negotiation input: {first_error(err, 'input')}")
            input = _PLACEHOLDER
        self.input = input
        self.status = "analyzing"
        self.reason = ""
        self.rounds: list[negotiation.Round] = []
        self.terms = negotiation.Terms(constraints=input.constraints, pins=input.pins)
        self.persona: InstancePersona | None = None
        self.vocabulary: Vocabulary | None = None
        self.persona_id: str | None = None
        self.persona_version: int | None = None
        self.pending: list[tuple[negotiation.Answer, str]] = []
        self.invalid: list[str] = []
        self.invalid_count = 0
        self.agreed: Proposal | None = None
        self.instance: ProvisionedInstance | None = None
        self.host: HostClaim | None = None
        self.evolution: EvolutionProposal | None = None
        self.release_requested = False
        self.mape: float | None = None

    # ------------------------------------------------------------------ main line
    @workflow.run
    async def run(self, raw: Any) -> NegotiationView:
        """Negotiate to agreement, rejection or expiry; provision on agreement. ``raw`` is a
        :class:`NegotiationInput` (validated in ``__init__``)."""
        if self.refused is not None:
            self._end("failed", self.refused)
            return self.view()
        input = self.input
        self._publish()
        if await self._prepare():
            await self._negotiate()
        if self.agreed is not None and input.config.provision and self.persona_id:
            await self._provision()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    async def _prepare(self) -> bool:
        try:
            analyzed: contracts.AnalyzeResult = await run_on_queue(
                contracts.ANALYZE,
                contracts.AnalyzeRequest(
                    name=self.input.name,
                    base=self.input.base,
                    workload=self.input.workload,
                    text=self.input.text,
                    overrides=self.input.persona_overrides,
                ),
                contracts.AnalyzeResult,
                SHORT,
                RETRY,
            )
            self.persona, self.mape = analyzed.persona, analyzed.heldout_mape_pct
            self.vocabulary = analyzed.vocabulary
            unknown = self.vocabulary and unknown_names(
                self.terms.constraints, self.terms.pins, self.vocabulary
            )
            if unknown:
                self._end("failed", clip(f"refused: {unknown}", 600))
                return False
            saved: contracts.SavedPersona = await run_on_queue(
                contracts.SAVE_PERSONA,
                contracts.SavePersonaRequest(
                    persona_id=f"inst-{self.input.negotiation_id}",
                    entity_id=self.input.entity_id,
                    persona=analyzed.persona,
                    created_by=self.input.requester,
                    negotiation_id=self.input.negotiation_id,
                ),
                contracts.SavedPersona,
                SHORT,
                RETRY,
            )
        except ActivityError as err:
            self._end("failed", failure_cause(err))
            return False
        self.persona_id, self.persona_version = saved.persona_id, saved.version
        return True

    async def _negotiate(self) -> None:
        config = self.input.config
        assert self.persona is not None
        while self.status not in negotiation.FINAL:
            if len(self.rounds) >= config.max_rounds:
                self._end(
                    "rejected", f"round limit ({config.max_rounds}) reached without agreement"
                )
                return
            number = len(self.rounds) + 1
            self.status = "solving"
            self._publish()
            try:
                result: SolveResult = await run_on_queue(
                    contracts.SOLVE,
                    SolveRequest(
                        persona=negotiation.with_replicas(self.persona, self.terms.replicas),
                        constraints=self.terms.constraints,
                        pins=self.terms.pins,
                        dropped=self.terms.dropped,
                        k=config.k,
                        round=number,
                        headroom=config.headroom,
                        closest_hourly=self.terms.closest_hourly,
                        record_as=f"negotiation-{self.input.negotiation_id}-r{number}",
                    ),
                    SolveResult,
                    SOLVE_TIMEOUT,
                    RETRY,
                )
            except ActivityError as err:
                self._end("failed", failure_cause(err))
                return
            now = now_ms()
            current = negotiation.Round(
                number=number,
                proposals=result.proposals,
                infeasibility=result.infeasibility,
                details_ref=result.details_ref,
                started_ms=now,
                deadline_ms=now + int(config.round_timeout_s * 1000),
            )
            self.rounds.append(current)
            self.status = "awaiting_answer"
            self._publish()
            answer = await self._next_answer(current)
            if answer is not None:
                self._apply(current, *answer)

    async def _next_answer(
        self, current: negotiation.Round
    ) -> tuple[negotiation.Answer, str] | None:
        policy, config = self.input.policy, self.input.config
        if policy is not None:
            answer = negotiation.decide(policy, current, current.number >= config.max_rounds)
            try:
                assert self.persona is not None
                negotiation.check_answer(
                    answer, self.status, current, self.persona, self.terms, self.vocabulary
                )
            except negotiation.InvalidAnswer as err:
                reason = clip(f"policy: {err}", 500)
                answer = negotiation.Reject(round=current.number, reason=reason, final=True)
            return answer, "policy"
        try:
            await workflow.wait_condition(
                lambda: bool(self.pending),
                timeout=timedelta(seconds=config.round_timeout_s),
                timeout_summary=f"round {current.number} deadline",
            )
        except TimeoutError:
            current.answer, current.answered_by = "no answer before the deadline", "deadline"
            self._end("expired", f"round {current.number} expired without an answer")
            return None
        return self.pending.pop(0)

    def _apply(self, current: negotiation.Round, answer: negotiation.Answer, by: str) -> None:
        current.answer, current.answered_by = clip(_describe(answer)), by
        match answer:
            case negotiation.Accept():
                self.agreed = next(
                    p for p in current.proposals if p.proposal_id == answer.proposal_id
                )
                self._end("agreed", f"{by} accepted {answer.proposal_id}")
            case negotiation.Reject(final=True):
                self._end("rejected", clip(f"{by} rejected: {answer.reason}"))
            case (
                negotiation.Reject()
                | negotiation.Modify()
                | negotiation.AddConstraint()
                | negotiation.CounterOffer()
            ):
                self.terms = negotiation.next_terms(answer, current, self.terms)
                self.status = "solving"
            case _:
                assert_never(answer)

    # ------------------------------------------------------------------ provisioning
    async def _provision(self) -> None:
        assert self.agreed is not None
        assert self.persona_id is not None
        config, key = self.input.config, self.input.negotiation_id
        ref = contracts.InstanceRef(key=key, provider=self.input.provider)
        self._set("provisioning")
        self.host = await claim_host()
        try:
            self.instance = await run_on_queue(
                contracts.PROVISION,
                contracts.ProvisionRequest(
                    key=key,
                    provider=self.input.provider,
                    proposal=self.agreed,
                    persona_id=self.persona_id,
                ),
                ProvisionedInstance,
                PROVISION_TIMEOUT,
                RETRY,
                host=self.host,
            )
        except ActivityError as err:
            # compensation: make sure nothing is left half-provisioned
            await self._deprovision(ref)
            self.reason = f"provisioning failed, nothing left running: {failure_cause(err)}"
            self._set("provision_failed")
            return
        self._set("provisioned")
        try:
            await workflow.wait_condition(
                lambda: self.release_requested,
                timeout=timedelta(seconds=config.observe_after_s),
                timeout_summary="observe utilisation",
            )
        except TimeoutError:
            try:
                await self._observe(ref)
            except ActivityError as err:
                if not host_gone(err):
                    raise
                self.reason = f"host {self.host.host_id} lost: utilisation not observed"
        if not self.release_requested:
            try:
                await workflow.wait_condition(
                    lambda: self.release_requested,
                    timeout=timedelta(seconds=config.lifetime_s) if config.lifetime_s else None,
                    timeout_summary="lifetime",
                )
            except TimeoutError:
                self.reason = "lifetime over"
        await self._deprovision(ref)
        self._set("released")

    async def _deprovision(self, ref: contracts.InstanceRef) -> None:
        """Remove the instance (idempotent: nothing to remove is fine); on a lost host the
        containers stay there, and the reason says so."""
        assert self.host is not None
        try:
            await run_on_queue(
                contracts.DEPROVISION, ref, int, PROVISION_TIMEOUT, RETRY, host=self.host
            )
        except ActivityError as err:
            if not host_gone(err):
                raise
            self.reason = f"host {self.host.host_id} lost: its containers were left there"

    async def _observe(self, ref: contracts.InstanceRef) -> None:
        assert self.persona is not None
        assert self.persona_id is not None
        assert self.host is not None
        used: Utilisation = await run_on_queue(
            contracts.OBSERVE, ref, Utilisation, SHORT, RETRY, host=self.host
        )
        evolved: contracts.EvolveResult = await run_on_queue(
            contracts.EVOLVE,
            contracts.EvolveRequest(
                persona_id=self.persona_id,
                persona=self.persona,
                used=used,
                threshold=self.input.config.divergence,
                negotiation_id=self.input.negotiation_id,
            ),
            contracts.EvolveResult,
            SHORT,
            RETRY,
        )
        self.evolution = evolved.proposal
        self._publish()

    # ------------------------------------------------------------------ state out
    def _end(self, status: str, reason: str) -> None:
        self.reason = reason
        self._set(status)

    def _set(self, status: str) -> None:
        self.status = status
        self._publish()

    def _publish(self) -> None:
        attrs = [
            sa.PERSONA_KIND.value_set("instance"),
            sa.ENTITY_ID.value_set(self.input.entity_id),
            sa.PERSONA_STATUS.value_set(self.status),
        ]
        if self.persona_id is not None:
            attrs.append(sa.PERSONA_ID.value_set(self.persona_id))
        workflow.upsert_search_attributes(attrs)
        history = "; ".join(
            f"r{r.number}: {len(r.proposals)} proposals"
            + (f" from ${r.proposals[0].hourly:.4f}/h" if r.proposals else " (infeasible)")
            + (f" -> {r.answer}" if r.answer else "")
            for r in self.rounds[-5:]
        )
        extra = f" [{self.reason}]" if self.reason else ""
        evolved = f"; persona v{self.evolution.version} proposed" if self.evolution else ""
        workflow.set_current_details(
            f"{self.input.name}: {self.status}{extra}; round {len(self.rounds)}/"
            f"{self.input.config.max_rounds}; {history or 'no rounds yet'}{evolved}"
        )

    @workflow.query
    def view(self) -> NegotiationView:
        """The negotiation's status, rounds, terms and outcome."""
        return NegotiationView(
            negotiation_id=self.input.negotiation_id,
            status=self.status,
            reason=self.reason,
            persona_id=self.persona_id,
            persona_version=self.persona_version,
            round=len(self.rounds),
            max_rounds=self.input.config.max_rounds,
            rounds=list(self.rounds),
            terms=self.terms,
            agreed=self.agreed,
            instance=self.instance,
            evolution=self.evolution,
            invalid_answers=list(self.invalid),
            invalid_count=self.invalid_count,
            heldout_mape_pct=self.mape,
        )

    @workflow.query
    def proposals(self) -> list[Proposal]:
        """The current round's proposals."""
        return list(self.rounds[-1].proposals) if self.rounds else []

    # ------------------------------------------------------------------ answers in
    def _check(self, answer: negotiation.Answer) -> None:
        """Raise ApplicationError (type names the refusal) unless the answer fits now."""
        if self.persona is None:
            raise ApplicationError(f"no round yet (status {self.status})", type="NotAwaiting")
        current = self.rounds[-1] if self.rounds else None
        try:
            negotiation.check_answer(
                answer, self.status, current, self.persona, self.terms, self.vocabulary
            )
        except negotiation.InvalidAnswer as err:
            raise ApplicationError(clip(str(err), 600), type=err.kind) from None

    def _parse(self, raw: Any) -> negotiation.Answer:
        """The answer ``raw`` holds, checked against the current round, or ApplicationError."""
        try:
            answer = negotiation.parse_answer(raw)
        except negotiation.InvalidAnswer as err:
            raise ApplicationError(clip(str(err)), type=err.kind) from None
        self._check(answer)
        return answer

    def _take(self, answer: negotiation.Answer) -> None:
        self.pending.append((answer, "requester"))
        self.status = "answered"

    def _invalid(self, message: str) -> None:
        message = clip(message)
        workflow.logger.warning("ignored answer: %s", message)
        self.invalid = [*self.invalid, message][-INVALID_KEPT:]
        self.invalid_count += 1

    @workflow.signal(name=messages.ANSWER)
    def answer_signal(self, raw: Any) -> None:
        """Any answer (an :data:`Answer`), fire-and-forget: invalid ones are recorded and
        ignored (at most ``INVALID_KEPT`` kept, each clipped), never failing a task."""
        try:
            answer = self._parse(raw)
        except ApplicationError as err:
            self._invalid(f"{err.type}: {err.message}")
            return
        self._take(answer)

    @workflow.update(name=messages.ANSWER)
    async def answer(self, raw: Any) -> NegotiationView:
        """Any answer (an :data:`Answer`); returns the negotiation once it has moved on."""
        answer = self._parse(raw)
        number = answer.round
        self._take(answer)
        await workflow.wait_condition(
            lambda: (
                self.status not in ("answered", "solving")
                and (len(self.rounds) > number or self.status != "awaiting_answer")
            )
        )
        return self.view()

    @answer.validator
    def _validate_answer(self, raw: Any) -> None:
        self._parse(raw)

    @workflow.signal
    def release(self) -> None:
        """Release the provisioned instance (or, before provisioning, as soon as it is up)."""
        self.release_requested = True
