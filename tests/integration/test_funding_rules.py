"""Rules documents that do not mean one thing are never stored, on SQLite and PostgreSQL;
the largest permitted change is the deployment's, applied to stored documents too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert

from activities.funding.admins import AdminStore
from activities.funding.audit_log import AuditLog
from activities.funding.db import Database
from activities.funding.performance import PerformanceStore
from activities.funding.settings import get_funding_settings
from activities.funding.tables import RulesVersion
from activities.store import Store
from activities.store.db import utc
from personas.funding.rules import DEFAULT_RULES, RulesError, apply_rules


@pytest.fixture
def db(store: Store) -> Iterator[Database]:
    """The funding database on the migrated store."""
    d = Database(store.url)
    yield d
    d.dispose()


def _c(metric: str, op: str, threshold: float) -> dict[str, Any]:
    return {"metric": metric, "op": op, "threshold": threshold}


def _rule(name: str, adjust: float, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "conditions": list(conditions), "adjust_percent": adjust}


REFUSED: dict[str, dict[str, Any]] = {
    "contradiction": {
        "rules": [
            _rule("up", 10, _c("accuracy", ">", 0.9)),
            _rule("down", -20, _c("accuracy", ">", 0.9)),
        ]
    },
    "overlap": {
        "rules": [
            _rule("up", 10, _c("accuracy", ">", 0.9)),
            _rule("down", -20, _c("resolution_rate", "<", 0.5)),
        ]
    },
    "misspelled": {"rules": [_rule("up", 10, _c("acuracy", ">", 0.9))]},
    "out of range": {"rules": [_rule("up", 10, _c("accuracy", ">", 7.5))]},
    "unsatisfiable": {
        "rules": [_rule("up", 10, _c("accuracy", ">", 0.9), _c("accuracy", "<", 0.5))]
    },
    "self-raised cap": {
        "rules": [_rule("boost", 1000, _c("accuracy", ">", 0.9))],
        "caps": {"max_change_percent": 1000},
    },
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_documents_that_do_not_mean_one_thing_are_not_stored(db: Database, case: str) -> None:
    perf = PerformanceStore(db)
    root = AdminStore(db).create("root", None)
    with pytest.raises(RulesError, match=r"invalid rules document: rules? "):
        perf.set_rules(REFUSED[case], root)
    assert perf.rules() == DEFAULT_RULES
    assert [e for e in AuditLog(db).entries() if e.kind == "rules.changed"] == []


def test_a_stated_precedence_is_stored_and_shown_back(db: Database) -> None:
    perf = PerformanceStore(db)
    root = AdminStore(db).create("root", None)
    doc = {**REFUSED["overlap"], "precedence": ["down", "up"]}
    stored = perf.set_rules(doc, root)
    assert stored.version == 1
    assert perf.rules().precedence == ("down", "up")
    both = {"outcomes": 4.0, "accuracy": 0.95, "resolution_rate": 0.25}
    assert apply_rules(perf.rules_in_force(), both, 1_000).rule == "down"


def test_the_largest_change_is_a_deployment_setting(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert get_funding_settings().max_change_percent == 50  # the default: the old default cap
    monkeypatch.setenv("PERSONAS_FUNDING_MAX_CHANGE_PERCENT", "15")
    perf = PerformanceStore(db)
    assert perf.max_change_percent == 15
    root = AdminStore(db).create("root", None)
    with pytest.raises(RulesError, match=r"rule penalise: adjustment -20% exceeds the cap of 15%"):
        perf.set_rules(DEFAULT_RULES.model_dump(mode="json"), root)
    assert perf.rules_in_force().caps.max_change_percent == 15  # the defaults, capped
    bad = apply_rules(perf.rules_in_force(), {"outcomes": 2.0, "resolution_rate": 0.0}, 1_000)
    assert (bad.percent, bad.after) == (-15, 850)


def test_a_document_stored_before_the_checks_is_applied_within_the_cap(db: Database) -> None:
    raised = REFUSED["self-raised cap"]
    with db.tx() as s:
        s.execute(
            insert(RulesVersion).values(
                version=1, document=raised, created_by="admin:old", created_at=utc(None)
            )
        )
    perf = PerformanceStore(db, max_change_percent=50)
    assert perf.rules().caps.max_change_percent == 1000  # shown as stored
    applied = apply_rules(perf.rules_in_force(), {"outcomes": 1.0, "accuracy": 1.0}, 1_000)
    assert (applied.percent, applied.after) == (50, 1_500)
