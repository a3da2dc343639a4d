"""Recorded outcomes for the funding rules, and the versioned rules document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select

from activities.funding import audit_log
from activities.funding.admins import AdminStore
from activities.funding.db import Database
from activities.funding.settings import get_funding_settings
from activities.funding.tables import PerformanceRecord, RulesVersion
from activities.store.db import insert_ignore, scope_filter, utc
from personas.funding.metrics import PerformanceOutcome, performance
from personas.funding.rules import DEFAULT_RULES, RulesError, RuleSet, parse_rules


class RulesVersionInfo(BaseModel):
    """Who stored a version of the rules, and when."""

    version: int
    created_by: str
    created_at: datetime


class PerformanceStore:
    """Outcomes per persona and the rules documents (newest applies; defaults before any)."""

    def __init__(self, db: Database, max_change_percent: float | None = None) -> None:
        """Use ``db``'s engine; ``max_change_percent`` is the largest permitted change (the
        deployment's ``PERSONAS_FUNDING_MAX_CHANGE_PERCENT`` when None)."""
        self.db = db
        if max_change_percent is None:
            max_change_percent = get_funding_settings().max_change_percent
        self.max_change_percent = max_change_percent

    def record(
        self,
        outcome_key: str,
        persona_id: str,
        outcome: PerformanceOutcome,
        now: datetime | None = None,
    ) -> bool:
        """Record an outcome once per key; True when new."""
        values = {
            "outcome_key": outcome_key,
            "persona_id": persona_id,
            "resolved": outcome.resolved,
            "accurate": outcome.accurate,
            "extra": outcome.extra,
            "recorded_at": utc(now),
        }
        with self.db.tx() as s:
            return insert_ignore(s, PerformanceRecord, values)

    def metrics(
        self, persona_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, float]:
        """Metrics of the persona's outcomes recorded in ``[since, until)``."""
        scope = scope_filter(
            at=PerformanceRecord.recorded_at,
            persona=PerformanceRecord.persona_id,
            persona_id=persona_id,
            since=since,
            until=until,
        )
        stmt = select(PerformanceRecord).where(*scope)
        with self.db.tx() as s:  # stored as validated when recorded: not validated again
            outcomes = [
                PerformanceOutcome.model_construct(
                    resolved=r.resolved, accurate=r.accurate, extra=dict(r.extra or {})
                )
                for r in s.scalars(stmt)
            ]
        return performance(outcomes)

    def rules(self) -> RuleSet:
        """The newest rules document as stored, or the defaults."""
        stmt = select(RulesVersion).order_by(RulesVersion.version.desc()).limit(1)
        with self.db.tx() as s:
            row = s.scalars(stmt).first()
            return DEFAULT_RULES if row is None else RuleSet.model_validate(row.document)

    def rule_versions(self, limit: int = 50) -> list[RulesVersionInfo]:
        """The ``limit`` newest stored versions of the rules, newest first."""
        stmt = select(RulesVersion).order_by(RulesVersion.version.desc()).limit(limit)
        with self.db.tx() as s:
            return [
                RulesVersionInfo(
                    version=row.version, created_by=row.created_by, created_at=row.created_at
                )
                for row in s.scalars(stmt)
            ]

    def rules_version(self, version: int) -> RuleSet:
        """A stored version of the rules; RulesError names an unknown one."""
        with self.db.tx() as s:
            row = s.get(RulesVersion, version)
            if row is None:
                raise RulesError(f"unknown rules version {version}")
            return RuleSet.model_validate(row.document)

    def rules_in_force(self) -> RuleSet:
        """The newest rules document with the cap in force explicit: its own, never above
        the largest permitted change (even for a document stored before that bound)."""
        return self.rules().capped(self.max_change_percent)

    def set_rules(self, document: str | dict[str, Any], admin_secret: str | None) -> RuleSet:
        """Store a new version as the administrator whose secret this is; audited.

        Refused with :class:`NotAuthorized` unless the secret is a live administrator's, and
        with :class:`RulesError` when the document does not validate or does not mean one
        thing within the largest permitted change (see :func:`parse_rules`).
        """
        actor = f"admin:{AdminStore(self.db).authenticate(admin_secret)}"
        rules = parse_rules(document, self.max_change_percent)
        with self.db.tx() as s:
            version = (s.execute(select(func.max(RulesVersion.version))).scalar() or 0) + 1
            stored = rules.model_copy(update={"version": version})
            body = stored.model_dump(mode="json")
            s.add(
                RulesVersion(version=version, document=body, created_by=actor, created_at=utc(None))
            )
            audit_log.append(s, "rules.changed", actor, {"version": version, "rules": body})
        return stored
