"""Temporal activities of the funding cycle, idempotent under retry.

``faults`` is a hook the tests use to inject failures at each step, including after the
posting has committed and before the activity returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.activity_set import ActivitySet
from activities.funding.ads import AdService
from activities.funding.audit_log import AuditLog, calling_activity_key
from activities.funding.contracts import (
    FUNDING_AD_IMPRESSION,
    FUNDING_AUDIT,
    FUNDING_LIFE,
    FUNDING_METRICS,
    FUNDING_RELEASE,
    FUNDING_RELEASE_EXPIRED,
    FUNDING_RESERVE,
    FUNDING_ROTATE_KEY,
    FUNDING_RULES,
    FUNDING_SETTLE,
    FUNDING_SETUP,
    FUNDING_STORAGE,
    FUNDING_TOP_UP,
    AuditRequest,
    HoldResult,
    ImpressionRequest,
    ImpressionResult,
    LifeControl,
    LifeControlResult,
    MetricsRequest,
    ReleaseRequest,
    ReserveRequest,
    RotateKeyRequest,
    RotateKeyResult,
    RulesResult,
    SettleRequest,
    SetupRequest,
    StorageRequest,
    TopUpOutcome,
    TopUpRequest,
)
from activities.funding.db import FundingError
from activities.funding.keys import IssuedKey, KeyStore
from activities.funding.metering import Usage
from activities.funding.performance import PerformanceStore
from activities.funding.service import Funding
from activities.store import Store, UnknownContent
from personas import messages
from personas.funding.ads import OptOutPolicy
from personas.funding.pricing import megabyte_days
from personas.ids import persona_workflow_id
from runtime.updates import execute_update_once

FaultHook = Callable[[str, str], None]
KeySink = Callable[[IssuedKey], None]


def _no_fault(step: str, key: str) -> None:
    return None


def _discard(key: IssuedKey) -> None:
    return None


def _ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class FundingActivities(ActivitySet):
    """The funding activities over one :class:`Funding` and a Temporal client."""

    def __init__(
        self,
        funding: Funding,
        client: Client,
        store: Store,
        *,
        key_sink: KeySink = _discard,
        faults: FaultHook = _no_fault,
        ad_share_percent: int = 30,
        opt_out_policy: OptOutPolicy = OptOutPolicy.UNTARGETED,
    ) -> None:
        """``key_sink`` receives rotated keys' secrets (shown once); ``faults`` is for tests;
        ``ad_share_percent`` of ad revenue is credited to the persona; opted-out users get
        what ``opt_out_policy`` says."""
        self.funding = funding
        self.store = store
        self.performance = PerformanceStore(funding.db)
        self.keys = KeyStore(funding.db)
        self.audit_log = AuditLog(funding.db)
        self.ads = AdService(funding.db, funding.ledger, ad_share_percent, opt_out_policy)
        self.client = client
        self.key_sink = key_sink
        self.faults = faults

    @activity.defn(name=FUNDING_SETUP)
    def setup(self, req: SetupRequest) -> None:
        """Open the persona's accounts (idempotent)."""
        self.faults("setup", req.persona_id)
        self.funding.setup_persona(req.entity_id, req.persona_id)

    @activity.defn(name=FUNDING_METRICS)
    def metrics(self, req: MetricsRequest) -> dict[str, float]:
        """Performance metrics of the period."""
        self.faults("metrics", req.persona_id)
        return self.performance.metrics(req.persona_id, _ms(req.since_ms), _ms(req.until_ms))

    @activity.defn(name=FUNDING_RULES)
    def rules(self) -> RulesResult:
        """The rules document in force, its cap the deployment's at most."""
        self.faults("rules", "")
        return RulesResult(rules=self.performance.rules_in_force())

    @activity.defn(name=FUNDING_TOP_UP)
    def top_up(self, req: TopUpRequest) -> TopUpOutcome:
        """Top up once per key; a refusal is non-retryable with its reason."""
        self.faults("top_up.before", req.key)
        try:
            result = self.funding.top_up(req.key, req.persona_id, req.policy, req.funding_limit)
        except FundingError as err:
            raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err
        self.faults("top_up.after", req.key)
        posted = result.posting
        drawn = sum(v for a, v in posted.legs if v > 0) if posted else 0
        return TopUpOutcome(
            drawn=drawn,
            shortfall=result.plan.shortfall,
            balance=result.balance,
            tx_id=posted.tx_id if posted else None,
        )

    @activity.defn(name=FUNDING_LIFE)
    async def life(self, req: LifeControl) -> LifeControlResult:
        """Pause/resume a persona's life, set its compute budget and metering (its updates)."""
        self.faults("life", req.persona_id)
        handle = self.client.get_workflow_handle(persona_workflow_id(req.persona_id))
        # One update id per update of this activity, the same on its retries: a retry that
        # finds an update applied gets the first outcome instead of applying it again.
        key = calling_activity_key()
        status = "ok"
        try:
            if req.event is not None:
                status = str(
                    await execute_update_once(
                        handle, messages.FIRE_TRIGGER, req.event, update_id=f"{key}:trigger"
                    )
                )
                await asyncio.to_thread(
                    self._audit_life_event,
                    req.persona_id,
                    req.event,
                    status,
                    key,
                )
            if req.compute_budget is not None:
                await execute_update_once(
                    handle,
                    messages.SET_COMPUTE_BUDGET,
                    req.compute_budget,
                    update_id=f"{key}:budget",
                )
            if req.metered is not None:
                await execute_update_once(
                    handle, messages.SET_METERING, req.metered, update_id=f"{key}:metering"
                )
        except WorkflowUpdateFailedError as err:
            return LifeControlResult(status=f"refused: {err.cause}")
        except RPCError as err:
            return LifeControlResult(status=f"absent: {err.message}")
        return LifeControlResult(status=status)

    def _audit_life_event(self, persona_id: str, event: str, status: str, key: str) -> None:
        self.audit_log.append(
            "life.event",
            "funding-cycle",
            {"event": event, "status": status},
            persona_id=persona_id,
            key=key,
        )

    @activity.defn(name=FUNDING_ROTATE_KEY)
    def rotate_key(self, req: RotateKeyRequest) -> RotateKeyResult:
        """Rotate the persona's key; the secret goes to the key sink only."""
        issued = self.keys.rotate(
            req.persona_id,
            timedelta(seconds=req.overlap_s),
            "schedule",
            rotation_id=req.rotation_id,
        )
        if issued.secret:
            self.key_sink(issued)
        return RotateKeyResult(key_id=issued.key_id)

    @activity.defn(name=FUNDING_RELEASE_EXPIRED)
    def release_expired(self, req: ReleaseRequest) -> int:
        """Release expired holds (their worker died), of one persona when given; how many."""
        self.faults("release_expired", req.persona_id or "")
        return self.funding.ledger.release_expired(persona_id=req.persona_id)

    @activity.defn(name=FUNDING_RESERVE)
    def reserve(self, req: ReserveRequest) -> HoldResult:
        """Reserve before work; non-retryable ``InsufficientFunds`` when the balance is short."""
        try:
            hold = self.funding.reserve(
                req.hold_id,
                req.persona_id,
                req.model,
                req.tokens_in,
                req.max_tokens_out,
                timedelta(seconds=req.ttl_s),
                max_compute_ms=req.max_compute_ms,
                max_tool_bytes=req.max_tool_bytes,
            )
        except FundingError as err:
            raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err
        return HoldResult.model_validate(hold.model_dump())

    @activity.defn(name=FUNDING_SETTLE)
    def settle(self, req: SettleRequest) -> HoldResult:
        """Settle after work at the metered price, recording the usage event once."""
        who = {"persona_id": req.persona_id, "entity_id": req.entity_id, "activity": req.activity}
        usage = [
            Usage(
                event_key=req.hold_id,
                kind="model_call",
                model=req.model,
                tokens_in=req.tokens_in,
                tokens_out=req.tokens_out,
                **who,
            )
        ]
        if req.compute_ms > 0:
            usage.append(
                Usage(
                    event_key=f"{req.hold_id}:compute",
                    kind="compute",
                    quantity=req.compute_ms,
                    **who,
                )
            )
        self.faults("settle.before", req.hold_id)
        hold, _ = self.funding.settle_usage(req.hold_id, *usage)
        self.faults("settle.after", req.hold_id)
        return HoldResult.model_validate(hold.model_dump())

    @activity.defn(name=FUNDING_STORAGE)
    def storage(self, req: StorageRequest) -> int:
        """Charge the period's storage of the persona's outputs once; returns its MB-days."""
        self.faults("storage.before", req.persona_id)
        mb_days = megabyte_days(self.store.output_size(req.persona_id), req.seconds)
        if mb_days > 0:
            self.funding.charge_storage(req.key, req.persona_id, mb_days)
        self.faults("storage.after", req.persona_id)
        return mb_days

    @activity.defn(name=FUNDING_RELEASE)
    def release(self, req: ReleaseRequest) -> HoldResult:
        """Release a hold whose work failed (a settled hold stays settled)."""
        if req.hold_id is None:
            raise ApplicationError("hold_id is required", non_retryable=True)
        hold = self.funding.ledger.release(req.hold_id)
        return HoldResult.model_validate(hold.model_dump())

    @activity.defn(name=FUNDING_AUDIT)
    def audit(self, req: AuditRequest) -> int:
        """Append an audit entry once (a retry adds nothing); returns its sequence number."""
        key = req.key
        if key is None and activity.in_activity():
            key = calling_activity_key()
        entry = self.audit_log.append(
            req.kind,
            req.actor,
            dict(req.data),
            persona_id=req.persona_id,
            entity_id=req.entity_id,
            key=key,
        )
        return entry.seq

    @activity.defn(name=FUNDING_AD_IMPRESSION)
    def ad_impression(self, req: ImpressionRequest) -> ImpressionResult:
        """Choose, record and credit one impression (once per key).

        The task is ``task`` and the text of ``content_ref`` (the item being answered).
        """
        task = req.task
        if req.content_ref is not None:
            with contextlib.suppress(UnknownContent):
                task = f"{task} {self.store.get_content(req.content_ref).text or ''}".strip()
        record = self.ads.impression(req.key, req.persona_id, req.user_id, req.specialization, task)
        return ImpressionResult(
            ad_id=record.ad_id, targeted=record.targeted, credited=record.credited
        )
