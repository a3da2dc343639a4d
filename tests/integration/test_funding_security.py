"""Keys, the audit chain, rules documents, ads and the payment processor on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from activities.funding.admins import AdminStore, NotAuthorized
from activities.funding.ads import PLATFORM_ADS, AdService
from activities.funding.audit_log import AuditLog
from activities.funding.db import Database, FundingError
from activities.funding.keys import KeyRefused, KeyStore
from activities.funding.ledger import InsufficientFunds, persona_balance
from activities.funding.performance import PerformanceStore
from activities.funding.processor import LedgerBackedProcessor, PaymentDeclined
from activities.funding.service import Funding
from activities.store import Store
from personas.funding.ads import Ad, OptOutPolicy
from personas.funding.metrics import PerformanceOutcome
from personas.funding.rules import DEFAULT_RULES, RulesError

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def db(store: Store) -> Iterator[Database]:
    """The funding database on the migrated store."""
    d = Database(store.url)
    yield d
    d.dispose()


def test_keys_are_random_hashed_and_shown_once(db: Database) -> None:
    keys = KeyStore(db)
    a = keys.issue("p1", now=T0)
    b = keys.issue("p1", now=T0)
    assert a.secret != b.secret
    assert len(a.secret) > 40
    assert keys.verify(a.secret, T0) == "p1"
    with db.tx() as s:
        stored = " ".join(s.execute(text("SELECT key_hash FROM api_keys")).scalars())
    assert a.secret not in stored
    assert a.secret.split("_", 2)[2] not in stored  # the random part, which may hold "_"


def test_rotation_overlap_and_immediate_revocation(db: Database) -> None:
    keys = KeyStore(db)
    old = keys.issue("p1", now=T0)
    new = keys.rotate("p1", timedelta(hours=1), now=T0, rotation_id="r1")
    assert keys.rotate("p1", timedelta(hours=1), now=T0, rotation_id="r1").secret == ""
    assert len(keys.keys("p1")) == 2
    assert keys.verify(old.secret, T0 + timedelta(minutes=59)) == "p1"  # overlap: both work
    assert keys.verify(new.secret, T0 + timedelta(minutes=59)) == "p1"
    with pytest.raises(KeyRefused, match="expired"):
        keys.verify(old.secret, T0 + timedelta(hours=1))
    assert keys.verify(new.secret, T0 + timedelta(days=30)) == "p1"
    keys.revoke(new.key_id, now=T0)
    with pytest.raises(KeyRefused, match="revoked"):
        keys.verify(new.secret, T0)
    with pytest.raises(KeyRefused, match="malformed"):
        keys.verify("guess", T0)
    with pytest.raises(KeyRefused, match="unknown API key"):
        keys.verify(new.secret + "x", T0)
    with pytest.raises(KeyRefused, match="unknown key"):
        keys.revoke("nope")
    kinds = [e.kind for e in AuditLog(db).entries(persona_id="p1")]
    assert kinds == ["key.issued", "key.issued", "key.rotated", "key.revoked"]


def test_audit_chain_detects_edits_and_removals(db: Database) -> None:
    log = AuditLog(db)
    for i in range(4):
        log.append("persona.activity", "tester", {"i": i}, persona_id="p1", entity_id="e1")
    log.append("persona.activity", "tester", {"i": 9}, persona_id="p2", entity_id="e2")
    assert log.verify() == (True, "5 entries in 2 chain(s), intact")
    assert len(log.entries(persona_id="p1")) == 4
    assert len(log.entries(entity_id="e2")) == 1
    assert log.entries(since=datetime.now(UTC) + timedelta(hours=1)) == []
    with db.tx() as s:
        s.execute(
            text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2 AND persona_id = 'p1'")
        )
    assert log.verify() == (False, "persona:p1: entry 2: content does not match its hash")
    with db.tx() as s:
        s.execute(text("UPDATE audit_log SET actor = 'tester' WHERE seq = 2"))
        s.execute(text("DELETE FROM audit_log WHERE persona_id = 'p2'"))
    assert log.verify() == (
        False,
        "persona:p2: the head does not match the last entry (entries removed)",
    )


def test_rules_documents_are_versioned_audited_and_validated(db: Database) -> None:
    perf = PerformanceStore(db)
    root = AdminStore(db).create("root", None)
    assert perf.rules() == DEFAULT_RULES
    doc = DEFAULT_RULES.model_dump(mode="json")
    doc["rules"][0]["adjust_percent"] = 15
    stored = perf.set_rules(doc, root)
    assert stored.version == 1
    assert perf.set_rules(doc, root).version == 2
    assert perf.rules().rules[0].adjust_percent == 15
    with pytest.raises(RulesError, match="conditions"):
        perf.set_rules({"rules": [{"name": "x", "conditions": [], "adjust_percent": "lots"}]}, root)
    assert perf.rules().rules[0].adjust_percent == 15
    changes = [e for e in AuditLog(db).entries() if e.kind == "rules.changed"]
    assert [(e.actor, e.data["version"]) for e in changes] == [("admin:root", 1), ("admin:root", 2)]


def test_only_a_live_administrator_may_change_the_rules(db: Database) -> None:
    perf, admins = PerformanceStore(db), AdminStore(db)
    doc = DEFAULT_RULES.model_dump(mode="json")
    with pytest.raises(NotAuthorized, match="secret is required"):
        perf.set_rules(doc, None)
    with pytest.raises(NotAuthorized, match="unknown administrator secret"):
        perf.set_rules(doc, "adm_forged")
    with pytest.raises(NotAuthorized, match="malformed"):
        perf.set_rules(doc, "pk_0_a_persona_key")
    root = admins.create("root", None)  # the first administrator bootstraps
    with pytest.raises(NotAuthorized, match="secret is required"):
        admins.create("eve", None)  # every later one needs an administrator
    with pytest.raises(FundingError, match="invalid administrator name"):
        admins.create("Robert'); DROP TABLE", root)
    ops = admins.create("ops", root)
    with pytest.raises(FundingError, match="already exists"):
        admins.create("ops", root)
    assert perf.set_rules(doc, ops).version == 1
    admins.revoke("ops", root)
    with pytest.raises(NotAuthorized, match="administrator ops was revoked"):
        perf.set_rules(doc, ops)
    assert perf.rules().version == 1  # nothing stored by the refused attempts
    events = [(e.kind, e.actor, e.data) for e in AuditLog(db).entries() if e.stream == "system"]
    assert events == [
        ("admin.created", "bootstrap", {"admin_id": "root"}),
        ("admin.created", "root", {"admin_id": "ops"}),
        ("rules.changed", "admin:ops", events[2][2]),
        ("admin.revoked", "root", {"admin_id": "ops"}),
    ]
    with db.tx() as s:
        stored = " ".join(s.execute(text("SELECT key_hash FROM funding_admins")).scalars())
    assert root not in stored
    assert ops not in stored


def test_keyed_audit_appends_add_one_entry_however_often_retried(db: Database) -> None:
    log = AuditLog(db)
    first = log.append("persona.respond", "p1", {"item_id": "i1"}, persona_id="p1", key="k1")
    again = log.append("persona.respond", "p1", {"item_id": "i1"}, persona_id="p1", key="k1")
    other = log.append("persona.respond", "p1", {"item_id": "i2"}, persona_id="p1", key="k2")
    assert again == first
    assert (first.seq, other.seq) == (1, 2)
    assert log.verify() == (True, "2 entries in 1 chain(s), intact")


def test_metrics_per_period(db: Database) -> None:
    perf = PerformanceStore(db)
    perf.record("o1", "p1", PerformanceOutcome(resolved=True, accurate=True), T0)
    perf.record("o1", "p1", PerformanceOutcome(resolved=False, accurate=False), T0)  # once
    perf.record("o2", "p1", PerformanceOutcome(resolved=False), T0 + timedelta(days=2))
    assert perf.metrics("p1", T0, T0 + timedelta(days=1)) == {
        "outcomes": 1.0,
        "resolution_rate": 1.0,
        "accuracy": 1.0,
    }
    assert perf.metrics("p1")["resolution_rate"] == 0.5


def test_ads_credit_the_share_and_honour_opt_out_from_the_next_impression(
    db: Database,
) -> None:
    funding = Funding(db)
    funding.setup_persona("e1", "p1")
    ads = AdService(db, funding.ledger, share_percent=30, opt_out_policy=OptOutPolicy.NONE)
    ads.add_ad(Ad(ad_id="ide", keywords=("python",), revenue_per_impression=1_000))
    ads.add_ad(Ad(ad_id="cloud", keywords=("hosting",), revenue_per_impression=5_000))
    first = ads.impression("i1", "p1", "u1", "python code review", "review PR 7")
    assert (first.ad_id, first.targeted, first.credited) == ("ide", True, 300)
    assert ads.impression("i1", "p1", "u1", "python", "x") == first  # recorded once
    ads.set_opt_out("u1", True)
    second = ads.impression("i2", "p1", "u1", "python code review", "review PR 8")
    assert second.ad_id is None
    assert second.revenue == 0
    assert ads.impression("i3", "p1", "u2", "python", "x").ad_id == "ide"  # others unaffected
    assert funding.ledger.balance(persona_balance("p1")) == 600
    assert funding.ledger.balance(PLATFORM_ADS) == 1_400
    assert funding.ledger.total() == 0
    untargeted = AdService(db, funding.ledger, 30, OptOutPolicy.UNTARGETED)
    shown = untargeted.impression("i4", "p1", "u1", "python", "x")
    assert (shown.ad_id, shown.targeted) == ("cloud", False)


def test_ledger_backed_processor(db: Database) -> None:
    funding = Funding(db)
    funding.setup_persona("e1", "p1")
    source = funding.add_source("e1", "card", 1)
    processor = LedgerBackedProcessor(funding.ledger)
    processor.link("visa-1", "e1")
    processor.load("load-1", "visa-1", 10_000)
    charge = processor.charge("c1", "visa-1", 4_000, source)
    assert processor.charge("c1", "visa-1", 4_000, source) == charge
    assert funding.ledger.balance(source) == 4_000
    with pytest.raises(PaymentDeclined, match="visa-1 declined"):
        processor.charge("c2", "visa-1", 7_000, source)
    with pytest.raises(PaymentDeclined, match="unknown account"):
        processor.charge("c3", "amex-9", 1, source)
    processor.refund("r1", charge, source)
    assert funding.ledger.balance(source) == 0
    with pytest.raises(InsufficientFunds):
        processor.refund("r2", charge, source)
    assert funding.ledger.total() == 0
